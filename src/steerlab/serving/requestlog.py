"""The request log: one row per served request, in SQLite by default or PostgreSQL by URL.

Monitoring, drift detection and the feedback loop all read from here, so every row carries what
they need: task, release, route (primary, fallback, escalated), HTTP status, latency, tokens,
confidence, the output, and the inputs with PII already redacted (nothing unredacted is ever
written). The same SQL runs on both databases; only the parameter style differs.

Writes are queued and committed by a background thread in small batches, so a request never
waits on the disk and a slow database slows only the log, not the answers.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from steerlab.errors import ConfigError

__all__ = ["LogEntry", "RequestLog"]

COLUMNS = (
    "ts",
    "request_id",
    "task",
    "release",
    "route",
    "status",
    "key_name",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "confidence",
    "inputs",
    "output",
    "reason",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id {serial} PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    request_id TEXT NOT NULL,
    task TEXT NOT NULL,
    release TEXT,
    route TEXT,
    status INTEGER NOT NULL,
    key_name TEXT,
    latency_s DOUBLE PRECISION,
    input_tokens INTEGER,
    output_tokens INTEGER,
    confidence DOUBLE PRECISION,
    inputs TEXT,
    output TEXT,
    reason TEXT
)
"""


@dataclass(frozen=True)
class LogEntry:
    request_id: str
    task: str
    status: int
    release: str | None = None
    route: str | None = None
    key_name: str | None = None
    latency_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    confidence: float | None = None
    inputs: dict[str, Any] | None = None
    """Already redacted by the caller (the guardrails); stored as JSON."""
    output: Any = None
    reason: str | None = None
    ts: float = field(default_factory=time.time)

    def row(self) -> tuple[Any, ...]:
        values = asdict(self)
        values["inputs"] = None if self.inputs is None else json.dumps(self.inputs, ensure_ascii=False)
        values["output"] = None if self.output is None else json.dumps(self.output, ensure_ascii=False)
        return tuple(values[c] for c in COLUMNS)


class RequestLog:
    """Append rows from any thread; read them back for monitoring. ``url``: a SQLite file path,
    ``sqlite:///PATH``, or ``postgresql://…`` (needs the ``psycopg`` package)."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url)
        self.postgres = self.url.startswith(("postgresql://", "postgres://"))
        self._param = "%s" if self.postgres else "?"
        self._connect().close()  # create the table now: a bad URL fails at start-up, not later
        self._queue: queue.Queue[LogEntry | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="request-log", daemon=True)
        self._writer.start()

    @classmethod
    def for_workspace(cls, workspace: str | Path, url: str | None = None) -> RequestLog:
        if url:
            return cls(url)
        path = Path(workspace) / "serving" / "requests.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def _connect(self) -> Any:
        if self.postgres:
            try:
                import psycopg
            except ImportError as error:
                raise ConfigError("a PostgreSQL request log needs the psycopg package") from error
            try:
                connection = psycopg.connect(self.url, autocommit=False)
            except psycopg.Error as error:
                raise ConfigError(f"cannot connect to the request log database: {error}") from error
            with connection.cursor() as cursor:
                cursor.execute(SCHEMA.format(serial="BIGSERIAL"))
            connection.commit()
            return connection
        path = self.url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SCHEMA.format(serial="INTEGER"))
        connection.commit()
        return connection

    def write(self, entry: LogEntry) -> None:
        """Queue ``entry``; it is committed within a few milliseconds."""
        self._queue.put(entry)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is committed."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._writer.join(timeout=10)

    def _write_loop(self) -> None:
        connection = self._connect()
        insert = (
            f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join([self._param] * len(COLUMNS))})"
        )
        try:
            while True:
                first = self._queue.get()
                batch = [first]
                while len(batch) < 256:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                rows = [e.row() for e in batch if e is not None]
                if rows:
                    cursor = connection.cursor()
                    cursor.executemany(insert, rows)
                    connection.commit()
                for _ in batch:
                    self._queue.task_done()
                if any(e is None for e in batch):
                    return
        finally:
            connection.close()

    def recent(self, task: str | None = None, since: float | None = None, limit: int = 10_000) -> list[dict]:
        """Rows, newest last, optionally of one task and after ``since`` (a Unix time)."""
        clauses, params = [], []
        if task is not None:
            clauses.append(f"task = {self._param}")
            params.append(task)
        if since is not None:
            clauses.append(f"ts > {self._param}")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests {where} ORDER BY id DESC LIMIT {int(limit)}"
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            rows: Sequence[Sequence[Any]] = cursor.fetchall()
        finally:
            connection.close()
        out = []
        for row in reversed(rows):
            item = dict(zip(COLUMNS, row, strict=True))
            for key in ("inputs", "output"):
                if item[key] is not None:
                    item[key] = json.loads(item[key])
            out.append(item)
        return out
