"""Discrimination power: can the judge tell good responses from mediocre ones, and with how many items?

The test is one-sided Mann-Whitney (good > mediocre): rank-based, so it suits ordinal grades and
makes no normality assumption. Power is estimated by resampling the observed score distributions.
"""
from __future__ import annotations

import numpy as np
import scipy.stats

from calibration.stats.bootstrap import ArrayLike, json_float


def _scores(x: ArrayLike, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0:
        raise ValueError(f"{what}: no scores")
    if np.isnan(a).any():
        raise ValueError(f"{what}: scores contain nan")
    return a


def mann_whitney_greater(good: ArrayLike, mediocre: ArrayLike) -> float:
    """One-sided Mann-Whitney U p-value for "good scores tend to exceed mediocre scores".

    ``scipy.stats.mannwhitneyu(good, mediocre, alternative="greater")`` (scipy's default method:
    exact for small samples without ties, else normal approximation with tie correction and
    continuity correction). 1.0 when every score in both groups is the same (no evidence).
    """
    g, m = _scores(good, "good"), _scores(mediocre, "mediocre")
    return float(scipy.stats.mannwhitneyu(g, m, alternative="greater").pvalue)


def power_at_n(
    good: ArrayLike, mediocre: ArrayLike, n: int = 30, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> float:
    """Estimated power of the one-sided Mann-Whitney test with ``n`` items per group.

    Share of ``n_boot`` simulated studies (``n`` scores drawn with replacement from each observed
    group) in which ``p < alpha``. All studies are tested at once (``mannwhitneyu(axis=1)``). A
    study where every score ties has p = nan and counts as not significant.
    """
    g, m = _scores(good, "good"), _scores(mediocre, "mediocre")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    gs = rng.choice(g, size=(n_boot, n), replace=True)
    ms = rng.choice(m, size=(n_boot, n), replace=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = scipy.stats.mannwhitneyu(gs, ms, alternative="greater", axis=1).pvalue
    return float(np.mean(np.asarray(p) < alpha))


def n_for_power(
    good: ArrayLike,
    mediocre: ArrayLike,
    target: float = 0.8,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    n_max: int = 500,
) -> int | None:
    """Smallest ``n`` per group whose :func:`power_at_n` reaches ``target``, or None beyond ``n_max``.

    Search: n = 2, 4, 8, ... (capped at ``n_max``) until power >= target, then bisection between
    the last failing and the first passing n. Every evaluation uses the same ``seed``, so the answer
    is reproducible; it assumes power grows with n (true in expectation, up to resampling noise).
    """
    def ok(k: int) -> bool:
        return power_at_n(good, mediocre, n=k, n_boot=n_boot, alpha=alpha, seed=seed) >= target

    if n_max < 2:
        raise ValueError(f"n_max must be at least 2, got {n_max}")
    lo, hi = 1, 2  # lo: known (or assumed, for n=1) to fail
    while not ok(hi):
        if hi >= n_max:
            return None
        lo, hi = hi, min(2 * hi, n_max)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def power_summary(
    good: ArrayLike,
    mediocre: ArrayLike,
    n: int = 30,
    target: float = 0.8,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    n_max: int = 500,
) -> dict:
    """``{"p_value", "power_at_30", "n_for_80", "good_n", "mediocre_n"}``.

    ``p_value``: one-sided Mann-Whitney on the full groups. ``power_at_30``: :func:`power_at_n`
    at ``n`` (30 by default; the key keeps its name). ``n_for_80``: :func:`n_for_power` for
    ``target`` (0.8 by default), None if not reached within ``n_max``. Undefined values are None.
    """
    g, m = _scores(good, "good"), _scores(mediocre, "mediocre")
    return {
        "p_value": json_float(mann_whitney_greater(g, m)),
        "power_at_30": json_float(power_at_n(g, m, n=n, n_boot=n_boot, alpha=alpha, seed=seed)),
        "n_for_80": n_for_power(g, m, target=target, n_boot=n_boot, alpha=alpha, seed=seed, n_max=n_max),
        "good_n": int(g.size),
        "mediocre_n": int(m.size),
    }


__all__ = ["mann_whitney_greater", "n_for_power", "power_at_n", "power_summary"]
