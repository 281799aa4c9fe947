"""Inter-rater reliability of the human experts: the ceiling a judge can be expected to reach.

``ratings`` is always an array of shape ``(n_raters, n_items)`` with nan for an item a rater did
not grade. A judge whose agreement with the expert consensus matches the experts' agreement with
each other is as good as another expert; no judge should be expected to beat it.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import krippendorff
import numpy as np
import scipy.stats

from calibration.stats.agreement import Weights, label_codes, quadratic_kappa_weighted, sklearn_kappa
from calibration.stats.bootstrap import (MIN_N_FOR_INTERVAL, chunk_rows, interval, json_float, resample_counts,
                                         resample_indices)


def _as_ratings(ratings) -> np.ndarray:
    r = np.asarray(ratings, dtype=float)
    if r.ndim != 2:
        raise ValueError(f"ratings must be 2-D (raters x items), got shape {r.shape}")
    if r.shape[0] < 2:
        raise ValueError(f"reliability needs at least two raters, got {r.shape[0]}")
    return r


def _pair_name(a: int, b: int) -> str:
    return f"r{a}-r{b}"


def _mean_defined(values: list[float]) -> float:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def pairwise_kappa(ratings, labels: Sequence[float], weights: Weights = None) -> dict:
    """Cohen's kappa for every pair of raters, on the items both rated, and their mean.

    ``kappa = 1 - sum(w * O) / sum(w * E)`` over ``labels`` (absent categories count; see
    ``agreement.cohen_kappa``). Ratings must be labels (no rounding). The mean over pairs (ignoring
    undefined pairs) is the human counterpart of the judge-vs-expert kappa. Returns
    ``{"pairs": {"r0-r1": kappa, ...}, "mean": mean}``; None where undefined (a pair with no
    shared item, or zero expected disagreement).
    """
    r = _as_ratings(ratings)
    pairs: dict[str, float | None] = {}
    values = []
    for a, b in combinations(range(r.shape[0]), 2):
        k = _pair_kappa(r[a], r[b], labels, weights)[0]
        pairs[_pair_name(a, b)] = json_float(k)
        values.append(k)
    return {"pairs": pairs, "mean": json_float(_mean_defined(values))}


def _pair_kappa(x: np.ndarray, y: np.ndarray, labels: Sequence[float], weights: Weights) -> tuple[float, int]:
    both = ~np.isnan(x) & ~np.isnan(y)
    n = int(both.sum())
    if n == 0:
        return float("nan"), 0
    xc = label_codes(x[both], labels, "ratings")
    yc = label_codes(y[both], labels, "ratings")
    return sklearn_kappa(xc, yc, len(labels), weights), n


def krippendorff_alpha(
    ratings,
    level: Literal["nominal", "ordinal", "interval", "ratio"] = "ordinal",
    value_domain: Sequence[float] | None = None,
) -> float:
    """Krippendorff's alpha, ``1 - D_observed / D_expected``, via the ``krippendorff`` package.

    Unlike pairwise kappa it uses every rating (any number of raters, missing values allowed) and
    a distance suited to the scale: ``level`` "ordinal" (ranks, the natural one for rubric grades),
    "interval" (squared difference) or "nominal". ``value_domain`` optionally fixes the ordered
    categories (e.g. the rubric labels). Returns nan when alpha is undefined: no item rated by two
    raters, or fewer than two distinct values overall (no expected disagreement).
    """
    r = _as_ratings(ratings)
    pairable = (~np.isnan(r)).sum(axis=0) >= 2
    values = r[:, pairable]
    if not pairable.any() or np.unique(values[~np.isnan(values)]).size < 2:
        return float("nan")
    kwargs = {} if value_domain is None else {"value_domain": np.asarray(value_domain, dtype=float)}
    return float(krippendorff.alpha(reliability_data=r, level_of_measurement=level, **kwargs))


def leave_one_out_spearman(ratings) -> dict:
    """Spearman's rho of each rater against the mean of the other raters, and the mean over raters.

    The judge is compared with the mean expert score, so the fair human benchmark for the judge's
    Spearman is one expert against the mean of the rest. Each rater uses the items they rated that
    at least one other rater also rated. Returns ``{"per_rater": {"r0": rho, ...}, "mean": m}``,
    None where undefined (fewer than two items, or constant scores).
    """
    r = _as_ratings(ratings)
    per: dict[str, float | None] = {}
    values = []
    for i in range(r.shape[0]):
        others = np.delete(r, i, axis=0)
        rated_by_others = (~np.isnan(others)).any(axis=0)
        mask = ~np.isnan(r[i]) & rated_by_others
        rho = float("nan")
        if mask.sum() >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant input -> nan, kept
                rho = float(scipy.stats.spearmanr(r[i, mask], np.nanmean(others[:, mask], axis=0)).statistic)
        per[f"r{i}"] = json_float(rho)
        values.append(rho)
    return {"per_rater": per, "mean": json_float(_mean_defined(values))}


def human_ceiling(ratings, labels: Sequence[float]) -> dict:
    """Expert-vs-expert agreement, the reference for the judge's agreement figures.

    Mean pairwise Cohen's kappa (unweighted, linear, quadratic), Krippendorff's alpha (ordinal and
    interval, categories fixed to ``labels``) and the leave-one-out Spearman mean. ``pairs`` holds
    every pair's three kappas and ``n`` (items both rated). ``n_items`` counts items rated by at
    least two raters (the only ones carrying agreement information). Undefined values are None.
    """
    r = _as_ratings(ratings)
    pairs: dict[str, dict] = {}
    by_weight: dict[str, list[float]] = {"kappa": [], "kappa_linear": [], "kappa_quadratic": []}
    for a, b in combinations(range(r.shape[0]), 2):
        entry: dict = {}
        for key, w in (("kappa", None), ("kappa_linear", "linear"), ("kappa_quadratic", "quadratic")):
            k, n = _pair_kappa(r[a], r[b], labels, w)
            entry[key] = json_float(k)
            by_weight[key].append(k)
        entry["n"] = n
        pairs[_pair_name(a, b)] = entry
    return {
        "kappa_quadratic_pairwise_mean": json_float(_mean_defined(by_weight["kappa_quadratic"])),
        "kappa_linear_pairwise_mean": json_float(_mean_defined(by_weight["kappa_linear"])),
        "kappa_pairwise_mean": json_float(_mean_defined(by_weight["kappa"])),
        "pairs": pairs,
        "krippendorff_alpha_ordinal": json_float(krippendorff_alpha(r, "ordinal", value_domain=labels)),
        "krippendorff_alpha_interval": json_float(krippendorff_alpha(r, "interval")),
        "spearman_leave_one_out_mean": leave_one_out_spearman(r)["mean"],
        "n_raters": int(r.shape[0]),
        "n_items": int(((~np.isnan(r)).sum(axis=0) >= 2).sum()),
    }




CEILING_MARGIN = 0.05
"""Equivalence margin of :func:`ceiling_gap` on the quadratic-kappa scale."""


def _gap_rows(judge: np.ndarray, r: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of item weights ``w``: mean over raters of judge-vs-rater kappa_q, mean over rater pairs, the gap."""
    have = ~np.isnan(r)
    vals = np.where(have, r, 0.0)
    jr = np.stack([quadratic_kappa_weighted(judge, vals[a], w * have[a]) for a in range(r.shape[0])])
    rr = np.stack([quadratic_kappa_weighted(vals[a], vals[b], w * (have[a] & have[b]))
                   for a, b in combinations(range(r.shape[0]), 2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a row where every pair is undefined: nan, kept
        jm, rm = np.nanmean(jr, axis=0), np.nanmean(rr, axis=0)
    return jm, rm, jm - rm


def ceiling_gap(judge, ratings, n_boot: int = 10_000, seed: int = 0, margin: float = CEILING_MARGIN,
                ci: float = 0.95, min_n: int = MIN_N_FOR_INTERVAL) -> dict:
    """Is the judge as good as another expert? Paired difference of quadratic kappas with a BCa interval over items.

    ``gap = mean_r kappa_q(judge, rater r) - mean_{a<b} kappa_q(rater a, rater b)``: the judge is treated as one
    more rater and compared with the raters' agreement with each other, on the same (resampled) items, so the
    uncertainty of the ceiling is included (it is not treated as exact). Each kappa uses the items both sides rated
    (:func:`calibration.stats.agreement.quadratic_kappa_weighted`, no rounding). Verdict against ``margin``:

    * ``equivalent``: the interval's lower bound is at least ``-margin`` (no worse than the experts by more than the
      margin; a judge above the ceiling is included);
    * ``below``: the whole interval is below 0;
    * ``not shown``: neither (the interval is too wide to tell), or no interval (fewer than ``min_n`` items).

    ``ratings``: ``(n_raters, n_items)`` with nan for missing; ``judge``: ``(n_items,)``. Returns ``{"estimate",
    "ci", "margin", "verdict", "judge_vs_raters", "rater_vs_rater", "n", "degenerate_share", "note"}``.
    """
    r = _as_ratings(ratings)
    j = np.asarray(judge, dtype=float).ravel()
    if j.size != r.shape[1]:
        raise ValueError(f"judge has {j.size} items, ratings {r.shape[1]}")
    if np.isnan(j).any():
        raise ValueError("judge scores contain nan; drop unscored items first")
    n = j.size
    jm, rm, gap = (float(x[0]) for x in _gap_rows(j, r, np.ones((1, n))))
    idx = resample_indices(n, n_boot, seed)
    reps = np.concatenate([_gap_rows(j, r, resample_counts(idx[s]).astype(float))[2]
                           for s in chunk_rows(n_boot, n * r.shape[0])])
    jack = _gap_rows(j, r, 1.0 - np.eye(n))[2] if n >= 2 else np.array([gap])
    iv = interval(gap, reps, jack, n, ci, min_n=min_n)
    lo, hi = iv["ci"]
    if lo is None:
        verdict = "not shown"
    elif lo >= -margin:
        verdict = "equivalent"
    elif hi < 0:
        verdict = "below"
    else:
        verdict = "not shown"
    return {"estimate": json_float(gap), "ci": iv["ci"], "margin": margin, "verdict": verdict,
            "judge_vs_raters": json_float(jm), "rater_vs_rater": json_float(rm), "n": int(n),
            "degenerate_share": iv["degenerate_share"], "note": iv["note"]}


__all__ = ["CEILING_MARGIN", "ceiling_gap", "human_ceiling", "krippendorff_alpha", "leave_one_out_spearman",
           "pairwise_kappa"]
