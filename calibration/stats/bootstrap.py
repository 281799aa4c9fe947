"""Generic bootstrap helpers: item resampling, percentile intervals, paired before/after deltas.

All resampling is seeded: ``numpy.random.default_rng(seed)``, so the same inputs and seed give the
same interval on every run and every machine.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.stats

ArrayLike = Sequence[float] | np.ndarray

# Rows of resamples handled at once, chosen so a chunk holds about this many elements. Bounds the
# memory of the (n_boot, n) intermediates without changing any result (the indices are drawn once).
CHUNK_ELEMENTS = 2_000_000


def resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Item indices for ``n_boot`` bootstrap resamples of ``n`` items: int array of shape ``(n_boot, n)``.

    Row ``r`` is resample ``r``: ``n`` draws with replacement from ``range(n)``. Every statistic of
    one analysis should use the same indices so that their resamples are paired.
    """
    if n < 1:
        raise ValueError(f"cannot resample an empty sample (n={n})")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n))


def chunk_rows(n_rows: int, n_cols: int) -> list[slice]:
    """Row slices covering ``range(n_rows)`` with about ``CHUNK_ELEMENTS`` elements each."""
    step = max(1, CHUNK_ELEMENTS // max(1, n_cols))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def percentile_ci(values: ArrayLike, ci: float = 0.95) -> list[float]:
    """Percentile interval ``[q_(1-ci)/2, q_(1+ci)/2]`` of bootstrap replicates, ignoring nan.

    Replicates are nan where the statistic is undefined on that resample (e.g. kappa when a
    resample holds one category only); they are dropped rather than poisoning the interval.
    Returns ``[nan, nan]`` when no replicate is defined.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return [math.nan, math.nan]
    lo, hi = np.percentile(v, [100.0 * (1.0 - ci) / 2.0, 100.0 * (1.0 + ci) / 2.0])
    return [float(lo), float(hi)]


def bootstrap_ci(
    stat: Callable[..., np.ndarray],
    *arrays: ArrayLike,
    n_boot: int = 10_000,
    seed: int = 0,
    ci: float = 0.95,
) -> tuple[float, list[float]]:
    """Point estimate and percentile interval of a vectorised statistic of paired arrays.

    ``stat`` receives one 2-D array per input, each of shape ``(rows, n)`` with one resample per
    row (items resampled jointly across the arrays), and returns one value per row. The point
    estimate is ``stat`` on the original data (a single row).

    Example: ``bootstrap_ci(lambda d: d.mean(axis=1), diffs)``.
    """
    data = [np.asarray(a, dtype=float).ravel() for a in arrays]
    if not data:
        raise ValueError("bootstrap_ci needs at least one data array")
    n = data[0].size
    if any(d.size != n for d in data):
        raise ValueError(f"arrays differ in length: {[d.size for d in data]}")
    point = float(np.asarray(stat(*[d[None, :] for d in data])).ravel()[0])
    idx = resample_indices(n, n_boot, seed)
    reps = np.concatenate([np.asarray(stat(*[d[idx[s]] for d in data])).ravel() for s in chunk_rows(n_boot, n)])
    return point, percentile_ci(reps, ci)


def paired_delta(before: ArrayLike, after: ArrayLike, n_boot: int = 10_000, seed: int = 0, ci: float = 0.95) -> dict:
    """Mean paired change ``mean(after - before)``, its bootstrap interval and a Wilcoxon p-value.

    Used by bias probes: the same items graded before and after a perturbation. Pairs are
    resampled together (percentile interval over ``n_boot`` resamples). ``p`` is the two-sided
    Wilcoxon signed-rank test (``zero_method="wilcox"``: zero differences are dropped), a
    distribution-free test of a shift that suits ordinal grades; it is 1.0 when every difference
    is zero (no evidence of any change). Returns ``{"delta", "ci": [lo, hi], "p", "n"}``.
    """
    b = np.asarray(before, dtype=float).ravel()
    a = np.asarray(after, dtype=float).ravel()
    if a.size != b.size:
        raise ValueError(f"before and after differ in length ({b.size} vs {a.size})")
    if a.size == 0:
        raise ValueError("paired_delta needs at least one pair")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("paired_delta: before/after contain nan; drop incomplete pairs first")
    d = a - b
    delta, interval = bootstrap_ci(lambda x: x.mean(axis=1), d, n_boot=n_boot, seed=seed, ci=ci)
    if np.all(d == 0):
        p = 1.0
    else:
        p = float(scipy.stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return {"delta": json_float(delta), "ci": [json_float(x) for x in interval], "p": json_float(p), "n": int(d.size)}


def json_float(x: float) -> float | None:
    """Python float for JSON output; nan (undefined) becomes None."""
    x = float(x)
    return None if math.isnan(x) else x
