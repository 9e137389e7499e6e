"""Run candidates over examples: batched, cached per prediction, resumable after any crash.

The runner reads only a candidate's recipe (template, shots, constraint, decoding) and a model's
three operations; prompt variants, few-shot strategies and (later) retrieval and adapters all
take the same path. For each candidate it looks up which examples already have a cached
prediction, computes the rest in batches, and commits each batch before starting the next.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from steerlab.candidate import Candidate
from steerlab.data.example import Example
from steerlab.evaluation.cache import PredictionCache
from steerlab.evaluation.prediction import Prediction
from steerlab.evaluation.predictor import CandidatePredictor, ModelPool
from steerlab.models.base import Model

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["CandidateRun", "run_candidates", "stratified_slice"]

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CandidateRun:
    candidate: Candidate
    fingerprint: str
    predictions: list[Prediction]  # aligned with the examples
    computed: int  # predictions made in this call (0 when everything came from the cache)
    seconds: float


def stratified_slice(examples: Sequence[Example], per_label: int, seed: int = 0) -> list[Example]:
    """Up to ``per_label`` examples of each label, chosen by seed, in a stable order."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in sorted(examples, key=lambda ex: ex.id):
        by_label[str(example.output)].append(example)
    rng = random.Random(seed)
    chosen = []
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        chosen += members[:per_label]
    return sorted(chosen, key=lambda ex: ex.id)


def run_candidates(
    task: Task,
    candidates: Sequence[Candidate],
    examples: Sequence[Example],
    *,
    pool: Sequence[Example],
    workspace: Path,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
    model_loader: Callable[[str], Model] | None = None,
) -> list[CandidateRun]:
    """Predict every example with every candidate; cached predictions are reused, not recomputed."""
    cache = PredictionCache(Path(workspace) / "predictions.sqlite")
    models = ModelPool(model_loader)
    runs = []
    try:
        for candidate in candidates:
            runs.append(
                _run_one(task, candidate, examples, pool, cache, models, batch_size, workspace, progress)
            )
    finally:
        cache.close()
    return runs


def _run_one(
    task: Task,
    candidate: Candidate,
    examples: Sequence[Example],
    pool: Sequence[Example],
    cache: PredictionCache,
    models: ModelPool,
    batch_size: int,
    workspace: Path,
    progress: ProgressFn | None,
) -> CandidateRun:
    started = time.perf_counter()
    predictor = CandidatePredictor(task, candidate, pool=pool, workspace=workspace, models=models)
    try:
        candidate, fingerprint = predictor.candidate, predictor.fingerprint
        cache.remember_candidate(fingerprint, candidate.name, candidate.model_dump(mode="json"))
        cached = cache.get(fingerprint, [ex.id for ex in examples])
        missing = [ex for ex in examples if ex.id not in cached]
        if progress:
            progress(candidate.name, len(cached), len(examples))
        computed = 0
        if missing:
            shots = predictor.shots(missing)
            for start in range(0, len(missing), batch_size):
                predictions = predictor.predict(missing[start : start + batch_size], shots)
                cache.put_many(fingerprint, predictions)
                cached.update({p.example_id: p for p in predictions})
                computed += len(predictions)
                if progress:
                    progress(candidate.name, len(cached), len(examples))
    finally:
        predictor.close()
    ordered = [cached[ex.id] for ex in examples]
    return CandidateRun(candidate, fingerprint, ordered, computed, time.perf_counter() - started)
