"""``evaluate``: one call from a task to results, as ``steerlab eval`` runs it.

``calibrate_results`` adds to test results each named candidate's confidence threshold for
fallback and escalation: it predicts the dev split with the same candidates (same harness, same
cache) and fits the threshold there, then reads the test predictions back from the cache to
measure it (:mod:`steerlab.evaluation.calibration`). Dev predictions never enter the reported
test metrics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steerlab.candidate import Candidate, default_candidates
from steerlab.data.check import current_dataset, workspace_for
from steerlab.data.dataset import Dataset
from steerlab.data.example import Example
from steerlab.errors import ConfigError, DataError
from steerlab.evaluation.results import EvalResults, build_results
from steerlab.evaluation.runner import ProgressFn, run_candidates, stratified_slice
from steerlab.models.base import Model
from steerlab.task import Task, load_task

__all__ = ["calibrate_results", "evaluate", "held_out", "save_results"]


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
    calibrate: bool | Sequence[str] = False,
    save: bool = True,
) -> EvalResults:
    """Measure ``candidates`` (default: zero-shot, fixed and nearest few-shot) on a held-out split.

    Uses the task's current dataset version, running ``data check`` first if there is none.
    ``per_label`` takes a stratified slice (n per label); ``limit`` the first n by id.
    ``consistency_repeats`` > 1 also reruns each sampling candidate with that many seeds and
    reports its self-agreement. ``calibrate`` (True: every candidate; or names) also fits each
    one's confidence threshold on dev (see :func:`calibrate_results`). Results are saved under
    ``WORKSPACE/runs/`` unless ``save`` is False, and returned.
    """
    task = task if isinstance(task, Task) else load_task(task)
    root = workspace_for(task, workspace)
    dataset = current_dataset(task, root)
    if split not in ("test", "dev"):
        raise ConfigError(
            f"split must be test or dev, got {split!r}", hint="training examples are never scored"
        )
    if calibrate and split != "test":
        raise ConfigError(
            "calibration fits a threshold on dev and measures it on test: evaluate the test split"
        )
    examples = held_out(dataset, split, per_label=per_label, limit=limit)
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
    if calibrate:
        names = [c.name for c in chosen] if calibrate is True else list(calibrate)
        by_name = {c.name: c for c in chosen}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ConfigError(f"cannot calibrate {unknown[0]!r}: it is not among the candidates evaluated")
        calibrate_results(
            task,
            results,
            [by_name[name] for name in names],
            workspace=root,
            per_label=per_label,
            limit=limit,
            batch_size=batch_size,
            progress=progress,
            model_loader=model_loader,
        )
    if save:
        save_results(results, root)
    return results


def held_out(
    dataset: Dataset, split: str, *, per_label: int | None = None, limit: int | None = None
) -> list[Example]:
    """The examples of ``split`` an evaluation with these arguments scores; the same every time,
    so calibration finds the exact test examples an evaluation's results describe."""
    examples = list(dataset.test if split == "test" else dataset.dev)
    if per_label:
        examples = stratified_slice(examples, per_label)
    if limit:
        examples = sorted(examples, key=lambda ex: ex.id)[:limit]
    return examples


def save_results(results: EvalResults, workspace: Path) -> Path:
    """Save under ``WORKSPACE/runs/``, named by the time and the candidates. Name order is time
    order, which :func:`~steerlab.evaluation.results.latest_results_file` relies on; hence the
    microseconds: ``steerlab run`` saves its learning curve's results and then its main results,
    on a small task within the same second, and the main ones must be the newest."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    fingerprints = "".join(c.fingerprint for c in results.candidates)
    key = hashlib.sha256(fingerprints.encode()).hexdigest()[:8]
    return results.save(Path(workspace) / "runs" / f"{stamp}-{key}.json")


def calibrate_results(
    task: Task,
    results: EvalResults,
    candidates: Sequence[Candidate],
    *,
    workspace: str | Path | None = None,
    per_label: int | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
    model_loader: Callable[[str], Model] | None = None,
) -> dict[str, Any]:
    """Fit each candidate's confidence threshold on dev; measure it on ``results``' test examples.

    ``per_label`` and ``limit`` must be those the results were measured with (they slice dev the
    same way, which bounds its cost alike). The dev predictions go through the same runner and
    cache as any evaluation; the test predictions are read back from the cache, and must be the
    ones the results were computed from (same fingerprints). Adds each calibration to
    ``results.calibration`` and returns those added.
    """
    from steerlab.data.dataset import load_dataset
    from steerlab.errors import IntegrityError
    from steerlab.evaluation.calibration import Calibration, calibrate, scored_answers

    if results.split != "test":
        raise ConfigError("calibration is measured on test results; these are on " + results.split)
    root = workspace_for(task, workspace)
    dataset = load_dataset(root, task.name, results.dataset_version)
    test = held_out(dataset, "test", per_label=per_label, limit=limit)
    if len(test) != results.n:
        raise ConfigError(
            f"the results hold {results.n} test examples, the slice asked for has {len(test)}",
            hint="pass the per-label and limit the results were measured with",
        )
    measured = {c.name: c for c in results.candidates}
    missing = [c.name for c in candidates if c.name not in measured]
    if missing:
        raise ConfigError(
            f"candidate {missing[0]!r} is not in the results", hint=f"measured: {', '.join(measured)}"
        )
    target = task.targets.quality
    added: dict[str, Any] = {}
    dev = held_out(dataset, "dev", per_label=per_label, limit=limit)
    if not dev:
        for candidate in candidates:
            metric = task.metrics.primary
            empty = Calibration(metric, target, "no_dev", None, "the dev split is empty")
            added[candidate.name] = empty.to_dict()
        results.calibration.update(added)
        return added
    on_test = run_candidates(
        task,
        candidates,
        test,
        pool=dataset.train,
        workspace=root,
        batch_size=batch_size,
        model_loader=model_loader,
    )
    for run in on_test:
        if run.fingerprint != measured[run.candidate.name].fingerprint:
            raise IntegrityError(
                f"candidate {run.candidate.name!r} now fingerprints as {run.fingerprint}, but the results "
                f"measured {measured[run.candidate.name].fingerprint}: its recipe, template or task changed",
                hint="evaluate again, then calibrate",
            )

    def on_dev(name: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"{name} (dev)", done, total)

    runs = run_candidates(
        task,
        candidates,
        dev,
        pool=dataset.train,
        workspace=root,
        batch_size=batch_size,
        progress=on_dev,
        model_loader=model_loader,
    )
    for dev_run, test_run in zip(runs, on_test, strict=True):
        metric, dev_answers = scored_answers(task, dev, dev_run)
        _, test_answers = scored_answers(task, test, test_run)
        fitted = calibrate(dev_answers, test_answers, metric=metric, target=target)
        added[dev_run.candidate.name] = fitted.to_dict()
    results.calibration.update(added)
    return added
