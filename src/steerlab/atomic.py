"""Writes that are all-or-nothing, so a crash or kill never leaves a half-written artifact.

Files are written to a temporary sibling and renamed over the target (``os.replace`` is atomic
on POSIX and Windows within one filesystem). Directories are built in a hidden staging folder
beside their final place and renamed into it in one step. Staging folders carry their process
id, so a later run can tell an abandoned one (its process was killed, which skips ``finally``)
from one still being filled, and sweep it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "publish_directory",
    "staging_directory",
    "sweep_abandoned",
]

STAGING_PREFIX = ".staging-"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def staging_directory(parent: Path, label: str) -> Iterator[Path]:
    """A scratch folder inside ``parent`` (same filesystem as the target), always removed after."""
    parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(parent)
    path = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-{label}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def publish_directory(built: Path, target: Path) -> Path:
    """Move a finished ``built`` folder to ``target`` in one rename.

    Targets are content-addressed or complete-once, so if ``target`` already exists (a concurrent
    run finished first) it is kept and ``built`` is discarded.
    """
    if target.exists():
        shutil.rmtree(built, ignore_errors=True)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(built, target)
    return target


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def sweep_abandoned(parent: Path, older_than_s: float = 24 * 3600) -> list[Path]:
    """Remove staging folders whose process is gone (or that are a day old); return them."""
    removed = []
    now = time.time()
    for path in parent.glob(f"{STAGING_PREFIX}*"):
        owner = path.name.removeprefix(STAGING_PREFIX).split("-")[0]
        try:
            abandoned = not owner.isdigit() or not _process_alive(int(owner))
            abandoned = abandoned or now - path.stat().st_mtime > older_than_s
        except FileNotFoundError:
            continue
        if abandoned:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
