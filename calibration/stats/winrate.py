"""Head-to-head win rates: per-pair scores, a bootstrap interval, a one-sided test against a target, its power,
position bias and a length-controlled win rate. Pure functions, no I/O; every resampling is seeded.

Per-pair score ``s`` = 1 (candidate wins), 0.5 (tie), 0 (candidate loses); with several editors, the mean of their
scores. The win rate is ``mean(s)``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.stats

from calibration.stats.bootstrap import ArrayLike, chunk_rows, json_float, percentile_ci, resample_indices

OUTCOME_SCORE = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}

TEST_METHOD_CONDITIONAL = ("conditional exact binomial: given the T tied pairs, the W wins among the n-T decisive "
                           "pairs are Binomial(n-T, q0) at the boundary q0 = (n*target - T/2) / (n-T); "
                           "p = P(Binomial(n-T, q0) >= W)")
TEST_METHOD_BOUND = ("exact binomial bound: p = P(Binomial(n, target) >= ceil(sum of scores)); valid for any scores "
                     "in [0, 1] (a Bernoulli is the most spread distribution with a given mean), conservative")


def outcome_scores(outcomes: Sequence[str]) -> np.ndarray:
    """``candidate``/``tie``/``baseline`` -> 1/0.5/0. Unknown labels raise ValueError."""
    try:
        return np.array([OUTCOME_SCORE[o] for o in outcomes], dtype=float)
    except KeyError as e:
        raise ValueError(f"unknown outcome {e.args[0]!r}; expected candidate, tie or baseline") from None


def _scores(scores: ArrayLike) -> np.ndarray:
    s = np.asarray(scores, dtype=float).ravel()
    if s.size == 0:
        raise ValueError("no pairs")
    if np.isnan(s).any() or (s < 0).any() or (s > 1).any():
        raise ValueError("per-pair scores must be numbers in [0, 1]")
    return s


def win_rate(scores: ArrayLike, n_boot: int = 10_000, seed: int = 0, ci: float = 0.95) -> dict:
    """``mean(s)`` with a percentile bootstrap interval over pairs (``n_boot`` resamples, ``seed``)."""
    s = _scores(scores)
    idx = resample_indices(s.size, n_boot, seed)
    reps = np.concatenate([s[idx[c]].mean(axis=1) for c in chunk_rows(n_boot, s.size)])
    return {"win_rate": float(s.mean()), "ci": percentile_ci(reps, ci), "n": int(s.size),
            "method": f"percentile bootstrap over pairs ({n_boot} resamples, seed {seed})"}


def _three_level(s: np.ndarray) -> bool:
    return bool(np.all(np.isin(s, (0.0, 0.5, 1.0))))


def _conditional_p(wins: np.ndarray | int, ties: np.ndarray | int, n: int, target: float) -> np.ndarray:
    """Vectorised conditional exact p-value for arrays of (wins, ties) at ``n`` pairs."""
    wins, ties = np.asarray(wins), np.asarray(ties)
    decisive = n - ties
    with np.errstate(divide="ignore", invalid="ignore"):
        q0 = np.where(decisive > 0, (n * target - ties / 2.0) / np.maximum(decisive, 1), 1.0)
    q0 = np.clip(q0, 0.0, 1.0)
    p = scipy.stats.binom.sf(wins - 1, decisive, q0)
    # No decisive pair, or a boundary that needs more wins than there are decisive pairs: no evidence against H0.
    return np.where((decisive == 0) | (q0 >= 1.0), 1.0, p)


def win_rate_test(scores: ArrayLike, target: float = 0.60) -> dict:
    """One-sided test of H0: win rate <= ``target`` against H1: win rate > ``target``.

    Three-level scores (0, 0.5, 1): the conditional exact binomial test (``TEST_METHOD_CONDITIONAL``): ties carry
    half a point each, so the boundary win probability among decisive pairs follows from the observed ties.
    Any other scores in [0, 1] (e.g. the mean of several editors): the exact binomial bound (``TEST_METHOD_BOUND``).
    Both are checked by seeded simulation to reject at most alpha of the time at a true win rate equal to the target.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    s = _scores(scores)
    n = s.size
    if _three_level(s):
        wins, ties = int((s == 1.0).sum()), int((s == 0.5).sum())
        p = float(_conditional_p(wins, ties, n, target))
        method = TEST_METHOD_CONDITIONAL
    else:
        k = math.ceil(round(float(s.sum()), 9))
        p = float(scipy.stats.binom.sf(k - 1, n, target))
        method = TEST_METHOD_BOUND
    return {"p_value": p, "target": target, "n": n, "method": method}


def decide(p_value: float, ci: Sequence[float], target: float, alpha: float = 0.05) -> str:
    """``above_target`` when the test rejects H0 at ``alpha``; ``below_target`` when the whole interval lies under
    the target; otherwise ``not_shown`` (the data cannot tell)."""
    if p_value < alpha:
        return "above_target"
    if ci[1] is not None and not math.isnan(ci[1]) and ci[1] < target:
        return "below_target"
    return "not_shown"


