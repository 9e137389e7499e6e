"""Retrieval quality where gold passages are known: hit rate@k, MRR and context precision.

Each is a mean over questions that have gold passages (an unanswerable question has none, and
no retrieval can be right or wrong for it), reported with a percentile bootstrap interval over
questions, as the evaluation harness does for task metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["RetrievalScores", "retrieval_scores"]


@dataclass(frozen=True)
class RetrievalScores:
    k: int
    questions: int
    hit_rate: tuple[float, float, float]
    """(value, low, high): the share of questions with a gold passage among the top k."""
    mrr: tuple[float, float, float]
    """Mean reciprocal rank of the first gold passage (0 when none is in the top k)."""
    context_precision: tuple[float, float, float]
    """The share of retrieved chunks that come from a gold passage."""

    def as_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "questions": self.questions,
            "hit_rate": list(self.hit_rate),
            "mrr": list(self.mrr),
            "context_precision": list(self.context_precision),
        }


def retrieval_scores(
    retrieved: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    k: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> RetrievalScores:
    """Score ranked passage ids (``retrieved[i]``, best first) against ``gold[i]``."""
    if len(retrieved) != len(gold):
        raise ValueError(f"{len(retrieved)} retrieval results for {len(gold)} gold lists")
    hits, ranks, precisions = [], [], []
    for found, wanted in zip(retrieved, gold, strict=True):
        wanted = set(wanted)
        if not wanted:
            continue
        top = list(found)[:k]
        first = next((i for i, passage in enumerate(top, start=1) if passage in wanted), None)
        hits.append(1.0 if first else 0.0)
        ranks.append(1.0 / first if first else 0.0)
        precisions.append(sum(p in wanted for p in top) / len(top) if top else 0.0)
    if not hits:
        raise ValueError("no question has gold passages: retrieval metrics need some")
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(hits), size=(n_resamples, len(hits)))

    def interval(values: list[float]) -> tuple[float, float, float]:
        array = np.asarray(values)
        means = array[samples].mean(axis=1)
        return float(array.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))

    return RetrievalScores(k, len(hits), interval(hits), interval(ranks), interval(precisions))
