"""The statistics against hand computation: exact McNemar p-values, bootstrap intervals that
behave as intervals should, paired tests that find a real difference and not a null one, the
sentences a report prints, and a detectable difference that shrinks with the test set."""

from __future__ import annotations

import math
import time
from statistics import NormalDist

import numpy as np
import pytest

from steerlab.evaluation import stats
from steerlab.evaluation.metrics import METRICS, MetricContext, accuracy, macro_f1
from steerlab.evaluation.prediction import Prediction
from steerlab.evaluation.stats import (
    bootstrap_ci,
    compare,
    mcnemar_exact,
    minimum_detectable_difference,
    paired_bootstrap,
)

NO_CONTEXT = MetricContext()


def labelled(n: int, right: float, seed: int, candidate: str = "c", n_labels: int = 5) -> tuple[list, list]:
    """n golds over n_labels labels and predictions right with probability ``right``."""
    rng = np.random.default_rng(seed)
    golds = [f"l{i % n_labels}" for i in range(n)]
    predictions = [
        Prediction("", candidate, g if rng.random() < right else f"l{rng.integers(n_labels)}") for g in golds
    ]
    return golds, predictions


def test_public_api() -> None:
    for name in stats.__all__:
        assert hasattr(stats, name), name


# --- McNemar ---------------------------------------------------------------------------------


def test_mcnemar_exact_p_by_hand() -> None:
    # b = 10, c = 2: p = 2 * P(X <= 2 | n = 12, 1/2) = 2 * (1 + 12 + 66) / 4096.
    result = mcnemar_exact([True] * 10 + [False] * 2 + [True] * 5, [False] * 10 + [True] * 2 + [True] * 5)
    assert (result.b, result.c, result.n) == (10, 2, 17)
    assert result.p_value == pytest.approx(158 / 4096) == pytest.approx(0.0386, abs=1e-4)
    assert result.diff == pytest.approx(8 / 17)
    # b = 5, c = 0: 2 / 32; the test is symmetric in A and B.
    assert mcnemar_exact([True] * 5, [False] * 5).p_value == pytest.approx(1 / 16)
    assert mcnemar_exact([False] * 5, [True] * 5).p_value == pytest.approx(1 / 16)


def test_mcnemar_without_discordant_pairs_or_with_balance_is_p_one() -> None:
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0
    assert mcnemar_exact([True, False, True, False], [False, True, False, True]).p_value == 1.0
    with pytest.raises(ValueError, match="paired"):
        mcnemar_exact([True], [True, False])


# --- bootstrap intervals ---------------------------------------------------------------------


def test_bootstrap_ci_contains_the_point_and_narrows_with_n() -> None:
    widths = []
    for n in (100, 2000):
        golds, predictions = labelled(n, 0.7, seed=n)
        point, low, high = bootstrap_ci(accuracy, golds, predictions, NO_CONTEXT)
        assert point == accuracy(golds, predictions, NO_CONTEXT)
        assert low < point < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3  # width goes as 1/sqrt(n): about 1/4.5 here
    # A 95% interval for a proportion near 0.7 on 2000 examples is about +-2 points wide.
    assert widths[1] == pytest.approx(2 * 1.96 * math.sqrt(0.7 * 0.3 / 2000), rel=0.2)


def test_bootstrap_resamples_statistics_exactly_as_recomputing_would() -> None:
    # The fast path draws the same resamples as recomputing the metric on each; same numbers.
    golds, predictions = labelled(150, 0.6, seed=3)
    ctx = MetricContext(labels=tuple(f"l{i}" for i in range(5)))
    for metric in (accuracy, macro_f1):
        fast = bootstrap_ci(metric, golds, predictions, ctx, n_resamples=200, seed=7)
        slow = bootstrap_ci(
            lambda g, p, c, m=metric: m(g, p, c), golds, predictions, ctx, n_resamples=200, seed=7
        )
        assert fast == pytest.approx(slow)


def test_bootstrap_ci_is_fast_for_770_examples() -> None:
    golds, predictions = labelled(770, 0.7, seed=1, n_labels=77)
    ctx = MetricContext(labels=tuple(f"l{i}" for i in range(77)))
    start = time.perf_counter()
    bootstrap_ci("accuracy", golds, predictions, ctx, n_resamples=1000)
    assert time.perf_counter() - start < 1.0
    start = time.perf_counter()
    point, low, high = bootstrap_ci("macro_f1", golds, predictions, ctx, n_resamples=1000)
    assert time.perf_counter() - start < 3.0
    assert low <= point <= high


def test_bootstrap_ci_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_ci("bleu", ["a"], [Prediction("", "c", "a")], NO_CONTEXT)
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_ci("accuracy", [], [], NO_CONTEXT)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci("accuracy", ["a"], [Prediction("", "c", "a")], NO_CONTEXT, confidence=95)


# --- paired bootstrap ------------------------------------------------------------------------


def test_paired_bootstrap_detects_a_real_difference() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(400) < 0.8, rng.random(400) < 0.65
    result = paired_bootstrap(a.astype(float), b.astype(float), n_resamples=4000)
    assert result.mean_diff == pytest.approx(a.mean() - b.mean())
    assert 0 < result.low < result.mean_diff < result.high
    assert result.p_value < 0.01


