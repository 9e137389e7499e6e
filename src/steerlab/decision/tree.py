"""The measurement-first decision tree, as code: which lever to pull, and why.

Fed only by measured results (quality with CIs, paired tests, failure categories, latency,
cost), the task's targets and volume, the size of the training split, measured tuning wall
times and, when there is one, a learning curve. The branches, in the order they are tried:

1. Something meets every target. Ship the simplest such candidate (prompt before retrieval
   before fine-tune), except that a tuned model which also meets them *and* is cheaper wins
   when its one-off cost pays back within the horizon at the stated volume (fine-tune for cost).
2. The quality target is met (or close) but latency or cost is not: no prompt iteration fixes
   that, so fine-tune a smaller model for cost, given enough data.
3. The best prompt is close (gap within its CI or a few points) and no other lever beats it
   significantly: iterate on the prompt.
4. Otherwise, read the best prompt's failures:
   - mostly knowledge (right once retrieval supplied context), or a retrieval candidate that
     beats the prompt significantly: add retrieval;
   - mostly behaviour or format that persists across prompt variants: fine-tune, if the train
     split is large enough; if not, collect data (how much, from the learning curve);
   - both in force: retrieval and a fine-tune (hybrid);
   - mostly prompt-sensitive: iterate on the prompt; undetermined: measure more variants.

Every recommendation carries its reasons (sentences with the numbers and tests behind them),
the evidence as data, and a confidence: high when the deciding comparison is significant or the
target is cleared by the whole CI; medium when the point estimate decides but the CI straddles;
low when the evidence is thin (few failures, undetermined categories, an extrapolated curve).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steerlab.decision.breakeven import PAYBACK_HORIZON_MONTHS, BreakEven, break_even
from steerlab.decision.learning_curve import RELIABLE_EXTRAPOLATION, LearningCurve

if TYPE_CHECKING:
    from steerlab.evaluation.results import CandidateResult, EvalResults
    from steerlab.task import Task

__all__ = [
    "ACTIONS",
    "CLOSE_GAP",
    "Decision",
    "Option",
    "decide",
    "minimum_training_examples",
]

ACTIONS: dict[str, str] = {
    "ship_prompt": "Prompting meets the targets: ship the prompt and stop here.",
    "iterate_prompt": "Prompting is close: iterate on the prompt before adding a lever.",
    "add_retrieval": "The failures are missing knowledge: add retrieval.",
    "fine_tune": "The failures are behaviour or format that prompting does not fix: fine-tune.",
    "fine_tune_for_cost": "Fine-tune for cost: a tuned small model can give the quality for less.",
    "retrieval_and_fine_tune": "Knowledge and behaviour failures both matter: retrieval plus a fine-tune.",
    "collect_data": "Fine-tuning is the lever, but there is too little data: collect more first.",
    "measure_more": "The evidence cannot tell the levers apart yet: measure more.",
}

CLOSE_GAP = 0.03
"""A gap to the quality target this small (3 points) counts as close even with a tight CI."""

DOMINANT = 0.4
"""A failure category this large a share of the wrong answers decides the lever."""

SUBSTANTIAL = 0.25
"""Two categories this large each make a hybrid recommendation."""

MIN_TRAIN = {"classify": 200, "extract": 200, "answer": 300, "generate": 300}
PER_LABEL = 10


def minimum_training_examples(task: Task) -> int:
    """Examples a LoRA fine-tune needs before it is worth trying, without a learning curve.

    A rule of thumb, used only when no curve was measured: a few hundred examples, and for
    classification at least ten per label.
    """
    base = MIN_TRAIN.get(task.kind, 300)
    return max(base, PER_LABEL * len(task.label_names)) if task.kind == "classify" else base


LEVER_ORDER = {"prompt": 0, "retrieval": 1, "fine_tune": 2, "retrieval+fine_tune": 3}


@dataclass(frozen=True)
class Option:
    """One measured candidate as the decision sees it."""

    name: str
    lever: str
    model: str
    quality: float
    low: float
    high: float
    p95_ms: float | None
    cost_per_1k_usd: float | None
    failures: dict[str, int]
    meets_quality: bool | None
    meets_latency: bool | None
    meets_cost: bool | None

    @property
    def meets_all(self) -> bool:
        return all(v is not False for v in (self.meets_quality, self.meets_latency, self.meets_cost))

    @property
    def wrong(self) -> int:
        return sum(self.failures.values())

    def share(self, *categories: str) -> float:
        return sum(self.failures.get(c, 0) for c in categories) / self.wrong if self.wrong else 0.0

    def show(self, metric: str) -> str:
        return f"{self.name} {metric} {self.quality:.1%} [{self.low:.1%}, {self.high:.1%}]"


@dataclass
class Decision:
    action: str
    headline: str
    candidate: str | None
    confidence: str
    reasons: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)
    break_even: BreakEven | None = None
    examples_needed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "headline": self.headline,
            "candidate": self.candidate,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
            "evidence": self.evidence,
            "break_even": None if self.break_even is None else self.break_even.to_dict(),
            "examples_needed": self.examples_needed,
        }


def lever_of(recipe: Mapping[str, Any]) -> str:
    retrieval, adapter = recipe.get("retrieval") is not None, recipe.get("adapter") is not None
    if retrieval and adapter:
        return "retrieval+fine_tune"
    return "retrieval" if retrieval else "fine_tune" if adapter else "prompt"


def _option(task: Task, result: CandidateResult, primary: str) -> Option:
    metric = result.metrics[primary]
    targets = task.targets
    p95 = result.ops.get("latency_p95_s")
    p95_ms = None if p95 is None else float(p95) * 1000
    cost = result.ops.get("cost_per_1k_usd")
    return Option(
        name=result.name,
        lever=lever_of(result.recipe),
        model=str(result.recipe.get("model")),
        quality=metric.value,
        low=metric.low,
        high=metric.high,
        p95_ms=p95_ms,
        cost_per_1k_usd=cost,
        failures=dict(result.failures),
        meets_quality=None if targets.quality is None else metric.value >= targets.quality,
        meets_latency=None
        if targets.p95_latency_ms is None or p95_ms is None
        else p95_ms <= targets.p95_latency_ms,
        meets_cost=None
        if targets.cost_per_1k_usd is None or cost is None
        else cost <= targets.cost_per_1k_usd,
    )


class _Comparisons:
    """Paired tests from the results, looked up in either order."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = {(r["a"], r["b"]): r for r in rows}

    def better(self, a: Option, b: Option) -> tuple[bool, str]:
        """Whether ``a`` beats ``b`` significantly, and the sentence that says so (or not)."""
        row, flipped = self.rows.get((a.name, b.name)), False
        if row is None:
            row, flipped = self.rows.get((b.name, a.name)), True
        if row is None:  # no paired test: fall back on non-overlapping intervals
            separated = a.low > b.high
            return separated, (
                f"{a.name} {a.quality:.1%} vs {b.name} {b.quality:.1%}: intervals "
                f"{'do not overlap' if separated else 'overlap'} (no paired test)"
            )
        diff = -row["diff"] if flipped else row["diff"]
        low, high = (-row["high"], -row["low"]) if flipped else (row["low"], row["high"])
        significant = row["p_value"] < 1 - row.get("confidence", 0.95) and diff > 0
        return significant, (
            f"{a.name} vs {b.name}: {diff * 100:+.1f} points [{low * 100:+.1f}, {high * 100:+.1f}], "
            f"p = {row['p_value']:.3g} ({row.get('test', 'paired test')})"
        )


