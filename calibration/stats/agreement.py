"""Judge-versus-expert agreement: Cohen's kappa (unweighted, linear, quadratic), rank correlations,
exact / within-one agreement and mean bias, each with a vectorised item bootstrap interval.

Conventions
-----------
* ``labels`` is the ordered list of score categories (e.g. ``[1, 2, 3, 4, 5]``). Categories absent
  from the data still count (they matter for weighted kappa), and weights use the *position* in
  ``labels`` (as ``sklearn.metrics.cohen_kappa_score`` does).
* Expert scores may be means of several raters (non-integer). The categorical measures (kappas,
  exact, within-one, confusion) use expert scores rounded half up, ``floor(x + 0.5)``, see
  :func:`round_half_up`; Spearman, Kendall and mean bias use the unrounded values.
* Kappa is undefined (nan) when expected disagreement is zero, e.g. both raters use one and the same
  category throughout: chance agreement is then total, and ``(p_o - p_e) / (1 - p_e)`` is 0/0.
  sklearn returns nan there; we keep nan (and ``None`` in the JSON-ready dicts).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.stats
from sklearn.metrics import cohen_kappa_score

from calibration.stats.bootstrap import (MIN_N_FOR_INTERVAL, ArrayLike, chunk_rows, interval, jackknife_indices,
                                         json_float, percentile_ci, resample_counts, resample_indices)

Weights = Literal["linear", "quadratic"] | None


def round_half_up(x: ArrayLike | float) -> np.ndarray:
    """``floor(x + 0.5)``: 2.5 -> 3, 3.5 -> 4 (not numpy's round-half-to-even, which gives 2 and 4).

    Used to turn a mean of several expert ratings into a category; halves go up so that ties
    between raters are resolved the same way at every scale point.
    """
    return np.floor(np.asarray(x, dtype=float) + 0.5)


def label_codes(values: ArrayLike, labels: Sequence[float], what: str = "values") -> np.ndarray:
    """Position of each value in ``labels`` (int array). Raises ValueError for a value not in labels."""
    v = np.asarray(values, dtype=float).ravel()
    lab = np.asarray(labels, dtype=float).ravel()
    if lab.size < 1:
        raise ValueError("labels must not be empty")
    if np.unique(lab).size != lab.size:
        raise ValueError(f"labels contain duplicates: {list(labels)}")
    eq = v[:, None] == lab[None, :]
    found = eq.any(axis=1)
    if not found.all():
        bad = v[~found][0]
        raise ValueError(f"{what}: value {bad!r} is not one of the labels {list(labels)}")
    return eq.argmax(axis=1)


def weight_matrix(n_labels: int, weights: Weights = None) -> np.ndarray:
    """Disagreement weights ``w[i, j]``: ``i != j`` (unweighted), ``|i - j|`` (linear), ``(i - j)**2`` (quadratic)."""
    i = np.arange(n_labels)
    d = i[:, None] - i[None, :]
    if weights is None:
        return (d != 0).astype(float)
    if weights == "linear":
        return np.abs(d).astype(float)
    if weights == "quadratic":
        return (d.astype(float)) ** 2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def kappa_from_counts(counts: np.ndarray, weights: Weights = None) -> np.ndarray | float:
    """Weighted Cohen's kappa from confusion counts, vectorised over leading axes.

    ``counts[..., i, j]`` counts items in category ``i`` for one rater and ``j`` for the other.
    ``kappa = 1 - sum(w * O) / sum(w * E)`` with ``O`` the observed proportions and
    ``E = outer(row marginals, column marginals)`` the proportions expected by chance; with
    ``w = 1 - I`` this is the familiar ``(p_o - p_e) / (1 - p_e)``. nan where ``sum(w * E) == 0``
    (kappa undefined). Same formula as ``sklearn.metrics.cohen_kappa_score``, but for a whole stack
    of bootstrap confusion matrices at once.
    """
    c = np.asarray(counts, dtype=float)
    k = c.shape[-1]
    w = weight_matrix(k, weights)
    n = c.sum(axis=(-2, -1))
    rows = c.sum(axis=-1)
    cols = c.sum(axis=-2)
    observed = (c * w).sum(axis=(-2, -1))
    expected = np.einsum("...i,ij,...j->...", rows, w, cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1.0 - (observed * n) / expected
    kappa = np.where(expected > 0, kappa, np.nan)
    return float(kappa) if kappa.ndim == 0 else kappa


def resampled_confusion(row_codes: np.ndarray, col_codes: np.ndarray, n_labels: int, idx: np.ndarray) -> np.ndarray:
    """Confusion counts of every resample at once: array ``(n_resamples, K, K)``.

    One ``bincount`` over ``resample * K * K + row * K + col`` for all resamples together.
    """
    idx = np.atleast_2d(idx)
    b = idx.shape[0]
    kk = n_labels * n_labels
    pair = np.asarray(row_codes) * n_labels + np.asarray(col_codes)
    flat = pair[idx] + (np.arange(b) * kk)[:, None]
    return np.bincount(flat.ravel(), minlength=b * kk).reshape(b, n_labels, n_labels)


def _factorize(x: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, codes = np.unique(x, return_inverse=True)
    return codes.ravel(), uniq.size


def _resampled_midranks(codes: np.ndarray, n_unique: int, idx: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank) of ``codes[idx]`` within each row, without sorting.

    Per row, the midrank of distinct value ``u`` is ``(# values below u) + (count_u + 1) / 2``
    ``= cumcount_u - (count_u - 1) / 2``; counts come from one bincount over all rows. Identical
    to ``scipy.stats.rankdata(codes[idx], axis=1)`` but linear time.
    """
    b = idx.shape[0]
    sampled = codes[idx]
    counts = np.bincount((np.arange(b)[:, None] * n_unique + sampled).ravel(), minlength=b * n_unique)
    counts = counts.reshape(b, n_unique).astype(float)
    mid = np.cumsum(counts, axis=1) - (counts - 1.0) / 2.0
    return np.take_along_axis(mid, sampled, axis=1)


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``x`` with the same row of ``y``; nan for a constant row."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = (xc * yc).sum(axis=1)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    # Guard against round-off making a constant row look (barely) non-constant.
    return np.where(den > 1e-12 * x.shape[1] ** 2, np.clip(r, -1.0, 1.0), np.nan)


def spearman_resampled(x: ArrayLike, y: ArrayLike, idx: np.ndarray) -> np.ndarray:
    """Spearman's rho of ``(x[idx[r]], y[idx[r]])`` for every resample row ``r`` (ties get midranks).

    Spearman = Pearson correlation of the ranks. Vectorised: ranks come from per-row value counts
    (see :func:`_resampled_midranks`); nan where a resample is constant in ``x`` or ``y``.
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    idx = np.atleast_2d(idx)
    xc, ux = _factorize(xa)
    yc, uy = _factorize(ya)
    out = [
        _rowwise_pearson(_resampled_midranks(xc, ux, idx[s]), _resampled_midranks(yc, uy, idx[s]))
        for s in chunk_rows(idx.shape[0], idx.shape[1])
    ]
    return np.concatenate(out)


def cohen_kappa(judge: ArrayLike, expert: ArrayLike, labels: Sequence[float], weights: Weights = None) -> float:
    """Cohen's kappa of judge against expert scores over the categories ``labels``.

    ``kappa = 1 - sum(w * O) / sum(w * E)`` (see :func:`kappa_from_counts`), computed by
    ``sklearn.metrics.cohen_kappa_score`` with ``labels`` passed so absent categories still count.
    Expert scores are rounded half up (:func:`round_half_up`) first; judge scores must be labels.
    ``weights``: None (any disagreement costs 1), "linear" (``|i - j|``) or "quadratic"
    (``(i - j)**2``; the usual choice for ordinal grades, close to an ICC). Returns nan when kappa
    is undefined (zero expected disagreement, e.g. everyone used one category).
    """
    j, e = _check_pair(judge, expert)
    jc = label_codes(j, labels, "judge")
    ec = label_codes(round_half_up(e), labels, "expert (rounded half up)")
    return sklearn_kappa(ec, jc, len(labels), weights)


def sklearn_kappa(a_codes: np.ndarray, b_codes: np.ndarray, n_labels: int, weights: Weights) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning: nan is the documented result
        return float(
            cohen_kappa_score(
                a_codes, b_codes, labels=np.arange(n_labels), weights=weights, replace_undefined_by=np.nan
            )
        )


def _check_pair(judge: ArrayLike, expert: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    j = np.asarray(judge, dtype=float).ravel()
    e = np.asarray(expert, dtype=float).ravel()
    if j.size != e.size:
        raise ValueError(f"judge and expert differ in length ({j.size} vs {e.size})")
    if j.size == 0:
        raise ValueError("no items to compare")
    if np.isnan(j).any() or np.isnan(e).any():
        raise ValueError("judge/expert scores contain nan; drop unscored items first")
    return j, e


def _quiet_stat(fn, *args) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns nan, which we keep
        return float(fn(*args).statistic)


def quadratic_kappa_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Quadratic-weighted kappa of ``x`` against ``y`` for each row of item weights ``w`` (``(rows, n)``).

    ``kappa_q = 1 - sum(w (x - y)^2) / ((1 / W) sum_i sum_j w_i w_j (x_i - y_j)^2)`` with ``W = sum(w)``; the
    denominator is ``Sxx + Syy - 2 Sx Sy / W`` in weighted sums. With integer scores on equally spaced labels and
    ``w = 1`` this is exactly sklearn's ``cohen_kappa_score(weights="quadratic")``; it also accepts non-integer
    scores (a mean of raters), so no rounding is needed. A bootstrap resample is a row of item counts, a jackknife
    replicate a row with one zero. nan where the expected disagreement is zero (both sides constant) or ``W = 0``.
    """
    w = np.atleast_2d(np.asarray(w, dtype=float))
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    sw, sx, sy, sxx, syy, sxy = (w @ np.column_stack([np.ones_like(x), x, y, x * x, y * y, x * y])).T
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = sxx + syy - 2.0 * sx * sy / sw
        observed = sxx + syy - 2.0 * sxy
        k = 1.0 - observed / expected
    return np.where((sw > 0) & (expected > 1e-12 * np.maximum(sw, 1.0)), k, np.nan)


def kappa_quadratic_unrounded(judge: ArrayLike, expert: ArrayLike) -> float:
    """Quadratic kappa of the judge against the *unrounded* expert scores (e.g. a mean of raters).

    The primary agreement figure: it needs no rounding of a mean such as 3.5, so no rounding direction can favour
    the judge (rounding half up lifted a lenient judge's unweighted clarity kappa from 0.43 to 0.55 on the
    examples). See :func:`quadratic_kappa_weighted`; equals sklearn's quadratic kappa on integer scores.
    """
    j, e = _check_pair(judge, expert)
    return float(quadratic_kappa_weighted(j, e, np.ones((1, j.size)))[0])


def _leave_one_out_confusion(row_codes: np.ndarray, col_codes: np.ndarray, k: int) -> np.ndarray:
    full = resampled_confusion(row_codes, col_codes, k, np.arange(row_codes.size)[None, :])[0]
    one = np.zeros((row_codes.size, k, k))
    one[np.arange(row_codes.size), row_codes, col_codes] = 1.0
    return full[None] - one


def agreement(
    judge: ArrayLike,
    expert: ArrayLike,
    labels: Sequence[float],
    n_boot: int = 10_000,
    seed: int = 0,
    ci: float = 0.95,
    min_n: int = MIN_N_FOR_INTERVAL,
) -> dict:
    """All agreement measures of judge vs expert, with BCa bootstrap intervals.

    Items are resampled with replacement (``n_boot`` resamples, the same resamples for every measure) and each
    interval is the BCa interval (:func:`calibration.stats.bootstrap.bca_ci`; acceleration from the jackknife).
    ``kappa_quadratic_unrounded`` (:func:`kappa_quadratic_unrounded`) uses the raw expert scores and is the primary
    figure. The other categorical measures use expert scores rounded half up; ``spearman``, ``kendall`` (tau-b) and
    ``mean_bias`` (mean of judge minus expert; positive = judge lenient) use the raw expert scores. ``exact`` is the
    share of items where judge equals rounded expert, ``within_one`` the share at most one category apart.
    ``confusion[i][j]`` counts items with expert ``labels[i]`` and judge ``labels[j]``.

    Below ``min_n`` items, or when every resample gives the same value, an interval is ``[None, None]`` and
    ``ci_notes[key]`` says why. ``degenerate_share``: share of resamples in which the judge or the (rounded) expert
    side is constant, where kappa is forced to 0 or undefined. Floats are python floats; undefined values are None.
    """
    j, e = _check_pair(judge, expert)
    k = len(labels)
    jc = label_codes(j, labels, "judge")
    ec = label_codes(round_half_up(e), labels, "expert (rounded half up)")
    n = j.size
    diff = j - e
    near = (np.abs(np.arange(k)[:, None] - np.arange(k)[None, :]) <= 1).astype(float)
    ones = np.ones((1, n))

    confusion = resampled_confusion(ec, jc, k, np.arange(n)[None, :])[0]
    point = {
        "kappa_quadratic_unrounded": float(quadratic_kappa_weighted(j, e, ones)[0]),
        "kappa": sklearn_kappa(ec, jc, k, None),
        "kappa_linear": sklearn_kappa(ec, jc, k, "linear"),
        "kappa_quadratic": sklearn_kappa(ec, jc, k, "quadratic"),
        "spearman": _quiet_stat(scipy.stats.spearmanr, j, e),
        "kendall": _quiet_stat(scipy.stats.kendalltau, j, e),
        "exact": float(np.trace(confusion) / n),
        "within_one": float((confusion * near).sum() / n),
        "mean_bias": float(diff.mean()),
    }

    def measures(counts: np.ndarray, item_weights: np.ndarray, m: int) -> dict[str, np.ndarray]:
        return {
            "kappa_quadratic_unrounded": quadratic_kappa_weighted(j, e, item_weights),
            "kappa": kappa_from_counts(counts, None),
            "kappa_linear": kappa_from_counts(counts, "linear"),
            "kappa_quadratic": kappa_from_counts(counts, "quadratic"),
            "exact": np.trace(counts, axis1=1, axis2=2) / m,
            "within_one": (counts * near).sum(axis=(1, 2)) / m,
            "mean_bias": (item_weights @ diff) / m,
        }

    idx = resample_indices(n, n_boot, seed)
    reps: dict[str, list[np.ndarray]] = {}
    degenerate = []
    for s in chunk_rows(n_boot, n):
        counts = resampled_confusion(ec, jc, k, idx[s])
        for key, v in measures(counts, resample_counts(idx[s]).astype(float), n).items():
            reps.setdefault(key, []).append(v)
        degenerate.append(((counts.sum(axis=2) > 0).sum(axis=1) < 2) | ((counts.sum(axis=1) > 0).sum(axis=1) < 2))
    if n >= 2:
        jack = measures(_leave_one_out_confusion(ec, jc, k), 1.0 - np.eye(n), n - 1)
        jack["spearman"] = spearman_resampled(j, e, jackknife_indices(n))
    else:
        jack = {key: np.array([point[key]]) for key in [*reps, "spearman"]}
    reps_all = {key: np.concatenate(v) for key, v in reps.items()}
    reps_all["spearman"] = spearman_resampled(j, e, idx)
    degenerate_rows = np.concatenate(degenerate)

    out: dict = {"n": int(n)}
    notes: dict[str, str] = {}
    for key in ("kappa_quadratic_unrounded", "kappa", "kappa_linear", "kappa_quadratic", "spearman", "kendall",
                "exact", "within_one", "mean_bias"):
        out[key] = json_float(point[key])
        if key in reps_all:
            deg = degenerate_rows if key.startswith("kappa") else None
            iv = interval(point[key], reps_all[key], jack[key], n, ci, degenerate=deg, min_n=min_n)
            out[key + "_ci"] = iv["ci"]
            if iv["note"]:
                notes[key] = iv["note"]
    out["degenerate_share"] = json_float(degenerate_rows.mean())
    out["ci_notes"] = notes
    out["confusion"] = confusion.astype(int).tolist()
    return out


def residual_correlation(
    residual: ArrayLike, feature: ArrayLike, n_boot: int = 10_000, seed: int = 0, ci: float = 0.95
) -> dict:
    """Spearman correlation between judge residuals (judge - expert) and an item feature.

    A judge that tracks experts should have residuals unrelated to surface features (length,
    formality, hedging); a clear positive rho with length means length-inflated grades. ``ci`` is
    the percentile item-bootstrap interval; ``p`` is scipy's two-sided test of rho = 0 (t
    approximation). Returns ``{"spearman", "ci": [lo, hi], "p"}``, None where undefined
    (e.g. a constant feature).
    """
    r = np.asarray(residual, dtype=float).ravel()
    f = np.asarray(feature, dtype=float).ravel()
    if r.size != f.size:
        raise ValueError(f"residual and feature differ in length ({r.size} vs {f.size})")
    if r.size < 2:
        raise ValueError("residual_correlation needs at least two items")
    if np.isnan(r).any() or np.isnan(f).any():
        raise ValueError("residual/feature contain nan; drop those items first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = scipy.stats.spearmanr(r, f)
    rho, p = float(res.statistic), float(res.pvalue)
    interval = percentile_ci(spearman_resampled(r, f, resample_indices(r.size, n_boot, seed)), ci)
    return {"spearman": json_float(rho), "ci": [json_float(x) for x in interval], "p": json_float(p)}


__all__ = [
    "agreement",
    "cohen_kappa",
    "kappa_quadratic_unrounded",
    "quadratic_kappa_weighted",
    "kappa_from_counts",
    "label_codes",
    "resampled_confusion",
    "residual_correlation",
    "round_half_up",
    "spearman_resampled",
    "weight_matrix",
]
