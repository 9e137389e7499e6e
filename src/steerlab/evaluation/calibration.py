"""The confidence threshold for fallback and escalation: fitted on dev, checked on test.

A served answer with a confidence below its release's threshold, or one that breaks the output
contract, is not returned: it goes to the fallback release or to a human queue
(:mod:`steerlab.serving.service`). The threshold trades the quality of what is answered against
how much is escalated. This module measures that trade on the dev split, picks the threshold by
a fixed rule, and measures what the same threshold does on the test split, which took no part in
choosing it (so the test numbers are an honest estimate of what serving will see).

An answer is **accepted** at threshold ``t`` when it is valid and its confidence is at least
``t``, or it has no confidence at all (the server cannot threshold what the model did not
score, so it serves it). Everything else is **escalated**. Quality on accepted answers is the
mean per-example score on the task's primary metric (accuracy for classification; field F1,
which for answers of fixed fields equals the corpus metric, for extraction), so it compares
directly with ``targets.quality``.

The rule, in order:

1. **target**: the lowest threshold whose accepted answers reach ``targets.quality``, escalating
   at most :data:`MAX_ESCALATION` of requests and accepting at least :data:`MIN_ACCEPTED`
   answers (so 3 lucky answers out of 40 do not count as reaching it);
2. **net**: otherwise, the threshold that maximises right minus wrong accepted answers per
   request (an accepted answer scores ``2 * score - 1``, an escalation 0: escalate exactly those
   answers more likely wrong than right), among thresholds escalating at most
   :data:`MAX_ESCALATION`; ties go to the lower threshold. When even accepting every valid
   answer escalates more (too many invalid ones), the threshold is 0: only invalid answers go.

The cap exists because a release that sends more than 3 requests in 10 to people is no longer
automating the task; the report's curve shows what a higher threshold would buy, and
``steerlab serve --threshold`` sets one by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from steerlab.data.example import Example
    from steerlab.evaluation.runner import CandidateRun
    from steerlab.task import Task

__all__ = [
    "MAX_ESCALATION",
    "MIN_ACCEPTED",
    "Calibration",
    "OperatingPoint",
    "Scored",
    "calibrate",
    "choose_threshold",
    "operating_point",
    "operating_points",
    "scored_answers",
    "thresholds",
]

MAX_ESCALATION = 0.3
"""The largest share of requests a chosen threshold may escalate (see the module docstring)."""

MIN_ACCEPTED = 10
"""Accepted dev answers needed before their quality counts as reaching the target."""

TABLE_ESCALATION = (0.1, 0.2, 0.3, 0.5)
"""Dev escalation rates the report's table shows a threshold for, beside 0 and the chosen one."""

CURVE_POINTS = 200
"""At most this many thresholds are kept for the chart (dev sets of thousands have as many)."""


@dataclass(frozen=True)
class Scored:
    """One answer as calibration sees it: its confidence, its score on the primary metric
    (0-1; 1 or 0 for accuracy) and whether it satisfied the output contract."""

    confidence: float | None
    score: float
    valid: bool


@dataclass(frozen=True)
class OperatingPoint:
    """What threshold ``threshold`` does to a set of answers."""

    threshold: float
    n: int
    accepted: int
    quality: float | None
    """Mean score of the accepted answers; None when none is accepted."""
    escalation_rate: float
    net: float
    """Right minus wrong accepted answers per request: the sum of ``2 * score - 1`` over accepted
    answers, divided by all answers."""
    low: float | None = None
    high: float | None = None
    """Bootstrap 95% interval of ``quality`` (resampling all answers, threshold fixed)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    """A threshold chosen on dev and measured on test, with the curves the report draws."""

    metric: str
    target: float | None
    rule: str
    """"target", "net", or why there is no threshold: "no_confidence", "no_dev"."""
    threshold: float | None
    reason: str
    max_escalation: float = MAX_ESCALATION
    min_accepted: int = MIN_ACCEPTED
    dev: dict[str, Any] | None = None
    test: dict[str, Any] | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    """Per threshold: dev and test quality and escalation rate, ascending threshold."""
    table: list[dict[str, Any]] = field(default_factory=list)
    """A few thresholds (accept all, the chosen one, set dev escalation rates) for a table."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def operating_point(answers: Sequence[Scored], threshold: float) -> OperatingPoint:
    """Accepted count, their quality, the escalation rate and the net at ``threshold``."""
    return operating_points(answers, [threshold])[0]


