"""The prediction cache: one row per (candidate fingerprint, example id), in SQLite.

Model calls are the expensive part of an evaluation, so each batch's predictions are committed
as soon as they exist. A rerun, or a run resumed after a crash or SIGKILL, reads what is there
and computes only what is missing: at most the batch in flight is lost. SQLite in WAL mode makes
each commit atomic and durable, so a kill mid-write never leaves a torn row.

Schema changes are numbered migrations applied in order and recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from steerlab.evaluation.prediction import Prediction

__all__ = ["PredictionCache"]

MIGRATIONS = [
    # 1: predictions and the recipes they came from
    """
    CREATE TABLE predictions (
        candidate TEXT NOT NULL,
        example_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        PRIMARY KEY (candidate, example_id)
    );
    CREATE TABLE candidates (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        recipe TEXT NOT NULL
    );
    """,
]


class PredictionCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN")
            for statement in filter(str.strip, script.split(";")):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {number}")
            self._db.execute("COMMIT")

    def remember_candidate(self, fingerprint: str, name: str, recipe: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO candidates (fingerprint, name, recipe) VALUES (?, ?, ?)",
            (fingerprint, name, json.dumps(recipe, sort_keys=True)),
        )

    def get(self, fingerprint: str, example_ids: Iterable[str]) -> dict[str, Prediction]:
        wanted = list(example_ids)
        found: dict[str, Prediction] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT example_id, payload FROM predictions WHERE candidate = ? AND example_id IN ({marks})",  # noqa: E501
                (fingerprint, *chunk),
            )
            for example_id, payload in rows:
                found[example_id] = Prediction.from_dict(json.loads(payload))
        return found

    def put_many(self, fingerprint: str, predictions: Iterable[Prediction]) -> None:
        rows = [(fingerprint, p.example_id, json.dumps(p.as_dict(), sort_keys=True)) for p in predictions]
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO predictions (candidate, example_id, payload) VALUES (?, ?, ?)", rows
        )
        self._db.execute("COMMIT")

    def count(self, fingerprint: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM predictions WHERE candidate = ?", (fingerprint,)
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()
