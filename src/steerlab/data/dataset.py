"""A stored dataset version, as later steps (evaluation, tuning) read it from the workspace.

``steerlab data check`` writes a version once; everything after reads it through
:func:`load_dataset`, so evaluation and tuning see exactly the examples, splits and PII state
the data card describes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steerlab.data.example import Example
from steerlab.errors import DataError

__all__ = ["Dataset", "load_dataset"]


@dataclass(frozen=True)
class Dataset:
    version: str
    path: Path
    manifest: dict[str, Any]
    train: list[Example]
    dev: list[Example]
    test: list[Example]

    @property
    def unredacted_pii(self) -> dict[str, int]:
        """PII kinds (with counts) present in the stored text, i.e. found but not redacted."""
        pii = self.manifest.get("pii", {})
        return {} if pii.get("redacted") else dict(pii.get("found", {}))

    def check_trainable(self, *, allow_unredacted_pii: bool = False) -> None:
        """Refuse to train on personal data unless the user said so explicitly.

        An adapter memorises its training text, and weights can be shared far more widely than
        a dataset; so unredacted PII is a hard stop, not a warning.
        """
        found = self.unredacted_pii
        if found and not allow_unredacted_pii:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(found.items()))
            raise DataError(
                f"dataset {self.version} holds unredacted personal data ({kinds}); refusing to train on it",
                path=self.path / "card.md",
                hint="set cleaning.redact_pii: true and re-run `steerlab data check`, "
                "or pass --allow-unredacted-pii if you have the right to train on it",
            )


def _read_split(path: Path) -> list[Example]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        rows.append(
            Example(
                record["inputs"],
                record["output"],
                record.get("source", ""),
                record.get("line"),
                record.get("meta") or {},
            )
        )
    return rows


def load_dataset(workspace: Path, task_name: str, version: str | None = None) -> Dataset:
    """Read a dataset version (default: the task's current one) from ``workspace``."""
    datasets = Path(workspace) / "datasets"
    if version is None:
        pointer = datasets / f"{task_name}.current"
        if not pointer.is_file():
            raise DataError(
                f"no dataset for task {task_name!r} in {datasets}",
                hint="run `steerlab data check TASK_DIR` first",
            )
        version = pointer.read_text().strip()
    folder = datasets / version
    if not (folder / "manifest.json").is_file():
        raise DataError(f"dataset version {version} is missing or incomplete", path=folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    splits = {name: _read_split(folder / f"{name}.jsonl") for name in ("train", "dev", "test")}
    return Dataset(version, folder, manifest, **splits)