def test_paired_bootstrap_finds_nothing_in_a_null() -> None:
    # 100 null datasets: a 5% test should reject about 5 of them, and seldom more than 12.
    rng = np.random.default_rng(1)
    rejected = 0
    for seed in range(100):
        a, b = rng.random(200) < 0.7, rng.random(200) < 0.7
        rejected += (
            paired_bootstrap(a.astype(float), b.astype(float), n_resamples=1000, seed=seed).p_value < 0.05
        )
    assert 1 <= rejected <= 12
    same = paired_bootstrap([0.2, 0.5, 0.9], [0.2, 0.5, 0.9], n_resamples=100)
    assert (same.mean_diff, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_paired_bootstrap_p_agrees_with_its_interval() -> None:
    rng = np.random.default_rng(2)
    for shift in (0.0, 0.02, 0.05, 0.1):
        a = rng.random(300)
        b = a - shift + rng.normal(0, 0.2, 300)
        result = paired_bootstrap(a, b, n_resamples=2000, seed=3)
        excludes_zero = result.low > 0 or result.high < 0
        assert excludes_zero == (result.p_value < 0.05)


# --- compare ---------------------------------------------------------------------------------


def two_candidates(both: int, only_a: int, only_b: int, neither: int) -> tuple[list, list, list]:
    """Golds and two candidates' predictions with the given right/wrong pattern."""
    pattern = [(1, 1)] * both + [(1, 0)] * only_a + [(0, 1)] * only_b + [(0, 0)] * neither
    golds = [f"l{i % 4}" for i in range(len(pattern))]

    def answer(gold: str, right: int) -> str:
        return gold if right else f"l{(int(gold[1:]) + 1) % 4}"

    preds_a = [Prediction("", "A", answer(g, ra)) for g, (ra, _) in zip(golds, pattern, strict=True)]
    preds_b = [Prediction("", "B", answer(g, rb)) for g, (_, rb) in zip(golds, pattern, strict=True)]
    return golds, preds_a, preds_b


def test_compare_accuracy_uses_mcnemar_and_says_who_wins() -> None:
    golds, preds_a, preds_b = two_candidates(both=100, only_a=60, only_b=10, neither=30)
    result = compare("accuracy", golds, preds_a, preds_b, NO_CONTEXT, n_resamples=2000)
    assert (result.value_a, result.value_b) == (0.8, 0.55)
    assert result.diff == pytest.approx(0.25)
    assert result.test == "McNemar exact" and result.significant
    assert result.p_value == pytest.approx(
        mcnemar_exact([True] * 60 + [False] * 10, [False] * 60 + [True] * 10).p_value
    )
    assert result.low < 0.25 < result.high
    low, high = 100 * result.low, 100 * result.high
    assert result.summary == (
        f"A beats B by 25.0 points (95% CI {low:.1f}\u2013{high:.1f}), p < 0.001, McNemar exact"
    )
    # Turned around, the leader still comes first.
    flipped = compare("accuracy", golds, preds_b, preds_a, NO_CONTEXT, n_resamples=2000)
    assert flipped.diff == pytest.approx(-0.25)
    assert flipped.summary.startswith("A beats B by 25.0 points")


def test_compare_says_when_there_is_no_significant_difference() -> None:
    golds, preds_a, preds_b = two_candidates(both=50, only_a=3, only_b=2, neither=5)
    result = compare(
        "accuracy", golds, preds_a, preds_b, NO_CONTEXT, names=("prompt", "lora"), n_resamples=2000
    )
    assert not result.significant and result.p_value == 1.0  # b = 3, c = 2
    assert result.summary.startswith("No significant difference: prompt leads lora by 1.7 points (95% CI -")
    assert result.summary.endswith("p = 1.000, McNemar exact")


def test_compare_other_metrics_uses_the_paired_bootstrap() -> None:
    golds, preds_a, preds_b = two_candidates(both=100, only_a=60, only_b=10, neither=30)
    result = compare("macro_f1", golds, preds_a, preds_b, NO_CONTEXT, n_resamples=2000)
    assert result.test == "paired bootstrap" and result.significant
    assert result.value_a == pytest.approx(METRICS["macro_f1"](golds, preds_a, NO_CONTEXT))
    assert result.summary.startswith("A beats B by ") and result.summary.endswith(", paired bootstrap")
    with pytest.raises(ValueError, match="unknown metric"):
        compare("bleu", golds, preds_a, preds_b, NO_CONTEXT)


# --- minimum detectable difference -----------------------------------------------------------


def test_mdd_shrinks_with_n_and_is_a_few_points_at_770() -> None:
    mdds = [minimum_detectable_difference(n, 0.7) for n in (100, 300, 770, 3000, 10000)]
    assert mdds == sorted(mdds, reverse=True)
    assert 0.03 < mdds[2] < 0.08  # independent errors: about 6 points
    # Correlated candidates (15% discordant pairs) can resolve smaller differences.
    assert minimum_detectable_difference(770, 0.7, discordance=0.15) < mdds[2]
    assert minimum_detectable_difference(770, 0.7, power=0.9) > mdds[2]


def test_mdd_inverts_connors_sample_size() -> None:
    # Plugging the MDD back into Connor's (1987) formula gives back n.
    n, psi = 770, 0.15
    delta = minimum_detectable_difference(n, 0.7, discordance=psi)
    z_a, z_b = NormalDist().inv_cdf(0.975), NormalDist().inv_cdf(0.8)
    required = (z_a * math.sqrt(psi) + z_b * math.sqrt(psi - delta**2)) ** 2 / delta**2
    assert required == pytest.approx(n)


def test_mdd_is_infinite_when_no_gain_within_reach_is_detectable() -> None:
    assert minimum_detectable_difference(100, 0.99) == math.inf
    with pytest.raises(ValueError, match="baseline_accuracy"):
        minimum_detectable_difference(100, 1.5)