def operating_points(answers: Sequence[Scored], at: Sequence[float]) -> list[OperatingPoint]:
    """:func:`operating_point` at each threshold of ``at``, in one sort of the answers (a dev
    split of thousands has thousands of thresholds)."""
    n = len(answers)
    always = [a.score for a in answers if a.valid and a.confidence is None]
    scored = sorted((a.confidence, a.score) for a in answers if a.valid and a.confidence is not None)
    confidences = np.array([c for c, _ in scored], dtype=float)
    # above[i]: total score of the answers from the i-th lowest confidence up; above[len] = 0
    above = np.concatenate([np.cumsum([s for _, s in reversed(scored)])[::-1], [0.0]])
    first = np.searchsorted(confidences, np.asarray(at, dtype=float), side="left")
    points = []
    for threshold, index in zip(at, first.tolist(), strict=True):
        accepted = len(always) + len(scored) - index
        total = float(sum(always) + above[index])
        points.append(
            OperatingPoint(
                threshold=float(threshold),
                n=n,
                accepted=accepted,
                quality=total / accepted if accepted else None,
                escalation_rate=1 - accepted / n if n else 0.0,
                net=(2 * total - accepted) / n if n else 0.0,
            )
        )
    return points


def thresholds(answers: Sequence[Scored]) -> list[float]:
    """Every threshold that accepts a different set of answers: 0 (every valid answer), then each
    distinct confidence of a valid answer above the lowest, ascending. Nothing between two of
    them changes what is accepted."""
    confidences = sorted({a.confidence for a in answers if a.valid and a.confidence is not None})
    if confidences and confidences[0] > 0:
        confidences = confidences[1:]  # accepts what 0 accepts
    return sorted({0.0, *confidences})


def choose_threshold(
    answers: Sequence[Scored],
    target: float | None,
    *,
    max_escalation: float = MAX_ESCALATION,
    min_accepted: int = MIN_ACCEPTED,
) -> tuple[OperatingPoint, str]:
    """The threshold the module docstring's rule picks, and which part of the rule picked it."""
    points = operating_points(answers, thresholds(answers))
    allowed = [p for p in points if p.escalation_rate <= max_escalation + 1e-12]
    if target is not None:
        for point in allowed:  # ascending: the first one is the lowest
            if (
                point.accepted >= min_accepted
                and point.quality is not None
                and point.quality >= target - 1e-12
            ):
                return point, "target"
    if not allowed:
        return points[0], "net"
    best = max(point.net for point in allowed)
    return next(p for p in allowed if p.net >= best - 1e-12), "net"


def _accepted(answer: Scored, threshold: float) -> bool:
    return answer.valid and (answer.confidence is None or answer.confidence >= threshold)


def _with_interval(
    answers: Sequence[Scored], point: OperatingPoint, n_resamples: int, seed: int
) -> OperatingPoint:
    """``point`` with a percentile bootstrap interval of its accepted quality: resample every
    answer (accepted or not) with replacement, so the interval carries the uncertainty of how
    many are accepted as well as of how good they are."""
    from dataclasses import replace

    from steerlab.evaluation.stats import _percentiles, _resampled_totals

    if not answers or point.accepted == 0:
        return point
    accepted = np.array([_accepted(a, point.threshold) for a in answers], dtype=float)
    scores = np.array([a.score for a in answers], dtype=float)
    totals = _resampled_totals(np.stack([accepted * scores, accepted], axis=1), n_resamples, seed)
    kept = totals[totals[:, 1] > 0]
    low, high = _percentiles(kept[:, 0] / kept[:, 1], 0.95)
    return replace(point, low=low, high=high)


