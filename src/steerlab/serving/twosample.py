"""Two-sample tests for drift: has what a release sees moved away from what it was measured on?

Every test here compares a reference sample (the release's evaluation) with a window of live
requests and returns a statistic and a p-value. Permutation tests are used throughout because
the reference is often small (a few dozen evaluated examples), categories are often rare, and
confidences are bounded and skewed: a permutation null is exact under "both samples come from
one distribution" at any sample size, with no normal or chi-square approximation to break.
Permutations are drawn from a seeded generator, so the same samples give the same p-value.

- :func:`mmd_test`: inputs, as sentence embeddings. The maximum mean discrepancy with a Gaussian
  kernel (Gretton et al., 2012, JMLR 13) is zero exactly when the two distributions are equal,
  so it sees any change (a new topic, a new language, a change of mix), needs no model to be
  trained (a domain classifier would need a train/test split of an already small window) and no
  choice of projection. The kernel matrix is computed once; every permutation is then a
  matrix product, so 500 permutations of 2,500 points take well under a second.
- :func:`category_test`: a label (or enum field) distribution: the chi-square statistic of the
  2 x K table, with a permutation p-value (small expected counts are fine), and the population
  stability index as the size of the change.
- :func:`mean_test`: a mean (confidence), permutation p-value of the difference.
- :func:`rate_test`: a rate (escalation, fallback), one-sided Fisher exact test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CategoryShift",
    "MMDResult",
    "MeanShift",
    "RateShift",
    "category_test",
    "mean_test",
    "mmd_test",
    "psi",
    "rate_test",
]

_BLOCK = 128
"""Permutations evaluated per matrix product: bounds memory at (n + m) x 128 floats."""


def _p_value(null: np.ndarray, observed: float) -> float:
    """The permutation p-value with the observed sample counted among the permutations (Phipson &
    Smyth, 2010), so it is never 0; a tolerance keeps float noise from splitting ties."""
    hits = int(np.sum(null >= observed - 1e-12 * max(1.0, abs(observed))))
    return (1 + hits) / (1 + len(null))


@dataclass(frozen=True)
class MMDResult:
    statistic: float
    """Unbiased MMD² estimate: about 0 (it can dip below) when nothing moved."""
    p_value: float
    null_95: float
    """The 95th percentile of the permutation null: a statistic above it is significant at 5%."""
    bandwidth: float
    """The Gaussian kernel's sigma (median pairwise distance of the pooled sample)."""
    n_reference: int
    n_window: int


