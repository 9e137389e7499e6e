"""Statistics: how sure we are of a metric, and whether one candidate really beats another.

A test set is a sample. Every number a report shows gets an interval, every comparison a paired
test (both candidates answer the same examples, so pairing removes the variance due to which
examples happened to be drawn), and a plan gets the smallest difference its test set can detect.

Resampling works on the additive per-example statistics of :mod:`steerlab.evaluation.metrics`:
a resample is a vector of counts (how often each example was drawn), the resampled totals are
``counts @ rows``, and the metric is finished from the totals. One matrix product replaces a
thousand metric recomputations, for accuracy and macro F1 alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom

from steerlab.evaluation.metrics import (
    METRICS,
    Metric,
    MetricContext,
    SufficientStats,
    per_example_scores,
    sufficient_stats,
)
from steerlab.evaluation.metrics import metric_name as _registered_name
from steerlab.evaluation.prediction import Prediction

__all__ = [
    "Comparison",
    "Interval",
    "McNemarResult",
    "PairedResult",
    "bootstrap_ci",
    "compare",
    "mcnemar_exact",
    "minimum_detectable_difference",
    "paired_bootstrap",
]

# Resampling count matrices are built this many cells at a time (about 32 MB of float64).
_CHUNK_CELLS = 4_000_000


class Interval(NamedTuple):
    point: float
    low: float
    high: float


@dataclass(frozen=True)
class McNemarResult:
    """``b``: pairs A got right and B wrong; ``c``: the reverse. Only these discordant pairs
    carry information about which is better; ``diff`` = accuracy A - accuracy B = (b - c) / n."""

    b: int
    c: int
    n: int
    p_value: float
    accuracy_a: float
    accuracy_b: float

    @property
    def diff(self) -> float:
        return self.accuracy_a - self.accuracy_b


@dataclass(frozen=True)
class PairedResult:
    """Mean of A - B over examples, its percentile bootstrap interval and two-sided p-value."""

    mean_diff: float
    low: float
    high: float
    p_value: float
    n: int
    n_resamples: int


@dataclass(frozen=True)
class Comparison:
    """Candidate A against candidate B on one metric, on the same examples."""

    metric: str
    name_a: str
    name_b: str
    value_a: float
    value_b: float
    diff: float
    low: float
    high: float
    p_value: float
    test: str
    n: int
    confidence: float
    summary: str

    @property
    def significant(self) -> bool:
        return self.p_value < 1 - self.confidence


# --- resampling ------------------------------------------------------------------------------


def _resampled_totals(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Column totals of ``values`` (n, d) over bootstrap resamples of its rows: (n_resamples, d).

    Each resample draws n rows with replacement; its totals are counts (1, n) @ values (n, d).
    """
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    totals = np.empty((n_resamples, values.shape[1]))
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        draws = rng.integers(0, n, size=(rows, n))  # (rows, n) example indices
        offsets = (np.arange(rows) * n)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=rows * n).reshape(rows, n)
        totals[start : start + rows] = counts @ values
    return totals


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    _check_confidence(confidence)
    tail = (1 - confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return float(low), float(high)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


def _bootstrap_p(diffs: np.ndarray, observed: float) -> float:
    """Two-sided p from the bootstrap distribution of a difference: the share of resampled
    differences on the far side of zero from the observed one (ties count against), doubled.

    This inverts the percentile interval: p < 1 - confidence (nearly exactly) when the interval
    excludes zero. The +1s (Davison & Hinkley 1997, ch. 4) keep p above 0 for a finite number of resamples.
    """
    if observed > 0:
        against = int(np.sum(diffs <= 0))
    elif observed < 0:
        against = int(np.sum(diffs >= 0))
    else:
        return 1.0
    return min(1.0, 2 * (against + 1) / (len(diffs) + 1))


def _check_pairs(golds: Sequence[Any], preds: Sequence[Prediction]) -> None:
    if len(golds) != len(preds):
        raise ValueError(f"{len(golds)} golds but {len(preds)} predictions; they must be aligned")
    if not golds:
        raise ValueError("no examples: a confidence interval needs at least one")


def bootstrap_ci(
    metric_fn: Metric | str,
    golds: Sequence[Any],
    preds: Sequence[Prediction],
    context: MetricContext,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The metric and its percentile bootstrap interval (Efron & Tibshirani 1993, *An
    Introduction to the Bootstrap*, ch. 13): resample examples with replacement, recompute the
    corpus metric, take the tails.

    Registered metrics resample their sufficient statistics (milliseconds); any other function
    of the same signature is recomputed on each resample.
    """
    _check_pairs(golds, preds)
    _check_confidence(confidence)
    stats = sufficient_stats(metric_fn, golds, preds, context)
    if stats is not None:
        point = stats.value()
        samples = stats.finish(_resampled_totals(stats.values, n_resamples, seed))
    elif isinstance(metric_fn, str):
        raise ValueError(f"unknown metric {metric_fn!r}; known: {', '.join(METRICS)}")
    else:
        point = float(metric_fn(golds, preds, context))
        rng = np.random.default_rng(seed)
        samples = np.empty(n_resamples)
        for r in range(n_resamples):
            idx = rng.integers(0, len(golds), size=len(golds))
            samples[r] = metric_fn([golds[i] for i in idx], [preds[i] for i in idx], context)
    low, high = _percentiles(samples, confidence)
    return Interval(point, low, high)


# --- paired tests ----------------------------------------------------------------------------


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemarResult:
    """McNemar's test (McNemar 1947, Psychometrika 12) in its exact form: under the null each
    discordant pair is equally likely to favour A or B, so b ~ Binomial(b + c, 1/2), and the
    two-sided p is twice the smaller tail. Dietterich (1998, Neural Computation 10) recommends
    it for comparing two classifiers on one test set; the exact form stays valid when b + c is
    small, where the chi-squared approximation does not.
    """
    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"{a.size} results for A but {b_.size} for B; they must be paired")
    b, c, n = int(np.sum(a & ~b_)), int(np.sum(~a & b_)), int(a.size)
    p = 1.0 if b + c == 0 else min(1.0, 2 * float(binom.cdf(min(b, c), b + c, 0.5)))
    return McNemarResult(
        b=b,
        c=c,
        n=n,
        p_value=p,
        accuracy_a=float(a.mean()) if n else 0.0,
        accuracy_b=float(b_.mean()) if n else 0.0,
    )


def _paired(
    stats_a: SufficientStats, stats_b: SufficientStats, n_resamples: int, seed: int, confidence: float
) -> PairedResult:
    """Paired bootstrap of metric(A) - metric(B): both candidates' rows resampled together."""
    d = stats_a.values.shape[1]
    totals = _resampled_totals(np.hstack([stats_a.values, stats_b.values]), n_resamples, seed)
    diffs = stats_a.finish(totals[:, :d]) - stats_b.finish(totals[:, d:])
    observed = stats_a.value() - stats_b.value()
    low, high = _percentiles(diffs, confidence)
    return PairedResult(
        mean_diff=observed,
        low=low,
        high=high,
        p_value=_bootstrap_p(diffs, observed),
        n=int(stats_a.values.shape[0]),
        n_resamples=n_resamples,
    )


def paired_bootstrap(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    n_resamples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedResult:
    """Paired bootstrap test of the mean per-example difference (Koehn 2004, EMNLP; Berg-
    Kirkpatrick et al. 2012, EMNLP): resample examples, keeping each example's pair of scores
    together, and read the interval and the two-sided p off the resampled mean differences."""
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"{a.size} scores for A but {b.size} for B; they must be paired")
    if a.size == 0:
        raise ValueError("no paired scores to compare")
    ones = np.ones_like(a)
    return _paired(
        SufficientStats(np.column_stack([a, ones]), _mean_of_rows),
        SufficientStats(np.column_stack([b, ones]), _mean_of_rows),
        n_resamples,
        seed,
        confidence,
    )


def _mean_of_rows(totals: np.ndarray) -> np.ndarray:
    return totals[..., 0] / totals[..., 1]


def compare(
    metric_name: str,
    golds: Sequence[Any],
    preds_a: Sequence[Prediction],
    preds_b: Sequence[Prediction],
    context: MetricContext,
    *,
    names: tuple[str, str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 10000,
    seed: int = 0,
) -> Comparison:
    """A against B on one metric, with the right paired test and a sentence saying what it means.

    Accuracy uses McNemar's exact test for p, other metrics a paired bootstrap of the corpus
    metric difference (so macro F1 and corpus chrF are compared as themselves, not as means).
    The interval is always the paired bootstrap percentile interval of the difference, so for
    accuracy it can, rarely, disagree with McNemar's p at the edge of significance. ``names``
    defaults to the candidates recorded in the predictions.
    """
    name = _registered_name(metric_name)
    if name is None:
        raise ValueError(f"unknown metric {metric_name!r}; known: {', '.join(METRICS)}")
    _check_pairs(golds, preds_a)
    _check_pairs(golds, preds_b)
    _check_confidence(confidence)
    name_a, name_b = names or _names(preds_a, preds_b)
    stats_a = sufficient_stats(name, golds, preds_a, context)
    stats_b = sufficient_stats(name, golds, preds_b, context)
    assert stats_a is not None and stats_b is not None
    paired = _paired(stats_a, stats_b, n_resamples, seed, confidence)
    if name == "accuracy":
        correct_a = [s == 1 for s in per_example_scores(name, golds, preds_a, context)]
        correct_b = [s == 1 for s in per_example_scores(name, golds, preds_b, context)]
        p_value, test = mcnemar_exact(correct_a, correct_b).p_value, "McNemar exact"
    else:
        p_value, test = paired.p_value, "paired bootstrap"
    value_a, value_b = stats_a.value(), stats_b.value()
    return Comparison(
        metric=name,
        name_a=name_a,
        name_b=name_b,
        value_a=value_a,
        value_b=value_b,
        diff=value_a - value_b,
        low=paired.low,
        high=paired.high,
        p_value=p_value,
        test=test,
        n=len(golds),
        confidence=confidence,
        summary=_summary(name_a, name_b, paired, p_value, test, confidence),
    )


def _names(preds_a: Sequence[Prediction], preds_b: Sequence[Prediction]) -> tuple[str, str]:
    a = {p.candidate for p in preds_a}
    b = {p.candidate for p in preds_b}
    if len(a) == 1 and len(b) == 1 and a != b and "" not in a | b:
        return a.pop(), b.pop()
    return "A", "B"


def _summary(
    name_a: str, name_b: str, paired: PairedResult, p_value: float, test: str, confidence: float
) -> str:
    """e.g. "A beats B by 4.2 points (95% CI 1.1-7.3), p = 0.008, McNemar exact", the interval's
    dash an en dash ("to" when the low end is negative, so a minus sign is never read as one).

    Differences are in points (hundredths of the 0-1 metric). The sentence is turned around so
    the leader comes first; without significance it says so instead of naming a winner.
    """
    diff, low, high = paired.mean_diff, paired.low, paired.high
    if diff < 0:
        name_a, name_b, diff, low, high = name_b, name_a, -diff, -high, -low
    p_text = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
    lo, hi = 100 * low, 100 * high
    ci = f"{lo:.1f}\u2013{hi:.1f}" if lo >= 0 else f"{lo:.1f} to {hi:.1f}"
    tail = f"({confidence:.0%} CI {ci}), {p_text}, {test}"
    if diff == 0:
        return f"{name_a} and {name_b} tie {tail}"
    if p_value < 1 - confidence:
        return f"{name_a} beats {name_b} by {100 * diff:.1f} points {tail}"
    return f"No significant difference: {name_a} leads {name_b} by {100 * diff:.1f} points {tail}"


# --- planning --------------------------------------------------------------------------------


def minimum_detectable_difference(
    n: int,
    baseline_accuracy: float,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
) -> float:
    """The smallest accuracy gain over the baseline that a paired test on n examples detects
    with the given power at two-sided level alpha; ``math.inf`` if no gain within reach does.

    It inverts Connor's (1987, Biometrics 43) normal-approximation sample size for McNemar's
    test, n = (z_{a/2}·√ψ + z_β·√(ψ - δ²))² / δ², where δ is the accuracy difference and ψ the
    share of discordant pairs. ψ is what pairing buys, and it is unknown before the run: give it
    as ``discordance`` if you have it (from an earlier comparison), else the classifiers are
    assumed to err independently, ψ = p(1 - p - δ) + (p + δ)(1 - p) for baseline p. Candidates
    built on the same data usually agree more than that, so the default is conservative: the
    true detectable difference is usually smaller.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= baseline_accuracy < 1:
        raise ValueError(f"baseline_accuracy must be in [0, 1), got {baseline_accuracy}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must be between 0 and 1, got {alpha} and {power}")
    if discordance is not None and not 0 < discordance <= 1:
        raise ValueError(f"discordance must be in (0, 1], got {discordance}")
    p = baseline_accuracy
    z_alpha = NormalDist().inv_cdf(1 - alpha / 2)
    z_beta = NormalDist().inv_cdf(power)

    def psi(delta: float) -> float:
        return discordance if discordance is not None else p * (1 - p - delta) + (p + delta) * (1 - p)

    def shortfall(delta: float) -> float:
        # √n·δ - (z_{a/2}·√ψ + z_β·√(ψ - δ²)): negative while δ is too small to detect.
        s = psi(delta)
        return math.sqrt(n) * delta - z_alpha * math.sqrt(s) - z_beta * math.sqrt(max(s - delta * delta, 0.0))

    # δ can reach neither past perfect accuracy nor past the discordant share (|b - c| ≤ b + c).
    reach = 1 - p if discordance is None else min(1 - p, discordance)
    if shortfall(reach) < 0:
        return math.inf
    return float(brentq(shortfall, 1e-12, reach, xtol=1e-10))
