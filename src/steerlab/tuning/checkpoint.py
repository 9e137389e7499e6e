"""Training checkpoints that a kill can never leave half-written, and that resume bit for bit.

A checkpoint holds everything the next step depends on: the adapter weights, the best adapter
so far, AdamW's moments, the schedule's position, every random generator (LoRA dropout draws
from torch's; Python's and NumPy's are saved in case a metric or a library draws from them) and
where in the epoch's batch plan training stood. Restoring all of it makes a resumed run take the
very steps an uninterrupted one would, so a killed run costs time, never a different result.

Each checkpoint is built in a staging folder and renamed into ``checkpoint-STEP`` in one step
(:mod:`steerlab.atomic`), so any ``checkpoint-*`` folder is complete. The older ones are deleted
only after the newer one is in place.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from steerlab.atomic import publish_directory, staging_directory

__all__ = [
    "Checkpoint",
    "capture_rng",
    "latest_checkpoint",
    "load_checkpoint",
    "remove_checkpoints",
    "restore_rng",
    "save_checkpoint",
]

PREFIX = "checkpoint-"


def capture_rng() -> dict[str, Any]:
    """Every random generator's state, as plain values ``torch.load(weights_only=True)`` accepts."""
    version, keys, gauss = random.getstate()
    name, np_keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(keys), gauss],
        "numpy": [name, np_keys.tolist(), position, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    name, np_keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(np_keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    state: dict[str, Any]
    """Position (step, epoch, batch group) and history (curve, evaluations, best so far)."""
    adapter: dict[str, torch.Tensor]
    best_adapter: dict[str, torch.Tensor] | None
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, Any]


def save_checkpoint(
    run_dir: Path,
    *,
    state: dict[str, Any],
    adapter: dict[str, torch.Tensor],
    best_adapter: dict[str, torch.Tensor] | None,
    optimizer: dict[str, Any],
    scheduler: dict[str, Any],
    rng: dict[str, Any],
) -> Path:
    """Write a checkpoint for ``state['step']`` atomically and drop the older ones."""
    target = run_dir / f"{PREFIX}{state['step']:08d}"
    with staging_directory(run_dir, "checkpoint") as work:
        built = work / "checkpoint"
        built.mkdir()
        save_file(_contiguous(adapter), built / "adapter.safetensors")
        if best_adapter is not None:
            save_file(_contiguous(best_adapter), built / "best_adapter.safetensors")
        torch.save(optimizer, built / "optimizer.pt")
        torch.save(scheduler, built / "scheduler.pt")
        torch.save(rng, built / "rng.pt")
        (built / "state.json").write_text(json.dumps(state, indent=1))
        if target.exists():  # a resumed run re-reaching a step it had saved: replace, same content
            shutil.rmtree(target)
        publish_directory(built, target)
    for older in run_dir.glob(f"{PREFIX}*"):
        if older != target and older.name < target.name:
            shutil.rmtree(older, ignore_errors=True)
    return target


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint folder in ``run_dir`` (all are complete by construction), or None."""
    found = sorted(p for p in run_dir.glob(f"{PREFIX}*") if p.is_dir() and (p / "state.json").is_file())
    return found[-1] if found else None


def load_checkpoint(path: Path) -> Checkpoint:
    best = path / "best_adapter.safetensors"
    return Checkpoint(
        path=path,
        state=json.loads((path / "state.json").read_text()),
        adapter=load_file(path / "adapter.safetensors"),
        best_adapter=load_file(best) if best.is_file() else None,
        optimizer=torch.load(path / "optimizer.pt", weights_only=True),
        scheduler=torch.load(path / "scheduler.pt", weights_only=True),
        rng=torch.load(path / "rng.pt", weights_only=True),
    )


def remove_checkpoints(run_dir: Path) -> None:
    for path in run_dir.glob(f"{PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.detach().contiguous() for name, t in tensors.items()}