def exact_power(n: int, true_rate: float, target: float = 0.60, tie_rate: float = 0.0, alpha: float = 0.05) -> float:
    """Exact power of the conditional test with ``n`` pairs when the true win rate is ``true_rate`` and a share
    ``tie_rate`` of pairs tie: ``sum_T P(T) * P(W >= w_crit(T) | T)`` with T ~ Binomial(n, tie_rate) and
    W | T ~ Binomial(n-T, q1), q1 = (true_rate - tie_rate/2) / (1 - tie_rate). Without ties it is the power of the
    exact binomial test (which the bound test reduces to)."""
    if n < 1:
        return 0.0
    tie_rate = min(max(tie_rate, 0.0), 1.0)
    win_share = true_rate - tie_rate / 2.0
    if win_share < 0 or win_share + tie_rate > 1 + 1e-12 or tie_rate >= 1.0:
        return 0.0  # that win rate is impossible at this tie rate (or nothing is ever decisive)
    q1 = min(win_share / (1.0 - tie_rate), 1.0)
    ties = np.arange(n + 1)
    p_t = scipy.stats.binom.pmf(ties, n, tie_rate)
    t = ties[p_t > 1e-12]
    d = n - t
    q0 = np.clip((n * target - t / 2.0) / np.maximum(d, 1), 0.0, 1.0)
    # The smallest number of wins the test rejects at, per tie count: sf(w - 1; d, q0) < alpha.
    w_crit = scipy.stats.binom.isf(alpha, d, q0) + 1
    w_crit = np.where(scipy.stats.binom.sf(w_crit - 1, d, q0) < alpha, w_crit, w_crit + 1)
    possible = (d > 0) & (q0 < 1.0) & (w_crit <= d)
    total = float(np.sum(np.where(possible, p_t[p_t > 1e-12] * scipy.stats.binom.sf(w_crit - 1, d, q1), 0.0)))
    return float(total)