def mmd_test(
    reference: np.ndarray, window: np.ndarray, *, permutations: int = 500, seed: int = 0
) -> MMDResult:
    """MMD² between two sets of vectors (rows), with a permutation p-value.

    The bandwidth is the median heuristic on the pooled sample; it is fixed before permuting, so
    every permutation uses the same kernel and the test stays exact.
    """
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(window, dtype=np.float64)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"MMD needs at least 2 points on each side, got {n} and {m}")
    z = np.vstack([x, y])
    squared = np.sum(z * z, axis=1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * (z @ z.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    median = float(np.median(d2[np.triu_indices(n + m, k=1)]))
    if median <= 0.0:  # every point identical: nothing can differ
        return MMDResult(0.0, 1.0, 0.0, 0.0, n, m)
    kernel = np.exp(-d2 / (2.0 * median))
    total = float(kernel.sum())

    def statistic(inside: np.ndarray) -> np.ndarray:
        """MMD² for each column of ``inside`` (1 marks the reference side)."""
        product = kernel @ inside
        xx = np.sum(inside * product, axis=0)
        xy = np.sum(product, axis=0) - xx
        yy = total - xx - 2.0 * xy
        # The diagonal (k(z, z) = 1) is left out of the within-sample means: the unbiased form.
        return (xx - n) / (n * (n - 1)) + (yy - m) / (m * (m - 1)) - 2.0 * xy / (n * m)

    observed_side = np.zeros((n + m, 1))
    observed_side[:n] = 1.0
    observed = float(statistic(observed_side)[0])
    rng = np.random.default_rng(seed)
    null = []
    for start in range(0, permutations, _BLOCK):
        size = min(_BLOCK, permutations - start)
        order = rng.permuted(np.tile(np.arange(n + m), (size, 1)), axis=1)
        inside = np.zeros((n + m, size))
        inside[order[:, :n].T, np.arange(size)[None, :]] = 1.0
        null.append(statistic(inside))
    draws = np.concatenate(null)
    return MMDResult(
        statistic=observed,
        p_value=_p_value(draws, observed),
        null_95=float(np.quantile(draws, 0.95)),
        bandwidth=math.sqrt(median),
        n_reference=n,
        n_window=m,
    )


def psi(reference: Mapping[str, int], window: Mapping[str, int]) -> float:
    """Population stability index, with half a count added to every category of both sides so a
    category absent on one side gives a large but finite term. Rules of thumb (credit scoring,
    where it comes from): below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major one."""
    categories = sorted(set(reference) | set(window))
    if not categories:
        return 0.0
    r = np.array([reference.get(c, 0) for c in categories], dtype=np.float64) + 0.5
    w = np.array([window.get(c, 0) for c in categories], dtype=np.float64) + 0.5
    r, w = r / r.sum(), w / w.sum()
    return float(np.sum((w - r) * np.log(w / r)))


@dataclass(frozen=True)
class CategoryShift:
    chi2: float
    p_value: float | None
    """None when there is nothing to test (one category in all, or an empty side)."""
    psi: float
    reference: dict[str, float]
    """Share of each category in the reference, every category of either side present."""
    window: dict[str, float]


def _chi2(inside: np.ndarray, totals: np.ndarray, n_inside: int, n_all: int) -> np.ndarray:
    """Pearson's chi-square of the 2 x K table, for each row of ``inside`` (counts on one side)."""
    expected_in = totals * (n_inside / n_all)
    expected_out = totals - expected_in
    outside = totals - inside
    return np.sum(
        (inside - expected_in) ** 2 / expected_in + (outside - expected_out) ** 2 / expected_out, axis=-1
    )


def category_test(
    reference: Mapping[str, int], window: Mapping[str, int], *, permutations: int = 2000, seed: int = 0
) -> CategoryShift:
    """Has the mix of categories changed? Chi-square with a permutation p-value, and the PSI.

    The permutation null shuffles which observations are "reference" with the category totals
    held, as Fisher's exact test does for a 2 x 2 table, so a category seen twice is as valid as
    one seen a thousand times; no merging of rare categories is needed.
    """
    categories = sorted(c for c in set(reference) | set(window) if reference.get(c, 0) + window.get(c, 0) > 0)
    ref = np.array([reference.get(c, 0) for c in categories], dtype=np.int64)
    win = np.array([window.get(c, 0) for c in categories], dtype=np.int64)
    n_ref, n_win = int(ref.sum()), int(win.sum())
    shares_ref = {c: (float(v) / n_ref if n_ref else 0.0) for c, v in zip(categories, ref, strict=True)}
    shares_win = {c: (float(v) / n_win if n_win else 0.0) for c, v in zip(categories, win, strict=True)}
    change = psi(reference, window)
    if len(categories) < 2 or n_ref == 0 or n_win == 0:
        return CategoryShift(0.0, None, change, shares_ref, shares_win)
    totals = (ref + win).astype(np.float64)
    n_all = n_ref + n_win
    # Permute the smaller side's membership: the counts of the other follow from the totals.
    small, n_small = (ref, n_ref) if n_ref <= n_win else (win, n_win)
    observed = float(_chi2(small.astype(np.float64), totals, n_small, n_all))
    codes = np.repeat(np.arange(len(categories)), (ref + win))
    rng = np.random.default_rng(seed)
    k = len(categories)
    null = []
    for start in range(0, permutations, 512):
        size = min(512, permutations - start)
        drawn = rng.permuted(np.tile(codes, (size, 1)), axis=1)[:, :n_small]
        flat = (drawn + k * np.arange(size)[:, None]).ravel()
        counts = np.bincount(flat, minlength=size * k).reshape(size, k).astype(np.float64)
        null.append(_chi2(counts, totals, n_small, n_all))
    return CategoryShift(observed, _p_value(np.concatenate(null), observed), change, shares_ref, shares_win)


@dataclass(frozen=True)
class MeanShift:
    reference: float
    window: float
    difference: float
    """window minus reference."""
    p_value: float
    """Two-sided."""


def mean_test(
    reference: Sequence[float], window: Sequence[float], *, permutations: int = 2000, seed: int = 0
) -> MeanShift:
    """Difference of two means with a two-sided permutation p-value (no normality assumed:
    confidences pile up near 1)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(window, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("a mean needs at least one value on each side")
    pooled = np.concatenate([a, b])
    total, n = float(pooled.sum()), len(a)
    observed = float(b.mean() - a.mean())
    rng = np.random.default_rng(seed)
    null = []
    for start in range(0, permutations, 512):
        size = min(512, permutations - start)
        drawn = rng.permuted(np.tile(pooled, (size, 1)), axis=1)
        inside = drawn[:, :n].sum(axis=1)
        null.append(np.abs((total - inside) / len(b) - inside / n))
    p = _p_value(np.concatenate(null), abs(observed))
    return MeanShift(float(a.mean()), float(b.mean()), observed, p)


@dataclass(frozen=True)
class RateShift:
    reference: float
    window: float
    p_value: float
    """One-sided: the probability of a window rate at least this much higher by chance."""


def rate_test(reference_hits: int, reference_n: int, window_hits: int, window_n: int) -> RateShift:
    """Is the window's rate higher than the reference's? One-sided Fisher exact test, which takes
    the reference's own uncertainty into account (0 failures in 20 evaluated examples does not
    mean a rate of 0)."""
    from scipy.stats import fisher_exact

    if reference_n <= 0 or window_n <= 0:
        raise ValueError("a rate needs at least one observation on each side")
    table = [[window_hits, window_n - window_hits], [reference_hits, reference_n - reference_hits]]
    p = float(fisher_exact(table, alternative="greater").pvalue)
    return RateShift(reference_hits / reference_n, window_hits / window_n, min(1.0, p))
