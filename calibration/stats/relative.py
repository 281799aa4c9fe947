"""Bias relative to the experts: is the judge's change under a rewrite more or less than the experts' grades imply?

An invariance probe measures how much the judge's grade moves when a surface feature (length, formality, hedging)
is changed and nothing else. Where experts themselves grade that feature (e.g. they take tone points off a stiff,
overly formal changelog), a judge that moves is not biased; a judge that moves MORE or LESS than the experts is.
The experts' own sensitivity comes from the observational analysis of their grades: the least-squares slope of the
expert score on the feature across the expert-graded items (the same regression whose judge-minus-expert version is
the residual check). It is observational, so it also carries whatever goes with the feature in these items.
"""
from __future__ import annotations

import math

import numpy as np

from calibration.stats.bootstrap import (MIN_N_FOR_INTERVAL, ArrayLike, bca_p_value, chunk_rows, interval,
                                         json_float, resample_counts, resample_indices)


def _relative_rows(w: np.ndarray, dj: np.ndarray, df: np.ndarray, y: np.ndarray, f: np.ndarray,
                   probe: np.ndarray, graded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of item weights: expert slope, experts' implied mean change, judge-minus-implied difference."""
    we, wp = w * graded, w * probe
    se = we.sum(axis=1)
    mf, my = (we @ f) / se, (we @ y) / se
    sff = we @ (f * f) - se * mf * mf
    sfy = we @ (f * y) - se * mf * my
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sff > 1e-12 * np.maximum(se, 1.0), sfy / sff, np.nan)
        sp = wp.sum(axis=1)
        judge = (wp @ dj) / sp
        implied = slope * (wp @ df) / sp
    return slope, implied, judge - implied


def change_vs_experts(judge_change: ArrayLike, feature_change: ArrayLike, expert_score: ArrayLike,
                      feature: ArrayLike, n_boot: int = 10_000, seed: int = 0, ci: float = 0.95,
                      min_n: int = MIN_N_FOR_INTERVAL) -> dict:
    """The judge's mean change under a probe minus the change the experts' grades imply for the same feature shift.

    All arrays run over the same items: ``judge_change[i]`` (rewritten minus original grade; nan where the probe
    did not apply), ``feature_change[i]`` (the feature's change in that rewrite; nan likewise), ``expert_score[i]``
    (nan where no expert graded the item) and ``feature[i]`` of the original. With ``b`` the least-squares slope of
    expert score on feature over the graded items:

    ``implied = b * mean(feature_change)``, ``difference = mean(judge_change) - implied`` (over the probe items).

    ``difference < 0``: the judge penalises the feature more (or rewards it less) than the experts do. Items are
    resampled jointly (one resample serves both the slope and the change); the interval is BCa and ``p`` the
    two-sided p that matches it (:func:`calibration.stats.bootstrap.bca_p_value`). Returns ``{"judge_change",
    "expert_slope", "expert_implied", "difference", "ci", "p", "n_probe", "n_experts", "degenerate_share",
    "note"}``; no interval (and ``note``) below ``min_n`` probe or expert items.
    """
    dj = np.asarray(judge_change, dtype=float).ravel()
    df = np.asarray(feature_change, dtype=float).ravel()
    y = np.asarray(expert_score, dtype=float).ravel()
    f = np.asarray(feature, dtype=float).ravel()
    if not dj.size == df.size == y.size == f.size:
        raise ValueError(f"arrays differ in length: {[dj.size, df.size, y.size, f.size]}")
    probe = ~np.isnan(dj) & ~np.isnan(df)
    graded = ~np.isnan(y) & ~np.isnan(f)
    n = dj.size
    dj0, df0, y0, f0 = (np.where(np.isnan(a), 0.0, a) for a in (dj, df, y, f))
    args = (dj0, df0, y0, f0, probe.astype(float), graded.astype(float))
    slope, implied, diff = (float(v[0]) for v in _relative_rows(np.ones((1, n)), *args))
    out = {"judge_change": json_float(float(dj[probe].mean())) if probe.any() else None,
           "expert_slope": json_float(slope), "expert_implied": json_float(implied), "difference": json_float(diff),
           "ci": [None, None], "p": None, "n_probe": int(probe.sum()), "n_experts": int(graded.sum()),
           "degenerate_share": None, "note": None}
    if math.isnan(diff):
        out["note"] = "undefined: no probe items, or the feature does not vary across the expert-graded items"
        return out
    idx = resample_indices(n, n_boot, seed)
    reps = np.concatenate([_relative_rows(resample_counts(idx[s]).astype(float), *args)[2]
                           for s in chunk_rows(n_boot, n)])
    jack = _relative_rows(1.0 - np.eye(n), *args)[2] if n >= 2 else np.array([diff])
    n_eff = min(out["n_probe"], out["n_experts"])
    iv = interval(diff, reps, jack, n_eff, ci, min_n=min_n)
    out["ci"], out["degenerate_share"], out["note"] = iv["ci"], iv["degenerate_share"], iv["note"]
    if iv["ci"][0] is not None:
        out["p"] = json_float(bca_p_value(diff, reps, jack, n=n_eff))
    return out


__all__ = ["change_vs_experts"]