def calibrate(
    dev: Sequence[Scored],
    test: Sequence[Scored],
    *,
    metric: str,
    target: float | None,
    max_escalation: float = MAX_ESCALATION,
    min_accepted: int = MIN_ACCEPTED,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Calibration:
    """Choose the threshold on ``dev``, measure it on ``test``; see the module docstring."""
    common = {
        "metric": metric,
        "target": target,
        "max_escalation": max_escalation,
        "min_accepted": min_accepted,
    }
    if not dev:
        return Calibration(**common, rule="no_dev", threshold=None, reason="the dev split is empty")
    if all(a.confidence is None for a in dev if a.valid):
        return Calibration(
            **common,
            rule="no_confidence",
            threshold=None,
            reason="the candidate's answers carry no confidence to threshold",
        )
    chosen, rule = choose_threshold(dev, target, max_escalation=max_escalation, min_accepted=min_accepted)
    on_dev = _with_interval(dev, chosen, n_resamples, seed)
    on_test = (
        _with_interval(test, operating_point(test, chosen.threshold), n_resamples, seed) if test else None
    )
    grid = thresholds(dev)
    if len(grid) > CURVE_POINTS:
        keep = {round(i * (len(grid) - 1) / (CURVE_POINTS - 1)) for i in range(CURVE_POINTS)}
        grid = sorted({grid[i] for i in keep} | {chosen.threshold})
    curve = _rows(dev, test, grid)
    on_grid = operating_points(dev, thresholds(dev))
    shown = {0.0, chosen.threshold}
    for level in TABLE_ESCALATION:
        first = next((p for p in on_grid if p.escalation_rate >= level - 1e-12), None)
        if first is not None:
            shown.add(first.threshold)
    table = [
        {**row, "chosen": row["threshold"] == chosen.threshold} for row in _rows(dev, test, sorted(shown))
    ]
    return Calibration(
        **common,
        rule=rule,
        threshold=chosen.threshold,
        reason=_reason(chosen, rule, metric, target, max_escalation, min_accepted),
        dev=on_dev.as_dict(),
        test=None if on_test is None else on_test.as_dict(),
        curve=curve,
        table=table,
    )


def _rows(dev: Sequence[Scored], test: Sequence[Scored], at: Sequence[float]) -> list[dict[str, Any]]:
    """Dev and test quality and escalation at each threshold of ``at``."""
    on_dev = operating_points(dev, at)
    on_test = operating_points(test, at) if test else [None] * len(at)
    return [
        {
            "threshold": d.threshold,
            "dev_quality": d.quality,
            "dev_escalation": d.escalation_rate,
            "test_quality": None if t is None else t.quality,
            "test_escalation": None if t is None else t.escalation_rate,
        }
        for d, t in zip(on_dev, on_test, strict=True)
    ]


def _reason(
    point: OperatingPoint,
    rule: str,
    metric: str,
    target: float | None,
    max_escalation: float,
    min_accepted: int,
) -> str:
    """One sentence saying why this threshold, for the report and ``release show``."""
    if rule == "target" and target is not None:
        return (
            f"the lowest threshold at which accepted answers reach the {metric} target of {target:.0%} "
            f"on dev, escalating at most {max_escalation:.0%}"
        )
    why = (
        "no target is set"
        if target is None
        else f"no threshold reaches the {metric} target of {target:.0%} on dev within "
        f"{max_escalation:.0%} escalation and {min_accepted} accepted answers"
    )
    if point.escalation_rate > max_escalation + 1e-12:
        return f"{why}, and invalid answers alone exceed that escalation: only they are escalated"
    return f"{why}: the threshold with the most right minus wrong accepted answers per request"


def scored_answers(task: Task, examples: Sequence[Example], run: CandidateRun) -> tuple[str, list[Scored]]:
    """The metric calibrated on, and each of ``run``'s answers as calibration sees it.

    The metric is the task's primary one, scored per example as the paired tests score it. A
    primary metric with no per-example score (macro and weighted F1) is calibrated on accuracy:
    a threshold accepts or escalates single answers, so it can only be judged on single answers.
    """
    from steerlab.evaluation import metrics as M
    from steerlab.evaluation.results import _context, _gold

    context = _context(task, [run])
    golds = [_gold(example) for example in examples]
    metric = task.metrics.primary
    stats = M.sufficient_stats(metric, golds, run.predictions, context)
    if stats is None or not stats.decomposes:
        metric = "accuracy"
    scores = M.per_example_scores(metric, golds, run.predictions, context)
    answers = [
        Scored(p.confidence, 0.0 if s is None else float(s), bool(p.valid))
        for p, s in zip(run.predictions, scores, strict=True)
    ]
    return metric, answers