def decide(
    task: Task,
    results: EvalResults,
    *,
    train_examples: int,
    training_wall_s: Mapping[str, float] | None = None,
    learning_curve: LearningCurve | None = None,
    horizon_months: float = PAYBACK_HORIZON_MONTHS,
) -> Decision:
    """Recommend a lever from measured ``results`` for ``task``'s targets and volume.

    ``training_wall_s`` maps tuned candidates to their measured training time (for the
    break-even); ``train_examples`` is the size of the train split a fine-tune would use.
    """
    primary = results.primary
    options = [_option(task, r, primary) for r in results.candidates]
    if not options:
        return Decision("measure_more", ACTIONS["measure_more"], None, "low", ["no candidate was measured"])
    tests = _Comparisons(results.comparisons)
    walls = dict(training_wall_s or {})
    prompts = [o for o in options if o.lever == "prompt"]
    best_prompt = max(prompts, key=lambda o: o.quality) if prompts else None
    target = task.targets.quality
    evidence: dict[str, Any] = {
        "metric": primary,
        "targets": task.targets.model_dump(),
        "monthly_requests": task.volume.monthly_requests,
        "train_examples": train_examples,
        "candidates": {o.name: _option_evidence(o) for o in options},
    }
    enough = _enough_data(task, train_examples, target, learning_curve)
    evidence["data"] = enough.evidence

    def made(action: str, candidate: Option | None, confidence: str, reasons: list[str], **extra: Any):
        return Decision(
            action,
            ACTIONS[action],
            None if candidate is None else candidate.name,
            confidence,
            reasons,
            evidence,
            **extra,
        )

    # 1. Something meets every target.
    meeting = [o for o in options if o.meets_all]
    if meeting and target is not None:
        simplest = min(meeting, key=lambda o: (LEVER_ORDER[o.lever], o.cost_per_1k_usd or 0.0, -o.quality))
        reasons = [f"{simplest.show(primary)} meets the target {target:.1%}" + _ops_clause(simplest, task)]
        confidence = "high" if simplest.low >= target else "medium"
        if confidence == "medium":
            reasons.append(f"the CI's lower end {simplest.low:.1%} is below the target: confirm on more data")
        cheaper = [
            o
            for o in meeting
            if "fine_tune" in o.lever
            and o is not simplest
            and o.cost_per_1k_usd is not None
            and simplest.cost_per_1k_usd is not None
            and o.cost_per_1k_usd < simplest.cost_per_1k_usd
        ]
        if "fine_tune" not in simplest.lever and cheaper:
            tuned = min(cheaper, key=lambda o: o.cost_per_1k_usd or 0.0)
            be = _break_even(task, simplest, tuned, walls, horizon_months)
            if be is not None:
                reasons.append(be.describe())
                if be.pays:
                    return made(
                        "fine_tune_for_cost",
                        tuned,
                        "high" if tuned.low >= target else "medium",
                        [f"{tuned.show(primary)} also meets the target, at lower cost", *reasons],
                        break_even=be,
                    )
                reasons.append(f"so {simplest.name} ships: at this volume tuning does not pay back in time")
        action = {
            "prompt": "ship_prompt",
            "retrieval": "add_retrieval",
            "fine_tune": "fine_tune",
            "retrieval+fine_tune": "retrieval_and_fine_tune",
        }[simplest.lever]
        if simplest.lever != "prompt" and best_prompt is not None:
            _, sentence = tests.better(simplest, best_prompt)
            reasons.append(f"{best_prompt.show(primary)} does not meet it; {sentence}")
        return made(action, simplest, confidence, reasons)

    if best_prompt is None:
        best = max(options, key=lambda o: o.quality)
        return made(
            "measure_more",
            best,
            "low",
            ["no prompt-only baseline was measured: every lever is judged against one"],
        )

    gap = (target - best_prompt.quality) if target is not None else 0.0
    half_ci = (best_prompt.high - best_prompt.low) / 2
    close = target is not None and gap <= max(half_ci, CLOSE_GAP)
    others = [o for o in options if o is not best_prompt and o.lever != "prompt"]
    beating = [(o, *tests.better(o, best_prompt)) for o in others]
    significant_wins = [(o, s) for o, won, s in beating if won]
    evidence["gap_to_target"] = gap

    # 2. Quality is there (or close), latency or cost is not: a prompt iteration cannot fix that.
    ops_fail = best_prompt.meets_latency is False or best_prompt.meets_cost is False
    if (best_prompt.meets_quality or close) and ops_fail:
        missed = " and ".join(
            name
            for name, ok in (("latency", best_prompt.meets_latency), ("cost", best_prompt.meets_cost))
            if ok is False
        )
        level = "meets" if best_prompt.meets_quality else f"is within {gap * 100:.1f} points of"
        reasons = [
            f"{best_prompt.show(primary)} {level} the quality target {target:.1%}"
            + _ops_clause(best_prompt, task)
            + f", but misses the {missed} target",
            "a prompt iteration cannot fix that; a small model tuned on this task can keep the quality "
            "at a fraction of the latency and cost",
        ]
        tuned = [o for o in options if "fine_tune" in o.lever]
        chosen = max(tuned, key=lambda o: o.quality) if tuned else None
        if chosen is not None:
            _, sentence = tests.better(chosen, best_prompt)
            reasons.append(f"measured: {chosen.show(primary)}{_ops_clause(chosen, task)}; {sentence}")
            if chosen.meets_quality is False:
                reasons.append(
                    f"{chosen.name} is not there yet ({(target - chosen.quality) * 100:.1f} points short): "
                    "more data, epochs or a larger base model"
                )
            if chosen.meets_latency is False:
                reasons.append(
                    f"{chosen.name} still misses the latency target ({chosen.p95_ms:.0f} ms at p95): "
                    "serve it with a smaller batch or on faster hardware"
                )
        be = _break_even(task, best_prompt, chosen, walls, horizon_months) if chosen is not None else None
        if be is not None:
            reasons.append(be.describe())
        if enough.ok:
            return made(
                "fine_tune_for_cost",
                chosen or best_prompt,
                "medium",
                [*reasons, enough.sentence],
                break_even=be,
            )
        return made(
            "collect_data", best_prompt, "medium", [*reasons, enough.sentence], examples_needed=enough.needed
        )

    # 3. Close: a prompt iteration is cheaper than a new lever.
    if close and not significant_wins:
        return made(
            "iterate_prompt",
            best_prompt,
            "medium",
            [
                f"{best_prompt.show(primary)} is {gap * 100:.1f} points below the target {target:.1%}, "
                f"within {'its CI' if gap <= half_ci else f'{CLOSE_GAP * 100:.0f} points'}",
                "no other lever measured beats it significantly",
            ],
        )

    # 4. Read the failures of the best prompt.
    wrong = best_prompt.wrong
    knowledge = best_prompt.share("knowledge")
    behaviour = best_prompt.share("behaviour", "format")
    sensitive = best_prompt.share("prompt_sensitive")
    undetermined = best_prompt.share("undetermined")
    evidence["failure_shares"] = {
        "knowledge": knowledge,
        "behaviour_or_format": behaviour,
        "prompt_sensitive": sensitive,
        "undetermined": undetermined,
        "abstention": best_prompt.share("abstention"),
        "wrong": wrong,
    }
    mix = (
        f"of {best_prompt.name}'s {wrong} wrong answers, {knowledge:.0%} are knowledge, "
        f"{behaviour:.0%} behaviour or format, {sensitive:.0%} prompt-sensitive, "
        f"{undetermined:.0%} undetermined"
    )
    gap_sentence = (
        f"{best_prompt.show(primary)} is {gap * 100:.1f} points below the target {target:.1%}"
        if target is not None
        else best_prompt.show(primary)
    )
    wins = {o.lever: (o, s) for o, s in sorted(significant_wins, key=lambda w: w[0].quality)}
    retrieval_win = wins.get("retrieval") or wins.get("retrieval+fine_tune")
    tuned_win = wins.get("fine_tune") or wins.get("retrieval+fine_tune")
    confidence = "high" if wrong >= 20 else "medium" if wrong >= 8 else "low"

    if knowledge >= SUBSTANTIAL and behaviour >= SUBSTANTIAL and enough.ok:
        reasons = [
            gap_sentence,
            mix,
            "both knowledge and behaviour failures are substantial",
            enough.sentence,
        ]
        return made(
            "retrieval_and_fine_tune", retrieval_win[0] if retrieval_win else None, confidence, reasons
        )

    if (knowledge >= DOMINANT and knowledge >= behaviour) or (retrieval_win and not tuned_win):
        reasons = [gap_sentence, mix]
        if retrieval_win:
            reasons.append(retrieval_win[1])
        elif task.data.knowledge_base is None:
            reasons.append(
                "the task has no knowledge base yet: add one (data.knowledge_base) and measure retrieval"
            )
        return made("add_retrieval", retrieval_win[0] if retrieval_win else None, confidence, reasons)

    if behaviour >= DOMINANT or tuned_win:
        reasons = [gap_sentence, mix]
        persist = best_prompt.failures.get("behaviour", 0) > 0 and len(prompts) >= 2
        if persist:
            reasons.append(f"behaviour failures persist across {len(prompts)} prompt variants")
        if tuned_win:
            reasons.append(tuned_win[1])
        if enough.ok:
            return made(
                "fine_tune", tuned_win[0] if tuned_win else None, confidence, [*reasons, enough.sentence]
            )
        return made(
            "collect_data",
            tuned_win[0] if tuned_win else None,
            "medium" if enough.needed else "low",
            [*reasons, enough.sentence],
            examples_needed=enough.needed,
        )

    if sensitive >= DOMINANT:
        return made(
            "iterate_prompt",
            best_prompt,
            confidence,
            [
                gap_sentence,
                mix,
                "the prompt variants disagree: a better prompt or an ensemble can recover these",
            ],
        )
    return made(
        "measure_more",
        best_prompt,
        "low",
        [
            gap_sentence,
            mix,
            "no failure category dominates: measure more prompt variants"
            + (
                " and a retrieval candidate"
                if task.data.knowledge_base is not None and not retrieval_win
                else ""
            ),
        ],
    )