def n_for_power(true_rate: float, target: float = 0.60, tie_rate: float = 0.0, power: float = 0.8,
                alpha: float = 0.05, n_max: int = 20_000) -> int | None:
    """Smallest n whose power reaches ``power`` and stays there for the next 10 n (the exact test's power
    saw-tooths with n); None when even ``n_max`` pairs do not reach it."""
    if true_rate <= target:
        return None
    lo, hi = 1, 8
    while exact_power(hi, true_rate, target, tie_rate, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > n_max:
            return None
    while lo < hi:  # the first n past which power stays above the goal; power rises with n up to saw-tooth
        mid = (lo + hi) // 2
        if exact_power(mid, true_rate, target, tie_rate, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    n = lo
    while not all(exact_power(n + k, true_rate, target, tie_rate, alpha) >= power for k in range(1, 11)):
        n += 1
    return n


def power_figures(n: int, target: float, tie_rate: float, alpha: float = 0.05) -> dict:
    """Power at the observed n for a true win rate of target + 0.05 and + 0.10, and the n for 80% power."""
    out = {"alpha": alpha, "tie_rate_assumed": round(tie_rate, 4), "n": n}
    for delta in (0.05, 0.10):
        rate = round(target + delta, 4)
        key = f"{delta:.2f}"
        out[f"power_at_n_plus_{key}"] = round(exact_power(n, rate, target, tie_rate, alpha), 4)
        out[f"n_for_80pct_plus_{key}"] = n_for_power(rate, target, tie_rate, 0.8, alpha)
    out["method"] = "exact power of the conditional binomial test at the observed tie rate"
    return out


def position_bias(first_favoured: ArrayLike, decisive: ArrayLike, n_boot: int = 10_000, seed: int = 0,
                  ci: float = 0.95) -> dict:
    """Share of decisive single-order verdicts that favour the response shown first.

    ``first_favoured[i]`` and ``decisive[i]`` count, for pair i, its single-order verdicts (0-2) favouring the first
    position and those that are not ties. Rate = sum(first) / sum(decisive); 0.5 means no position bias. Interval:
    percentile bootstrap over pairs (a pair's two verdicts stay together).
    """
    f = np.asarray(first_favoured, dtype=float).ravel()
    d = np.asarray(decisive, dtype=float).ravel()
    if f.size != d.size or f.size == 0:
        raise ValueError("position_bias needs equal, non-empty arrays")
    if d.sum() == 0:
        return {"first_position_rate": None, "ci": [None, None], "decisive_verdicts": 0}
    idx = resample_indices(f.size, n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = f[idx].sum(axis=1) / d[idx].sum(axis=1)
    return {"first_position_rate": float(f.sum() / d.sum()),
            "ci": [json_float(x) for x in percentile_ci(reps, ci)], "decisive_verdicts": int(d.sum())}


# ---- length control -------------------------------------------------------------------------------------------

def _logit_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = 1e-2, iters: int = 30) -> np.ndarray:
    """Weighted logistic regression by Newton's method, batched: X (B, m, k), y and w (B, m) -> beta (B, k).

    A small ridge penalty (``ridge * |beta|^2 / 2``) keeps the fit finite when outcomes are perfectly separated
    (e.g. every verdict a win); it shrinks nothing visible on realistic data.
    """
    B, _, k = X.shape
    beta = np.zeros((B, k))
    eye = np.eye(k)
    for _ in range(iters):
        eta = np.einsum("bmk,bk->bm", X, beta)
        p = 1.0 / (1.0 + np.exp(-np.clip(eta, -30, 30)))
        grad = np.einsum("bmk,bm->bk", X, w * (y - p)) - ridge * beta
        h = np.einsum("bmk,bm,bml->bkl", X, w * p * (1 - p), X) + ridge * eye
        step = np.linalg.solve(h, grad[..., None])[..., 0]
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def length_controlled(cand_first_outcome: ArrayLike, cand_second_outcome: ArrayLike, len_diff: ArrayLike,
                      n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> dict:
    """Length-controlled win rate in the spirit of AlpacaEval 2.0.

    Each single-order outcome (1 candidate wins, 0.5 tie, 0 loses; two per pair, one with the candidate shown first)
    is modelled as ``logit P(win) = b0 + b_len * z + b_pos * pos`` with ``z`` the candidate-minus-baseline length
    difference standardised by its standard deviation over pairs, and ``pos`` = +1/-1 when the candidate is shown
    first/second. A tie is two half-weighted rows (a win and a loss). The controlled rate is the prediction at
    ``z = 0`` averaged over both positions, ``(sigmoid(b0 + b_pos) + sigmoid(b0 - b_pos)) / 2``. Interval: percentile
    bootstrap over pairs, the model refitted on every resample. ``length_coef`` is ``b_len`` (log-odds per SD).
    """
    a = np.asarray(cand_first_outcome, dtype=float).ravel()
    b = np.asarray(cand_second_outcome, dtype=float).ravel()
    d = np.asarray(len_diff, dtype=float).ravel()
    n = a.size
    if n == 0 or b.size != n or d.size != n:
        raise ValueError("length_controlled needs equal, non-empty arrays")
    sd = float(d.std())
    z = d / sd if sd > 0 else np.zeros(n)
    # Rows per pair: (order, outcome in {win, loss}) -> 4 rows with weights; order 0 = candidate first.
    z4 = np.repeat(z, 4).reshape(n, 4)
    pos = np.tile([1.0, 1.0, -1.0, -1.0], (n, 1))
    y = np.tile([1.0, 0.0, 1.0, 0.0], (n, 1))
    w = np.stack([a, 1 - a, b, 1 - b], axis=1)

    def fit(index: np.ndarray) -> np.ndarray:  # index (B, n) -> beta (B, 3)
        Xb = np.stack([np.ones_like(z4[index]), z4[index], pos[index]], axis=-1).reshape(index.shape[0], 4 * n, 3)
        return _logit_fit(Xb, y[index].reshape(index.shape[0], -1), w[index].reshape(index.shape[0], -1))

    def rate(beta: np.ndarray) -> np.ndarray:
        sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
        return (sig(beta[:, 0] + beta[:, 2]) + sig(beta[:, 0] - beta[:, 2])) / 2.0

    beta = fit(np.arange(n)[None, :])
    idx = resample_indices(n, n_boot, seed)
    reps = np.concatenate([rate(fit(idx[c])) for c in chunk_rows(n_boot, 4 * n * 3 * 4)])
    return {"lc_win_rate": float(rate(beta)[0]), "ci": [json_float(x) for x in percentile_ci(reps, ci)],
            "length_coef": float(beta[0, 1]), "position_coef": float(beta[0, 2]), "length_sd": sd,
            "method": ("logistic model of each single-order outcome on the standardised length difference and the "
                       f"position, predicted at zero difference; bootstrap over pairs refitting per resample "
                       f"({n_boot} resamples, seed {seed})")}


def preference_accuracy(margins: ArrayLike, target: float = 0.68, n_boot: int = 10_000, seed: int = 0) -> dict:
    """DPO held-out preference accuracy: the share of pairs whose implicit reward margin
    ``(pi_c - ref_c) - (pi_r - ref_r)`` is positive (a zero margin counts half), with a bootstrap interval and the
    one-sided test of H0: accuracy <= ``target``."""
    m = np.asarray(margins, dtype=float).ravel()
    if m.size == 0 or np.isnan(m).any():
        raise ValueError("margins must be a non-empty array of numbers")
    s = np.where(m > 0, 1.0, np.where(m < 0, 0.0, 0.5))
    est = win_rate(s, n_boot=n_boot, seed=seed)
    test = win_rate_test(s, target)
    return {"accuracy": est["win_rate"], "ci": est["ci"], "n": est["n"], "p_value": test["p_value"],
            "target": target, "verdict": decide(test["p_value"], est["ci"], target),
            "test_method": test["method"], "ci_method": est["method"],
            "mean_margin": float(m.mean())}
