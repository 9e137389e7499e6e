"""``evaluate``: one call from a task to results, as ``steerlab eval`` runs it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from steerlab.candidate import Candidate, default_candidates
from steerlab.data.check import current_dataset, workspace_for
from steerlab.errors import ConfigError, DataError
from steerlab.evaluation.results import EvalResults, build_results
from steerlab.evaluation.runner import ProgressFn, run_candidates, stratified_slice
from steerlab.models.base import Model
from steerlab.task import Task, load_task

__all__ = ["evaluate"]


def evaluate(
    task: Task | str | Path,
    candidates: Sequence[Candidate] | None = None,
    *,
    split: str = "test",
    per_label: int | None = None,
    limit: int | None = None,
    workspace: str | Path | None = None,
    batch_size: int = 8,
    consistency_repeats: int = 0,
    progress: ProgressFn | None = None,
    model_loader: Callable[[str], Model] | None = None,
) -> EvalResults:
    """Measure ``candidates`` (default: zero-shot, fixed and nearest few-shot) on a held-out split.

    Uses the task's current dataset version, running ``data check`` first if there is none.
    ``per_label`` takes a stratified slice (n per label); ``limit`` the first n by id.
    ``consistency_repeats`` > 1 also reruns each sampling candidate with that many seeds and
    reports its self-agreement. Results are saved under ``WORKSPACE/runs/`` and returned.
    """
    task = task if isinstance(task, Task) else load_task(task)
    root = workspace_for(task, workspace)
    dataset = current_dataset(task, root)
    if split not in ("test", "dev"):
        raise ConfigError(
            f"split must be test or dev, got {split!r}", hint="training examples are never scored"
        )
    examples = list(dataset.test if split == "test" else dataset.dev)
    if per_label:
        examples = stratified_slice(examples, per_label)
    if limit:
        examples = sorted(examples, key=lambda ex: ex.id)[:limit]
    if not examples:
        raise DataError(f"the {split} split of dataset {dataset.version} is empty", path=dataset.path)
    chosen = list(candidates) if candidates else default_candidates(task)
    runs = run_candidates(
        task,
        chosen,
        examples,
        pool=dataset.train,
        workspace=root,
        batch_size=batch_size,
        progress=progress,
        model_loader=model_loader,
    )
    results = build_results(task, dataset.version, split, examples, runs)
    if consistency_repeats > 1:
        from steerlab.evaluation.consistency import self_agreement

        for candidate in chosen:
            agreement = self_agreement(
                task,
                candidate,
                examples,
                pool=dataset.train,
                workspace=root,
                repeats=consistency_repeats,
                model_loader=model_loader,
            )
            results.consistency[f"self:{candidate.name}"] = agreement.as_dict()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = hashlib.sha256("".join(run.fingerprint for run in runs).encode()).hexdigest()[:8]
    results.save(root / "runs" / f"{stamp}-{key}.json")
    return results