@dataclass(frozen=True)
class _Enough:
    ok: bool
    needed: int | None
    sentence: str
    evidence: dict[str, Any]


def _enough_data(
    task: Task, train_examples: int, target: float | None, curve: LearningCurve | None
) -> _Enough:
    """Whether the train split is big enough to fine-tune, from the learning curve when measured."""
    if curve is not None and target is not None and curve.fit() is not None:
        needed = curve.examples_needed(target)
        evidence = {"learning_curve": curve.to_dict(), "examples_needed": needed}
        if needed is None:
            return _Enough(
                False,
                None,
                f"the learning curve of {curve.candidate} is flat: more data of this kind will not reach "
                f"{target:.1%}; change the base model or the task",
                evidence,
            )
        guess = "" if curve.reliable(needed) else " (far beyond the measured sizes: a rough guess)"
        if needed > train_examples and not curve.reliable(needed):
            # A slow curve extrapolated many-fold gives absurd precision ("collect 424,805 more"):
            # say what is known, the next size at which the curve can be read again.
            reach = math.ceil(RELIABLE_EXTRAPOLATION * curve.largest)
            return _Enough(
                False,
                None,
                f"the learning curve of {curve.candidate} rises too slowly to reach {target:.1%} within "
                f"{RELIABLE_EXTRAPOLATION:g}x the measured sizes (its slope says about {needed:,} examples: "
                f"a rough guess); collect at least {max(reach - train_examples, 1):,} more, measure it "
                "again, and consider a larger base model",
                evidence,
            )
        if needed <= train_examples:
            return _Enough(
                True,
                needed,
                f"the learning curve reaches {target:.1%} at about {needed:,} examples; "
                f"the train split has {train_examples:,}{guess}",
                evidence,
            )
        return _Enough(
            False,
            needed,
            f"the learning curve reaches {target:.1%} at about {needed:,} examples; the train split has "
            f"{train_examples:,}: collect about {needed - train_examples:,} more{guess}",
            evidence,
        )
    minimum = minimum_training_examples(task)
    evidence = {"minimum_examples": minimum}
    if train_examples >= minimum:
        return _Enough(
            True, None, f"{train_examples:,} training examples (rule of thumb: {minimum:,}+)", evidence
        )
    return _Enough(
        False,
        minimum,
        f"only {train_examples:,} training examples; collect at least {minimum - train_examples:,} more "
        f"(rule of thumb {minimum:,}; measure a learning curve to know better)",
        evidence,
    )


