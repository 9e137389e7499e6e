"""How much data a fine-tune needs: quality at several training-set sizes, and where it leads.

Over the range a team can collect, the quality of a fine-tuned model grows roughly linearly in
the logarithm of the number of training examples (the familiar straight line on a log-x plot),
so the curve is fitted as ``quality = a + b * ln(n)`` by least squares and extrapolated to the
target. Beyond about 4x the largest measured size the extrapolation is flagged as a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CurvePoint", "LearningCurve"]

RELIABLE_EXTRAPOLATION = 4.0
"""Extrapolating beyond this multiple of the largest measured size is reported as uncertain."""


@dataclass(frozen=True)
class CurvePoint:
    train_examples: int
    quality: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class LearningCurve:
    candidate: str
    metric: str
    points: tuple[CurvePoint, ...]

    @classmethod
    def of(cls, candidate: str, metric: str, points: Sequence[CurvePoint]) -> LearningCurve:
        return cls(candidate, metric, tuple(sorted(points, key=lambda p: p.train_examples)))

    def fit(self) -> tuple[float, float] | None:
        """``(a, b)`` of ``quality = a + b ln(n)``; None with fewer than two distinct sizes."""
        xs = [math.log(p.train_examples) for p in self.points if p.train_examples > 0]
        ys = [p.quality for p in self.points if p.train_examples > 0]
        if len(set(xs)) < 2:
            return None
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
        return mean_y - slope * mean_x, slope

    def predict(self, n: int) -> float | None:
        fitted = self.fit()
        if fitted is None or n <= 0:
            return None
        a, b = fitted
        return min(1.0, a + b * math.log(n))

    def examples_needed(self, target: float) -> int | None:
        """Training examples at which the fitted curve reaches ``target``; None if it never does
        (flat or falling curve) or there is no curve to fit."""
        fitted = self.fit()
        if fitted is None:
            return None
        a, b = fitted
        reached = [p.train_examples for p in self.points if p.quality >= target]
        if b <= 1e-6:
            return min(reached) if reached else None
        needed = math.ceil(math.exp((target - a) / b))
        return min(needed, *reached) if reached else needed  # a measured size that reached it bounds the fit

    @property
    def largest(self) -> int:
        return max((p.train_examples for p in self.points), default=0)

    def reliable(self, n: int) -> bool:
        return n <= RELIABLE_EXTRAPOLATION * self.largest

    def to_dict(self) -> dict[str, Any]:
        fitted = self.fit()
        return {
            "candidate": self.candidate,
            "metric": self.metric,
            "points": [asdict(p) for p in self.points],
            "fit": None if fitted is None else {"a": fitted[0], "b_per_ln_n": fitted[1]},
        }
