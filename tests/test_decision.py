"""The decision tree on synthetic result sets: one per branch, and the levers that flip it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from steerlab.decision import CurvePoint, LearningCurve, break_even, decide
from steerlab.evaluation.results import CandidateResult, EvalResults, MetricValue
from steerlab.task import load_task

FAILURE_KINDS = ("format", "abstention", "knowledge", "behaviour", "prompt_sensitive", "undetermined")


def make_task(
    tmp_path: Path,
    *,
    quality: float = 0.9,
    p95_ms: float | None = 2000,
    cost: float | None = 1.0,
    volume: int = 100_000,
    knowledge_base: bool = False,
) -> Any:
    folder = tmp_path / f"task-{quality}-{p95_ms}-{cost}-{volume}-{knowledge_base}"
    folder.mkdir()
    (folder / "train.jsonl").write_text('{"text": "hello", "label": "a"}\n')
    kb = ""
    if knowledge_base:
        (folder / "kb").mkdir()
        (folder / "kb" / "policy.md").write_text("# Policy\nRefunds within 30 days.\n")
        kb = "  knowledge_base: kb\n"
    targets = [f"  quality: {quality}"]
    if p95_ms is not None:
        targets.append(f"  p95_latency_ms: {p95_ms}")
    if cost is not None:
        targets.append(f"  cost_per_1k_usd: {cost}")
    (folder / "task.yaml").write_text(
        "name: decide-me\nkind: classify\ninputs: [text]\n"
        "output:\n  field: label\n  labels: [a, b, c]\n"
        f"data:\n  train: train.jsonl\n{kb}"
        "targets:\n" + "\n".join(targets) + "\n"
        f"volume:\n  monthly_requests: {volume}\n"
        "prices:\n  hardware:\n    cpu: {per_hour_usd: 0.5}\n  training_one_off_usd: 20\n"
    )
    return load_task(folder)


def cand(
    name: str,
    quality: float,
    *,
    half: float = 0.02,
    lever: str = "prompt",
    model: str = "small",
    p95_s: float = 0.5,
    cost: float = 0.1,
    failures: dict[str, int] | None = None,
    n: int = 500,
) -> CandidateResult:
    recipe: dict[str, Any] = {"model": model, "retrieval": None, "adapter": None}
    if "retrieval" in lever:
        recipe["retrieval"] = {"index": "default", "k": 4}
    if "fine_tune" in lever:
        recipe["adapter"] = "lora-123"
    return CandidateResult(
        name=name,
        fingerprint=name,
        recipe=recipe,
        n=n,
        metrics={"accuracy": MetricValue(quality, max(0.0, quality - half), min(1.0, quality + half))},
        validity_rate=1.0,
        ops={
            "latency_p50_s": p95_s / 2,
            "latency_p95_s": p95_s,
            "input_tokens_mean": 120.0,
            "output_tokens_mean": 4.0,
            "cost_per_1k_usd": cost,
            "cost_per_success_usd": cost / 1000 / quality,
            "seconds": 10.0,
        },
        failures={k: (failures or {}).get(k, 0) for k in FAILURE_KINDS},
    )


def results(*candidates: CandidateResult, comparisons: list[dict[str, Any]] = ()) -> EvalResults:
    return EvalResults(
        task="decide-me",
        kind="classify",
        dataset_version="ds-1",
        split="test",
        n=500,
        primary="accuracy",
        candidates=list(candidates),
        comparisons=list(comparisons),
        minimum_detectable_difference=0.05,
    )


def paired(a: str, b: str, diff: float, p: float) -> dict[str, Any]:
    return {
        "a": a,
        "b": b,
        "diff": diff,
        "low": diff - 0.03,
        "high": diff + 0.03,
        "p_value": p,
        "test": "mcnemar",
    }


def test_prompting_that_meets_the_targets_ships_and_stops(tmp_path: Path) -> None:
    task = make_task(tmp_path)
    decision = decide(task, results(cand("zero-shot", 0.95)), train_examples=2000)
    assert decision.action == "ship_prompt" and decision.candidate == "zero-shot"
    assert decision.confidence == "high"  # the whole CI clears the target
    assert "95.0%" in decision.reasons[0] and "90.0%" in decision.reasons[0]


def test_a_higher_quality_target_turns_shipping_into_another_lever(tmp_path: Path) -> None:
    prompt = cand("zero-shot", 0.91, failures={"behaviour": 30, "prompt_sensitive": 5})
    other = cand("few-shot", 0.85, failures={"behaviour": 40})
    assert decide(make_task(tmp_path, quality=0.9), results(prompt, other), train_examples=2000).action == (
        "ship_prompt"
    )
    raised = decide(make_task(tmp_path, quality=0.97), results(prompt, other), train_examples=2000)
    assert raised.action == "fine_tune"
    assert any("behaviour failures persist across 2 prompt variants" in r for r in raised.reasons)


def test_a_prompt_just_short_of_the_target_is_iterated_on(tmp_path: Path) -> None:
    task = make_task(tmp_path)
    decision = decide(
        task, results(cand("zero-shot", 0.885, failures={"behaviour": 50})), train_examples=2000
    )
    assert decision.action == "iterate_prompt"
    assert "1.5 points below" in decision.reasons[0]


def test_knowledge_failures_call_for_retrieval(tmp_path: Path) -> None:
    task = make_task(tmp_path, knowledge_base=True)
    prompt = cand("zero-shot", 0.6, failures={"knowledge": 120, "behaviour": 40, "prompt_sensitive": 40})
    rag = cand("rag-k4", 0.8, lever="retrieval", failures={"behaviour": 60, "undetermined": 40})
    decision = decide(
        task, results(rag, prompt, comparisons=[paired("rag-k4", "zero-shot", 0.2, 1e-6)]), train_examples=50
    )
    assert decision.action == "add_retrieval" and decision.candidate == "rag-k4"
    assert any("60% are knowledge" in r for r in decision.reasons)
    assert any("+20.0 points" in r and "p = 1e-06" in r for r in decision.reasons)


def test_retrieval_that_meets_the_targets_is_the_recommendation(tmp_path: Path) -> None:
    task = make_task(tmp_path, knowledge_base=True)
    prompt = cand("zero-shot", 0.6, failures={"knowledge": 150, "behaviour": 50})
    rag = cand("rag-k4", 0.95, lever="retrieval")
    decision = decide(
        task, results(rag, prompt, comparisons=[paired("rag-k4", "zero-shot", 0.35, 1e-9)]), train_examples=50
    )
    assert decision.action == "add_retrieval" and decision.confidence == "high"


def test_behaviour_failures_with_enough_data_call_for_a_fine_tune(tmp_path: Path) -> None:
    task = make_task(tmp_path)
    zero = cand("zero-shot", 0.5, failures={"behaviour": 200, "prompt_sensitive": 50})
    few = cand("few-shot", 0.55, failures={"behaviour": 200, "prompt_sensitive": 25})
    decision = decide(task, results(few, zero), train_examples=5000)
    assert decision.action == "fine_tune"
    assert any("5,000 training examples" in r for r in decision.reasons)


def test_behaviour_failures_with_too_little_data_say_how_much_to_collect(tmp_path: Path) -> None:
    task = make_task(tmp_path)
    zero = cand("zero-shot", 0.5, failures={"behaviour": 200, "prompt_sensitive": 50})
    few = cand("few-shot", 0.55, failures={"behaviour": 200, "prompt_sensitive": 25})
    scarce = decide(task, results(few, zero), train_examples=60)
    assert scarce.action == "collect_data" and scarce.examples_needed == 200  # the rule of thumb
    # quality = 0.3 + 0.1 ln(n): 0.9 is reached at n = e^6 = 404 examples
    curve = LearningCurve.of(
        "tuned", "accuracy", [CurvePoint(n, 0.3 + 0.1 * math.log(n)) for n in (20, 40, 80, 160)]
    )
    measured = decide(task, results(few, zero), train_examples=160, learning_curve=curve)
    assert measured.action == "collect_data" and measured.examples_needed == math.ceil(math.exp(6))
    assert any("collect about 244 more" in r for r in measured.reasons)
    plenty = decide(task, results(few, zero), train_examples=500, learning_curve=curve)
    assert plenty.action == "fine_tune"
    # A slow curve (0.9 at e^24 examples) is not turned into "collect 26 billion more": the
    # advice is the next size where the curve can be read again (4x the largest measured).
    slow = LearningCurve.of(
        "tuned", "accuracy", [CurvePoint(n, 0.3 + 0.025 * math.log(n)) for n in (20, 40, 80, 160)]
    )
    vague = decide(task, results(few, zero), train_examples=160, learning_curve=slow)
    assert vague.action == "collect_data" and vague.examples_needed is None
    assert any("collect at least 480 more" in r and "rough guess" in r for r in vague.reasons)


def test_both_knowledge_and_behaviour_failures_make_a_hybrid(tmp_path: Path) -> None:
    task = make_task(tmp_path, knowledge_base=True)
    prompt = cand("zero-shot", 0.5, failures={"knowledge": 90, "behaviour": 110, "prompt_sensitive": 50})
    other = cand("few-shot", 0.45, failures={"behaviour": 200})
    decision = decide(task, results(prompt, other), train_examples=3000)
    assert decision.action == "retrieval_and_fine_tune"


def test_a_cheaper_tuned_model_wins_for_cost_only_where_the_volume_pays_for_it(tmp_path: Path) -> None:
    big = cand("big-prompted", 0.93, model="large", cost=0.8, p95_s=1.0)
    tuned = cand("small-tuned", 0.94, lever="fine_tune", cost=0.05, p95_s=0.1)
    walls = {"small-tuned": 3600.0}  # one hour at $0.50 + $20 one-off = $20.50
    busy = decide(
        make_task(tmp_path, volume=1_000_000), results(big, tuned), train_examples=5000, training_wall_s=walls
    )
    assert busy.action == "fine_tune_for_cost" and busy.candidate == "small-tuned"
    assert busy.break_even is not None and busy.break_even.pays
    assert busy.break_even.monthly_saving_usd == pytest.approx(750.0)
    assert busy.break_even.months_to_payback == pytest.approx(20.5 / 750)
    quiet = decide(
        make_task(tmp_path, volume=1000), results(big, tuned), train_examples=5000, training_wall_s=walls
    )
    assert quiet.action == "ship_prompt" and quiet.candidate == "big-prompted"
    assert any("does not pay back" in r for r in quiet.reasons)


def test_quality_without_the_cost_target_calls_for_a_fine_tune_for_cost(tmp_path: Path) -> None:
    task = make_task(tmp_path, cost=0.05)
    big = cand("big-prompted", 0.95, model="large", cost=0.8)
    decision = decide(task, results(big), train_examples=5000)
    assert decision.action == "fine_tune_for_cost"
    assert "misses the cost target" in decision.reasons[0]
    assert decide(task, results(big), train_examples=20).action == "collect_data"


def test_break_even_arithmetic() -> None:
    be = break_even(
        baseline="p",
        tuned="t",
        baseline_cost_per_1k_usd=1.0,
        tuned_cost_per_1k_usd=0.5,
        training_wall_s=7200,
        hardware_per_hour_usd=1.0,
        training_one_off_usd=10.0,
        monthly_requests=4000,
    )
    assert be.one_off_usd == pytest.approx(12.0)
    assert be.monthly_saving_usd == pytest.approx(2.0)
    assert be.months_to_payback == pytest.approx(6.0) and be.pays
    assert be.break_even_monthly_requests == pytest.approx(2000.0)  # 12 months at $1 a month
    worse = break_even(
        baseline="p",
        tuned="t",
        baseline_cost_per_1k_usd=0.5,
        tuned_cost_per_1k_usd=1.0,
        training_wall_s=60,
        hardware_per_hour_usd=1.0,
        training_one_off_usd=0.0,
        monthly_requests=4000,
    )
    assert math.isinf(worse.months_to_payback) and not worse.pays
    assert worse.to_dict()["months_to_payback"] is None


def test_the_learning_curve_fit_recovers_a_log_linear_curve() -> None:
    curve = LearningCurve.of(
        "t", "accuracy", [CurvePoint(n, 0.2 + 0.05 * math.log(n)) for n in (100, 10, 1000)]
    )
    a, b = curve.fit()
    assert a == pytest.approx(0.2) and b == pytest.approx(0.05)
    assert curve.predict(10_000) == pytest.approx(0.2 + 0.05 * math.log(10_000))
    assert curve.examples_needed(0.5) == math.ceil(math.exp(6))
    assert not curve.reliable(10_000) and curve.reliable(4000)
    flat = LearningCurve.of("t", "accuracy", [CurvePoint(10, 0.5), CurvePoint(100, 0.5)])
    assert flat.examples_needed(0.9) is None


def test_a_prompt_close_on_quality_but_far_off_on_latency_is_not_iterated_on(tmp_path: Path) -> None:
    """BANKING77's shape: nearest-8 few-shot is within its CI of the accuracy target but 70x
    over the latency target; a better prompt cannot fix that, a tuned small model can."""
    task = make_task(tmp_path, p95_ms=300)
    nearest = cand("nearest-8", 0.894, p95_s=20.9, failures={"behaviour": 70, "prompt_sensitive": 12})
    zero = cand("zero-shot", 0.219, p95_s=1.9, failures={"behaviour": 500, "prompt_sensitive": 100})
    decision = decide(task, results(nearest, zero), train_examples=9000)
    assert decision.action == "fine_tune_for_cost"
    assert "within 0.6 points" in decision.reasons[0] and "misses the latency target" in decision.reasons[0]
    fast = make_task(tmp_path, p95_ms=30_000)
    assert decide(fast, results(nearest, zero), train_examples=9000).action == "iterate_prompt"