def _break_even(
    task: Task, baseline: Option, tuned: Option, walls: Mapping[str, float], horizon: float
) -> BreakEven | None:
    wall = walls.get(tuned.name)
    if wall is None or baseline.cost_per_1k_usd is None or tuned.cost_per_1k_usd is None:
        return None
    hardware = task.prices.hardware or {}
    per_hour = next(iter(hardware.values())).per_hour_usd if hardware else 0.0
    return break_even(
        baseline=baseline.name,
        tuned=tuned.name,
        baseline_cost_per_1k_usd=baseline.cost_per_1k_usd,
        tuned_cost_per_1k_usd=tuned.cost_per_1k_usd,
        training_wall_s=wall,
        hardware_per_hour_usd=per_hour,
        training_one_off_usd=task.prices.training_one_off_usd,
        monthly_requests=task.volume.monthly_requests,
        horizon_months=horizon,
    )


def _ops_clause(option: Option, task: Task) -> str:
    parts = []
    if option.p95_ms is not None:
        limit = task.targets.p95_latency_ms
        parts.append(f"p95 {option.p95_ms:.0f} ms" + (f" (target {limit:g})" if limit else ""))
    if option.cost_per_1k_usd is not None:
        limit = task.targets.cost_per_1k_usd
        parts.append(
            f"${option.cost_per_1k_usd:.4f}/1k" + (f" (target ${limit:g})" if limit is not None else "")
        )
    return f", {', '.join(parts)}" if parts else ""


def _option_evidence(option: Option) -> dict[str, Any]:
    return {
        "lever": option.lever,
        "model": option.model,
        "quality": option.quality,
        "ci": [option.low, option.high],
        "p95_ms": option.p95_ms,
        "cost_per_1k_usd": option.cost_per_1k_usd,
        "failures": option.failures,
        "meets": {
            "quality": option.meets_quality,
            "latency": option.meets_latency,
            "cost": option.meets_cost,
        },
    }
