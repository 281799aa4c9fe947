"""Paired, seed-averaged comparison of two models on the same benchmark items (pure functions, no I/O).

A model's run on a task is a matrix ``scores[seed, item]`` of per-item scores in [0, 1] (1 = correct). Seeds are
averaged within each item first, ``x_i = mean_s scores[s, i]``, so that seed noise is treated as part of each
item's score and the *items* are the unit of resampling: the questions are the sample drawn from a population of
possible questions, which is what generalises. Every figure is in points (percentage points, 0-100).

Resampling is seeded: ``numpy.random.default_rng(seed)``; the same inputs and seed give the same figures everywhere.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import scipy.stats

from calibration.stats.bootstrap import percentile_ci

POINTS = 100.0
# Resampled rows drawn at once, chosen so that a chunk holds about this many indices (bounds memory on big tasks).
CHUNK_ELEMENTS = 2_000_000
# Up to this many non-zero differences the sign-flip test enumerates every sign pattern (2**16 = 65,536).
EXACT_MAX = 16

WITHIN, EXCEEDS, INCONCLUSIVE = "within", "exceeds", "inconclusive"


def as_scores(scores: Sequence | np.ndarray) -> np.ndarray:
    """``scores[seed, item]`` as a float array of shape (seeds, items); a 1-D input is one seed."""
    a = np.asarray(scores, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"scores must be (seeds, items) with at least one of each, got shape {a.shape}")
    if np.isnan(a).any():
        raise ValueError("scores contain nan; align the runs on common items first")
    return a


def seed_summary(scores: Sequence | np.ndarray) -> tuple[float, float | None]:
    """A model's score on a task: ``(mean, seed_sd)`` in points.

    ``mean = 100 * mean_s m_s`` where ``m_s`` is seed s's mean over items (equal to the mean of the seed-averaged item
    scores); ``seed_sd = 100 * SD_s(m_s)`` with ddof=1, the between-seed spread of the task score; None for one seed.
    """
    a = as_scores(scores)
    per_seed = a.mean(axis=1)
    sd = float(np.std(per_seed, ddof=1)) * POINTS if per_seed.size > 1 else None
    return float(per_seed.mean()) * POINTS, sd


def seed_effect(scores: Sequence | np.ndarray) -> tuple[float, float] | None:
    """Is the between-seed spread larger than per-item noise explains? ``(ratio, p)``; None for one seed.

    If a seed only re-draws each item's outcome independently, the per-seed means m_s vary with variance
    ``mean_i v_i / n`` (v_i = item i's variance across seeds). ``ratio = var_s(m_s) / (mean_i v_i_hat / n)``
    (ddof=1 for both) is then about chi2(k-1)/(k-1), and ``p`` is its upper tail. A small p means the seed moves
    all items together (e.g. the few-shot examples change the prompt of every item), which the item bootstrap
    does not see: the intervals would be too narrow.
    """
    a = as_scores(scores)
    k, n = a.shape
    if k < 2:
        return None
    within = float(np.var(a, axis=0, ddof=1).mean()) / n
    between = float(np.var(a.mean(axis=1), ddof=1))
    if within == 0:
        return (math.nan, 1.0) if between == 0 else (math.inf, 0.0)
    ratio = between / within
    return ratio, float(scipy.stats.chi2.sf(ratio * (k - 1), k - 1))


def item_means(scores: Sequence | np.ndarray) -> np.ndarray:
    """Seed-averaged item scores ``x_i = mean_s scores[s, i]``."""
    return as_scores(scores).mean(axis=0)


def bootstrap_item_means(vectors: Sequence[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """Means of several item vectors over the SAME resampled items: array (n_boot, len(vectors)).

    Resample r draws n item indices with replacement (``default_rng(seed).integers(0, n, (rows, n))`` chunk by
    chunk) and takes every vector's mean over them, so that base, candidate and mitigations stay paired.
    """
    vs = np.vstack([np.asarray(v, dtype=float).ravel() for v in vectors])
    n = vs.shape[1]
    if n < 1:
        raise ValueError("cannot resample an empty task")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, vs.shape[0]))
    step = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n))
        for j in range(vs.shape[0]):
            out[start:start + rows, j] = vs[j][idx].mean(axis=1)
    return out


def paired_delta_ci(candidate: Sequence | np.ndarray, base: Sequence | np.ndarray, n_boot: int = 10_000,
                    seed: int = 0, ci: float = 0.95) -> tuple[float, list[float], np.ndarray]:
    """Delta candidate - base in points with a paired percentile bootstrap interval over items.

    ``delta = 100 * mean_i (x_i - y_i)`` with x, y the seed-averaged item scores (candidate, base; same items in the
    same order). Returns ``(delta, [lo, hi], replicates)``; the replicates (n_boot,) feed the largest-regression
    probability.
    """
    x, y = item_means(candidate), item_means(base)
    if x.size != y.size:
        raise ValueError(f"candidate and base cover different numbers of items ({x.size} vs {y.size})")
    reps = bootstrap_item_means([x - y], n_boot, seed)[:, 0] * POINTS
    return float((x - y).mean()) * POINTS, percentile_ci(reps, ci), reps


def sign_flip_p(diffs: Sequence | np.ndarray, n_perm: int = 10_000, seed: int = 0) -> tuple[float, str]:
    """Two-sided paired sign-flip permutation test of ``mean(d) = 0``; returns ``(p, method)``.

    Under the null of no difference each item's difference ``d_i`` is as likely to be ``-d_i``. With T = |sum d_i|,
    ``p = P(|sum s_i d_i| >= T)`` over random signs s_i = +-1. Exact (all 2**m patterns of the m non-zero
    differences) when m <= 16, otherwise Monte Carlo ``p = (1 + #{T* >= T}) / (1 + n_perm)``. For binary scores and
    one seed it equals the exact McNemar test (a two-sided binomial test on the discordant pairs).
    """
    d = np.asarray(diffs, dtype=float).ravel()
    nz = np.abs(d[d != 0])
    if nz.size == 0:
        return 1.0, "sign-flip permutation (exact; every difference is zero)"
    t = abs(float(d.sum()))
    tol = 1e-9 * max(1.0, float(nz.sum()))
    if nz.size <= EXACT_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=nz.size)))
        p = float(np.mean(np.abs(signs @ nz) >= t - tol))
        return min(1.0, p), "sign-flip permutation (exact)"
    rng = np.random.default_rng(seed)
    hits, step = 0, max(1, CHUNK_ELEMENTS // nz.size)
    for start in range(0, n_perm, step):
        rows = min(step, n_perm - start)
        s = rng.integers(0, 2, size=(rows, nz.size)) * 2.0 - 1.0
        hits += int(np.count_nonzero(np.abs(s @ nz) >= t - tol))
    return (1 + hits) / (1 + n_perm), f"sign-flip permutation (Monte Carlo, {n_perm} sign patterns)"


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (family-wise error across tasks); None entries stay None.

    With the m defined p-values sorted ascending, ``p_holm_(j) = min(1, max_{k <= j} (m - k + 1) p_(k))``.
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    out: list[float | None] = [None] * len(pvalues)
    m, running = len(idx), 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def max_drop_verdict(ci: Sequence[float], limit: float) -> str:
    """The rule "no task drops by more than ``limit`` points", judged on the delta's interval [lo, hi].

    ``within`` when even the worst end drops less than the limit (lo > -limit); ``exceeds`` when even the best end
    drops more than the limit (hi < -limit); otherwise ``inconclusive``: the data cannot tell, so a noisy benchmark
    is never declared safe.
    """
    lo, hi = float(ci[0]), float(ci[1])
    if math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE
    if lo > -limit:
        return WITHIN
    if hi < -limit:
        return EXCEEDS
    return INCONCLUSIVE


def largest_regression(replicates: dict[str, np.ndarray], deltas: dict[str, float]) -> tuple[str, float] | None:
    """The task with the most negative delta and the bootstrap probability that it is the largest regression.

    ``p_largest`` = share of bootstrap replicates (tasks resampled independently, replicate r of each task taken
    together) in which this task has the lowest delta of all tasks. None when no task's delta is negative.
    """
    neg = {t: d for t, d in deltas.items() if d < 0}
    if not neg:
        return None
    worst = min(neg, key=lambda t: neg[t])
    tasks = list(replicates)
    mat = np.vstack([replicates[t] for t in tasks])  # (tasks, n_boot)
    winners = np.argmin(mat, axis=0)
    return worst, float(np.mean(winners == tasks.index(worst)))


def gap_closed(base_reps: np.ndarray, cand_reps: np.ndarray, mit_reps: np.ndarray, base: float, cand: float,
               mit: float, gap_ci: Sequence[float], ci: float = 0.95) -> tuple[float | None, list | None, str]:
    """Share of the base-candidate gap that a mitigation recovers: ``(M - C) / (B - C)``, with an interval.

    1 = back to the base, 0 = no better than the candidate, > 1 = better than the base, < 0 = worse than the
    candidate. The interval is the percentile interval of the ratio over the SAME item resamples as the means
    (replicates where B* = C* are dropped). Undefined (None) unless the gap is established: the candidate's delta
    interval ``gap_ci`` must lie entirely below 0. Returns ``(share, [lo, hi], note)``.
    """
    lo, hi = float(gap_ci[0]), float(gap_ci[1])
    if not lo <= hi or hi >= 0:
        reason = ("undefined: the candidate improved on the base, there is no gap to close" if lo > 0 else
                  "undefined: the base-candidate gap's interval includes 0")
        return None, None, reason
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(base_reps != cand_reps, (mit_reps - cand_reps) / (base_reps - cand_reps), np.nan)
    return (mit - cand) / (base - cand), percentile_ci(ratio, ci), "share of the gap recovered"
