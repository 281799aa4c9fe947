"""Agreement among editors who each chose a preference (nominal: candidate / tie / baseline) for the same pairs, and
of a judge with their majority. Pure functions; intervals by percentile bootstrap over pairs, seeded.

``choices`` is an int array of shape ``(n_pairs, n_editors)`` with codes 0..k-1 (here 0 = baseline, 1 = tie,
2 = candidate); every editor judges every pair (the sheets guarantee it).
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score

from calibration.stats.bootstrap import chunk_rows, json_float, percentile_ci, resample_indices

CATEGORIES = ("baseline", "tie", "candidate")


def category_counts(choices: np.ndarray, k: int = 3) -> np.ndarray:
    """``(n_pairs, k)``: how many editors chose each category for each pair."""
    c = np.asarray(choices, dtype=int)
    return np.stack([(c == j).sum(axis=1) for j in range(k)], axis=1).astype(float)


def _fleiss_from_counts(counts: np.ndarray) -> np.ndarray:
    """Fleiss' kappa for a stack of count tables ``(..., n, k)`` with m raters per item.

    ``P_i = (sum_j n_ij^2 - m) / (m (m - 1))``, ``P_bar = mean_i P_i``, ``p_j = sum_i n_ij / (n m)``,
    ``P_e = sum_j p_j^2``, ``kappa = (P_bar - P_e) / (1 - P_e)`` (nan when ``P_e = 1``)."""
    m = counts.sum(axis=-1)
    p_i = ((counts ** 2).sum(axis=-1) - m) / (m * (m - 1))
    p_bar = p_i.mean(axis=-1)
    p_j = counts.sum(axis=-2) / counts.sum(axis=(-2, -1))[..., None]
    p_e = (p_j ** 2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p_e < 1.0, (p_bar - p_e) / (1.0 - p_e), np.nan)


def _alpha_nominal_from_counts(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha (nominal) for complete data from count tables ``(..., n, k)``.

    ``alpha = 1 - (N - 1) * sum_u sum_c n_uc (m_u - n_uc) / (m_u - 1) / (N^2 - sum_c n_c^2)`` with ``N`` the number
    of pairable values and ``n_c`` the total count of category c (Krippendorff 2011, the coincidence matrix's
    off-diagonal mass for observed and expected disagreement)."""
    m = counts.sum(axis=-1)
    observed = ((counts * (m[..., None] - counts)).sum(axis=-1) / (m - 1)).sum(axis=-1)
    n_c = counts.sum(axis=-2)
    big_n = n_c.sum(axis=-1)
    expected = big_n ** 2 - (n_c ** 2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - (big_n - 1) * observed / expected, np.nan)


def editor_agreement(choices: np.ndarray, n_boot: int = 10_000, seed: int = 0, ci: float = 0.95) -> dict:
    """Fleiss' kappa and Krippendorff's alpha (nominal) with bootstrap intervals over pairs, and the share of
    pairs on which the editors did not all choose the same (``split_rate``) or had no majority at all."""
    c = np.asarray(choices, dtype=int)
    if c.ndim != 2 or c.shape[1] < 2 or c.shape[0] == 0:
        raise ValueError(f"choices must be (pairs, editors) with at least two editors, got shape {c.shape}")
    counts = category_counts(c)
    idx = resample_indices(c.shape[0], n_boot, seed)
    fk, ka = [], []
    for s in chunk_rows(n_boot, c.shape[0] * 3):
        fk.append(_fleiss_from_counts(counts[idx[s]]))
        ka.append(_alpha_nominal_from_counts(counts[idx[s]]))
    top = counts.max(axis=1)
    return {
        "fleiss_kappa": json_float(_fleiss_from_counts(counts)),
        "fleiss_kappa_ci": [json_float(x) for x in percentile_ci(np.concatenate(fk), ci)],
        "krippendorff_alpha_nominal": json_float(_alpha_nominal_from_counts(counts)),
        "krippendorff_alpha_ci": [json_float(x) for x in percentile_ci(np.concatenate(ka), ci)],
        "split_rate": float(np.mean(top < c.shape[1])),
        "no_majority_rate": float(np.mean(top * 2 <= c.shape[1])),
        "n_pairs": int(c.shape[0]), "n_editors": int(c.shape[1]),
        "method": f"percentile bootstrap over pairs ({n_boot} resamples, seed {seed})",
    }


def majority(choices: np.ndarray) -> np.ndarray:
    """Per pair the category chosen by more than half of the editors, or -1 when none is."""
    counts = category_counts(choices)
    top = counts.argmax(axis=1)
    return np.where(counts.max(axis=1) * 2 > counts.sum(axis=1), top, -1)


def judge_vs_majority(judge: np.ndarray, choices: np.ndarray, n_boot: int = 10_000, seed: int = 0,
                      ci: float = 0.95) -> dict:
    """A judge's agreement with the editors' majority, on pairs that have one.

    ``accuracy_with_ties``: share of exact matches over the three categories. ``accuracy_without_ties``: on pairs
    where both the judge and the majority are decisive, the share in the same direction. ``cohen_kappa``: unweighted,
    three categories (``sklearn.metrics.cohen_kappa_score``). Intervals by bootstrap over pairs.
    """
    j = np.asarray(judge, dtype=int).ravel()
    maj = majority(choices)
    keep = maj >= 0
    j, maj = j[keep], maj[keep]
    out = {"n_with_majority": int(keep.sum()), "n_without_majority": int((~keep).sum())}
    if j.size == 0:
        return {**out, "accuracy_with_ties": None, "accuracy_without_ties": None, "cohen_kappa": None}
    idx = resample_indices(j.size, n_boot, seed)
    exact = (j == maj).astype(float)
    dec = (j != 1) & (maj != 1)
    same = ((j == maj) & dec).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_nt_reps = same[idx].sum(axis=1) / dec[idx].sum(axis=1)
    kap_reps = np.array([_kappa(j[r], maj[r]) for r in idx[: min(n_boot, 2000)]])
    out.update({
        "accuracy_with_ties": float(exact.mean()),
        "accuracy_with_ties_ci": [json_float(x) for x in percentile_ci(exact[idx].mean(axis=1), ci)],
        "accuracy_without_ties": json_float(same.sum() / dec.sum()) if dec.any() else None,
        "accuracy_without_ties_ci": [json_float(x) for x in percentile_ci(acc_nt_reps, ci)],
        "n_both_decisive": int(dec.sum()),
        "cohen_kappa": json_float(_kappa(j, maj)),
        "cohen_kappa_ci": [json_float(x) for x in percentile_ci(kap_reps, ci)],
        "method": f"percentile bootstrap over pairs ({n_boot} resamples; kappa on the first "
                  f"{min(n_boot, 2000)}; seed {seed})",
    })
    return out


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    if np.unique(np.concatenate([a, b])).size < 2:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(cohen_kappa_score(a, b, labels=[0, 1, 2]))
