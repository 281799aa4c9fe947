"""calibration.stats against reference implementations, published figures and hand calculations."""
from __future__ import annotations

import json
import math
import time

import krippendorff
import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import cohen_kappa_score

from calibration.stats import (
    agreement,
    bca_ci,
    bootstrap_ci,
    cohen_kappa,
    human_ceiling,
    kappa_from_counts,
    krippendorff_alpha,
    leave_one_out_spearman,
    mann_whitney_greater,
    n_for_power,
    paired_delta,
    pairwise_kappa,
    percentile_ci,
    power_at_n,
    power_summary,
    resample_indices,
    residual_correlation,
    round_half_up,
)
from calibration.stats.agreement import resampled_confusion, spearman_resampled

LABELS = [1, 2, 3, 4, 5]
WEIGHTS = [None, "linear", "quadratic"]
nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units,
# missing values. Published: nominal .743, ordinal .815, interval .849, ratio .797.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)


def correlated_scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    expert = rng.integers(1, 6, n)
    judge = np.clip(expert + rng.integers(-1, 2, n) * (rng.random(n) < 0.6), 1, 5)
    return judge, expert


# ---------------------------------------------------------------- agreement


def test_round_half_up():
    x = [0.5, 1.5, 2.5, 3.5, 2.4999, 2.6, -0.5, 10 / 3, 11 / 3, 4.0]
    assert round_half_up(x).tolist() == [1, 2, 3, 4, 2, 3, 0, 3, 4, 4]


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cohen_kappa_equals_sklearn(weights):
    rng = np.random.default_rng(7)
    for _ in range(5):
        judge, expert = correlated_scores(rng, 60)
        ref = cohen_kappa_score(expert, judge, labels=LABELS, weights=weights)
        assert cohen_kappa(judge, expert, LABELS, weights) == pytest.approx(ref, abs=1e-12)
        counts = resampled_confusion(expert - 1, judge - 1, 5, np.arange(60)[None, :])[0]
        assert kappa_from_counts(counts, weights) == pytest.approx(ref, abs=1e-12)


def test_absent_categories_count_for_weighted_kappa():
    judge, expert = [1, 2, 2, 3], [1, 2, 3, 3]
    wide = cohen_kappa(judge, expert, [1, 2, 3, 4, 5, 6, 7], "linear")
    narrow = cohen_kappa(judge, expert, [1, 2, 3], "linear")
    assert wide == pytest.approx(cohen_kappa_score(expert, judge, labels=[1, 2, 3, 4, 5, 6, 7], weights="linear"))
    # Linear weights depend on category positions only, so these agree; a gap in the labels does not.
    assert wide == pytest.approx(narrow)
    gapped = cohen_kappa([1, 2, 2, 5], [1, 2, 5, 5], [1, 2, 3, 4, 5], "linear")
    ref = cohen_kappa_score([1, 2, 5, 5], [1, 2, 2, 5], labels=[1, 2, 3, 4, 5], weights="linear")
    assert gapped == pytest.approx(ref)
    assert gapped != pytest.approx(cohen_kappa([1, 2, 2, 3], [1, 2, 3, 3], [1, 2, 3], "linear"))


def test_kappa_uses_expert_rounded_half_up():
    expert = [1.5, 2.5, 3.4, 4.5, 1.0, 2.0]  # means of two or more raters
    judge = [2, 3, 3, 5, 1, 2]
    assert cohen_kappa(judge, expert, LABELS) == pytest.approx(1.0)
    assert cohen_kappa(judge, expert, LABELS, "quadratic") == pytest.approx(1.0)
    res = agreement(judge, expert, LABELS, n_boot=200)
    assert res["exact"] == 1.0
    # Rank measures and bias use the unrounded means.
    assert res["spearman"] == pytest.approx(scipy.stats.spearmanr(judge, expert).statistic)
    assert res["kendall"] == pytest.approx(scipy.stats.kendalltau(judge, expert).statistic)
    assert res["mean_bias"] == pytest.approx(np.mean(np.array(judge) - np.array(expert)))


def test_undefined_kappa_is_nan_and_none():
    assert math.isnan(cohen_kappa([3, 3, 3], [3, 3, 3], LABELS))
    assert math.isnan(kappa_from_counts(np.diag([0, 0, 4, 0, 0]), "quadratic"))
    res = agreement([3, 3, 3], [3, 3, 3], LABELS, n_boot=100)
    assert res["kappa"] is None and res["kappa_ci"] == [None, None]
    assert res["exact"] == 1.0 and res["spearman"] is None
    json.dumps(res, allow_nan=False)


def test_values_outside_labels_raise():
    with pytest.raises(ValueError, match="not one of the labels"):
        cohen_kappa([1, 6], [1, 2], LABELS)
    with pytest.raises(ValueError, match="differ in length"):
        agreement([1, 2], [1], LABELS)


def test_bootstrap_kappa_equals_sklearn_on_the_same_resample():
    rng = np.random.default_rng(3)
    judge, expert = correlated_scores(rng, 80)
    idx = resample_indices(80, 25, seed=11)
    counts = resampled_confusion(expert - 1, judge - 1, 5, idx)
    for weights in WEIGHTS:
        vec = kappa_from_counts(counts, weights)
        for r in range(25):
            ref = cohen_kappa_score(expert[idx[r]], judge[idx[r]], labels=LABELS, weights=weights)
            assert vec[r] == pytest.approx(ref, abs=1e-12)


def test_vectorised_spearman_equals_scipy_on_the_same_resample():
    rng = np.random.default_rng(4)
    judge, expert = correlated_scores(rng, 50)
    expert = expert + rng.choice([0.0, 0.5], 50)  # ties and non-integer values
    idx = resample_indices(50, 20, seed=5)
    vec = spearman_resampled(judge, expert, idx)
    for r in range(20):
        assert vec[r] == pytest.approx(scipy.stats.spearmanr(judge[idx[r]], expert[idx[r]]).statistic, abs=1e-12)
    ranks = scipy.stats.rankdata(judge[idx], axis=1)
    from calibration.stats.agreement import _factorize, _resampled_midranks

    codes, k = _factorize(judge.astype(float))
    np.testing.assert_allclose(_resampled_midranks(codes, k, idx), ranks)


def test_agreement_fields_and_point_values():
    rng = np.random.default_rng(8)
    judge, expert = correlated_scores(rng, 120)
    res = agreement(judge, expert, LABELS, n_boot=500, seed=1)
    assert set(res) == {
        "n", "kappa", "kappa_linear", "kappa_quadratic", "kappa_quadratic_ci", "kappa_linear_ci", "kappa_ci",
        "spearman", "spearman_ci", "kendall", "exact", "exact_ci", "within_one", "within_one_ci",
        "mean_bias", "mean_bias_ci", "confusion", "kappa_quadratic_unrounded", "kappa_quadratic_unrounded_ci",
        "degenerate_share", "ci_notes",
    }  # fmt: skip
    json.dumps(res, allow_nan=False)
    assert res["n"] == 120
    for key, w in (("kappa", None), ("kappa_linear", "linear"), ("kappa_quadratic", "quadratic")):
        assert res[key] == pytest.approx(cohen_kappa_score(expert, judge, labels=LABELS, weights=w))
        lo, hi = res[key + "_ci"]
        assert lo < res[key] < hi
    assert res["exact"] == pytest.approx(np.mean(judge == expert))
    assert res["within_one"] == pytest.approx(np.mean(np.abs(judge - expert) <= 1))
    assert res["confusion"] == [[int(np.sum((expert == a) & (judge == b))) for b in LABELS] for a in LABELS]
    assert res == agreement(judge, expert, LABELS, n_boot=500, seed=1)  # seeded
    assert res["kappa_ci"] != agreement(judge, expert, LABELS, n_boot=500, seed=2)["kappa_ci"]


def test_agreement_is_fast():
    rng = np.random.default_rng(9)
    judge, expert = correlated_scores(rng, 1000)
    agreement(judge, expert, LABELS, n_boot=100)  # warm-up
    start = time.perf_counter()
    agreement(judge, expert, LABELS, n_boot=10_000)
    assert time.perf_counter() - start < 6.0  # shared 2-core CI machine; about 2 s alone


def test_bootstrap_interval_coverage():
    """95% percentile intervals cover the population kappa 90-98% of the time (200 seeded datasets)."""
    # Joint distribution of (expert, judge) over 5 categories: mostly agreement, some off-by-one.
    p = np.array(
        [
            [8, 3, 1, 0, 0],
            [3, 10, 4, 1, 0],
            [1, 4, 12, 4, 1],
            [0, 1, 4, 10, 3],
            [0, 0, 1, 4, 25],
        ],
        dtype=float,
    )
    p /= p.sum()
    truth = {w: kappa_from_counts(p, w) for w in WEIGHTS}
    # The population values are those of a huge sample from the same distribution.
    rng = np.random.default_rng(2024)
    big = rng.choice(25, size=2_000_000, p=p.ravel())
    big_counts = np.bincount(big, minlength=25).reshape(5, 5)
    for w in WEIGHTS:
        assert kappa_from_counts(big_counts, w) == pytest.approx(truth[w], abs=0.003)

    covered = {"kappa": 0, "kappa_quadratic": 0}
    n_sims = 200
    for _ in range(n_sims):
        cells = rng.choice(25, size=100, p=p.ravel())
        expert, judge = cells // 5 + 1, cells % 5 + 1
        res = agreement(judge, expert, LABELS, n_boot=1000, seed=int(rng.integers(2**31)))
        for key, w in (("kappa", None), ("kappa_quadratic", "quadratic")):
            lo, hi = res[key + "_ci"]
            covered[key] += lo <= truth[w] <= hi
    for key, hits in covered.items():
        assert 0.90 <= hits / n_sims <= 0.98, (key, hits / n_sims)


def test_residual_correlation():
    rng = np.random.default_rng(10)
    length = rng.integers(50, 2000, 150).astype(float)
    residual = np.round(length / 800 + rng.normal(0, 1, 150))
    res = residual_correlation(residual, length, n_boot=2000, seed=0)
    ref = scipy.stats.spearmanr(residual, length)
    assert res["spearman"] == pytest.approx(ref.statistic)
    assert res["p"] == pytest.approx(ref.pvalue)
    assert res["ci"][0] < res["spearman"] < res["ci"][1]
    assert res["spearman"] > 0.2 and res["ci"][0] > 0
    none = residual_correlation(residual, np.ones(150), n_boot=100)
    assert none["spearman"] is None and none["ci"] == [None, None]


# ---------------------------------------------------------------- bootstrap helpers


def test_resample_indices_and_percentile_ci():
    idx = resample_indices(7, 50, seed=3)
    assert idx.shape == (50, 7) and idx.min() >= 0 and idx.max() <= 6
    np.testing.assert_array_equal(idx, resample_indices(7, 50, seed=3))
    np.testing.assert_array_equal(idx, np.random.default_rng(3).integers(0, 7, size=(50, 7)))
    values = np.r_[np.arange(101, dtype=float), nan, nan]
    assert percentile_ci(values, 0.9) == pytest.approx([5.0, 95.0])
    assert all(math.isnan(x) for x in percentile_ci([nan, nan]))


def test_bootstrap_ci_generic_mean():
    data = np.random.default_rng(1).normal(2.0, 1.0, 400)
    point, (lo, hi) = bootstrap_ci(lambda d: d.mean(axis=1), data, n_boot=4000, seed=0)
    assert point == pytest.approx(data.mean())
    se = data.std(ddof=1) / np.sqrt(data.size)
    assert lo == pytest.approx(data.mean() - 1.96 * se, abs=0.2 * se)
    assert hi == pytest.approx(data.mean() + 1.96 * se, abs=0.2 * se)


def test_paired_delta():
    before = np.array([3, 3, 4, 2, 5, 3, 4, 4, 2, 3, 3, 4], dtype=float)
    change = np.array([1, 0, 1, 1, 0, 1, 2, 0, 1, -1, 1, 1], dtype=float)
    res = paired_delta(before, before + change, n_boot=5000, seed=0)
    assert res["n"] == 12
    assert res["delta"] == pytest.approx(change.mean())
    plain = bootstrap_ci(lambda d: d.mean(axis=1), change, n_boot=5000, seed=0)[1]  # BCa without expansion
    reps = change[resample_indices(12, 5000, 0)].mean(axis=1)
    jack = (change.sum() - change) / 11
    assert res["ci"] == pytest.approx(bca_ci(change.mean(), reps, jack, n=12))
    assert res["ci"][0] < plain[0] < plain[1] < res["ci"][1]  # the small-n expansion only widens
    assert 0 < res["ci"][0] < res["delta"] < res["ci"][1] < 1.5
    # ties and zeros: the exact sign-flip p (scipy's default would switch to the normal approximation)
    assert res["p"] == pytest.approx(scipy.stats.wilcoxon(
        change, zero_method="wilcox", method=scipy.stats.PermutationMethod(n_resamples=np.inf)).pvalue)
    flat = paired_delta([1, 2, 3], [1, 2, 3])
    assert flat["delta"] == 0.0 and flat["p"] == 1.0 and flat["n"] == 3
    assert flat["ci"] == [None, None] and "fewer than the minimum" in flat["note"]
    same = paired_delta(np.ones(12), np.ones(12))
    assert same["ci"] == [None, None] and "same value" in same["note"]
    json.dumps(res, allow_nan=False)


# ---------------------------------------------------------------- reliability


def test_krippendorff_published_example():
    assert krippendorff_alpha(KRIPPENDORFF_2011, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_2011, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_2011, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_2011, "ratio") == pytest.approx(0.797, abs=5e-4)
    # Fixing the category set (extra unused category) leaves the ordinal value unchanged.
    wider = krippendorff_alpha(KRIPPENDORFF_2011, "ordinal", value_domain=[1, 2, 3, 4, 5, 6])
    assert wider == pytest.approx(0.815, abs=5e-4)
    assert math.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, 1]], "ordinal"))
    assert math.isnan(krippendorff_alpha([[1, nan], [nan, 2]], "interval"))


def test_pairwise_kappa_hand_example():
    ratings = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [1, 2, 2, nan]])
    # r0-r2 and r1-r2 on items 0-2: p_o = 2/3, p_e = 2/3*1/3 + 1/3*2/3 = 4/9, kappa = (2/9)/(5/9) = 0.4.
    res = pairwise_kappa(ratings, [1, 2])
    assert res["pairs"] == pytest.approx({"r0-r1": 1.0, "r0-r2": 0.4, "r1-r2": 0.4})
    assert res["mean"] == pytest.approx(0.6)
    lonely = pairwise_kappa([[1, nan], [nan, 2]], [1, 2])
    assert lonely == {"pairs": {"r0-r1": None}, "mean": None}


def test_human_ceiling_hand_example():
    # Two raters, three items: (1, 1), (2, 3), (3, 3). Codes a = [0, 1, 2], b = [0, 2, 2].
    # Unweighted: p_o = 2/3, p_e = 1/9 + 0 + 2/9 = 1/3 -> kappa = 0.5.
    # Linear: observed 1/3, expected 1 -> 2/3. Quadratic: observed 1/3, expected 5/3 -> 0.8.
    # Interval alpha: D_o = 2/6, D_e = 58/30 -> 24/29. Nominal alpha: 1 - (1/3)/(22/30) = 6/11.
    ratings = [[1, 2, 3], [1, 3, 3]]
    res = human_ceiling(ratings, [1, 2, 3])
    assert res["kappa_pairwise_mean"] == pytest.approx(0.5)
    assert res["kappa_linear_pairwise_mean"] == pytest.approx(2 / 3)
    assert res["kappa_quadratic_pairwise_mean"] == pytest.approx(0.8)
    assert res["pairs"]["r0-r1"] == pytest.approx({"kappa": 0.5, "kappa_linear": 2 / 3, "kappa_quadratic": 0.8, "n": 3})
    assert res["krippendorff_alpha_interval"] == pytest.approx(24 / 29)
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(6 / 11)
    ref_ordinal = krippendorff.alpha(reliability_data=np.array(ratings, float), level_of_measurement="ordinal")
    assert res["krippendorff_alpha_ordinal"] == pytest.approx(ref_ordinal)
    assert res["spearman_leave_one_out_mean"] == pytest.approx(scipy.stats.spearmanr([1, 2, 3], [1, 3, 3]).statistic)
    assert (res["n_raters"], res["n_items"]) == (2, 3)
    json.dumps(res, allow_nan=False)


def test_human_ceiling_published_example_is_consistent():
    res = human_ceiling(KRIPPENDORFF_2011, [1, 2, 3, 4, 5])
    assert res["n_raters"] == 4 and res["n_items"] == 11  # unit 12 has a single rating
    assert len(res["pairs"]) == 6
    assert res["krippendorff_alpha_ordinal"] == pytest.approx(0.815, abs=5e-4)
    k = KRIPPENDORFF_2011
    both = ~np.isnan(k[1]) & ~np.isnan(k[2])
    assert res["pairs"]["r1-r2"]["kappa_quadratic"] == pytest.approx(
        cohen_kappa_score(k[1, both], k[2, both], labels=[1, 2, 3, 4, 5], weights="quadratic")
    )
    means = [np.mean([p[w] for p in res["pairs"].values()]) for w in ("kappa", "kappa_quadratic")]
    assert [res["kappa_pairwise_mean"], res["kappa_quadratic_pairwise_mean"]] == pytest.approx(means)


def test_leave_one_out_spearman():
    ratings = np.array([[1, 2, 3, 4, 5], [1, 3, 2, 4, 5], [2, 2, 3, 5, nan]])
    res = leave_one_out_spearman(ratings)
    expect = [
        scipy.stats.spearmanr([1, 2, 3, 4, 5], [1.5, 2.5, 2.5, 4.5, 5]).statistic,
        scipy.stats.spearmanr([1, 3, 2, 4, 5], [1.5, 2, 3, 4.5, 5]).statistic,
        scipy.stats.spearmanr([2, 2, 3, 5], [1, 2.5, 2.5, 4]).statistic,
    ]
    assert list(res["per_rater"].values()) == pytest.approx(expect)
    assert res["mean"] == pytest.approx(np.mean(expect))


# ---------------------------------------------------------------- power


def normal_pool(shift: float, size: int = 4000) -> np.ndarray:
    """Quantiles of N(shift, 1): resampling this pool is (almost) sampling the normal itself."""
    return shift + scipy.stats.norm.ppf((np.arange(size) + 0.5) / size)


def test_mann_whitney_equals_scipy():
    rng = np.random.default_rng(12)
    good, mediocre = rng.integers(2, 6, 40), rng.integers(1, 5, 35)
    ref = scipy.stats.mannwhitneyu(good, mediocre, alternative="greater").pvalue
    assert mann_whitney_greater(good, mediocre) == pytest.approx(ref, rel=1e-12)
    assert mann_whitney_greater(mediocre, good) > 0.5


@pytest.mark.parametrize("shift,n", [(0.5, 30), (0.8, 20)])
def test_power_matches_normal_approximation(shift, n):
    # Mann-Whitney vs t-test on normal data: asymptotic relative efficiency 3/pi, so the power is
    # about that of a one-sided z-test with n * 3/pi per group: Phi(d * sqrt(n * 3/pi / 2) - z_alpha).
    z = scipy.stats.norm.ppf(0.95)
    are = scipy.stats.norm.cdf(shift * math.sqrt(n * 3 / math.pi / 2) - z)
    # Noether (1987): Phi(sqrt(12 n m / (n + m + 1)) * (P(X > Y) - 1/2) - z_alpha).
    p_xy = scipy.stats.norm.cdf(shift / math.sqrt(2))
    noether = scipy.stats.norm.cdf(math.sqrt(12 * n * n / (2 * n + 1)) * (p_xy - 0.5) - z)
    est = power_at_n(normal_pool(shift), normal_pool(0.0), n=n, n_boot=4000, seed=0)
    assert est == pytest.approx(are, abs=0.07)
    assert est == pytest.approx(noether, abs=0.07)


def test_power_edge_cases():
    assert power_at_n([3, 3, 3], [3, 3], n=10, n_boot=200) == 0.0  # all ties: never significant
    assert power_at_n([5] * 10, [1] * 10, n=10, n_boot=200) == 1.0
    assert power_at_n(normal_pool(0.5), normal_pool(0), n=30, seed=4) == power_at_n(
        normal_pool(0.5), normal_pool(0), n=30, seed=4
    )


def test_n_for_power_consistent_and_monotone():
    good, mediocre = normal_pool(0.5), normal_pool(0.0)
    n80 = n_for_power(good, mediocre, target=0.8, n_boot=1000, seed=0)
    assert n80 is not None
    assert power_at_n(good, mediocre, n=n80, n_boot=1000, seed=0) >= 0.8
    assert power_at_n(good, mediocre, n=n80 - 1, n_boot=1000, seed=0) < 0.8
    # Normal theory with ARE 3/pi: n = 2 (z_a + z_b)^2 / d^2 * pi / 3, about 52 per group.
    theory = 2 * (scipy.stats.norm.ppf(0.95) + scipy.stats.norm.ppf(0.8)) ** 2 / 0.25 * math.pi / 3
    assert n80 == pytest.approx(theory, rel=0.2)
    n60 = n_for_power(good, mediocre, target=0.6, n_boot=1000, seed=0)
    n90 = n_for_power(good, mediocre, target=0.9, n_boot=1000, seed=0)
    assert n60 < n80 < n90
    assert n_for_power(normal_pool(1.0), mediocre, target=0.8, n_boot=1000, seed=0) < n80
    assert n_for_power(mediocre, mediocre, target=0.8, n_boot=500, seed=0, n_max=64) is None


def test_power_summary():
    good, mediocre = np.repeat([3, 4, 5], [10, 20, 10]), np.repeat([2, 3, 4], [10, 20, 10])
    res = power_summary(good, mediocre, n_boot=1000, n_pilots=50)
    assert set(res) == {"p_value", "n30_total", "n30_per_group", "n_for_80", "good_n", "mediocre_n",
                        "pilot_too_small", "note"}
    assert res["p_value"] == pytest.approx(scipy.stats.mannwhitneyu(good, mediocre, alternative="greater").pvalue)
    assert res["n30_total"]["n_per_group"] == 15 and res["n30_per_group"]["n_per_group"] == 30
    assert res["n30_total"]["power"] == power_at_n(good, mediocre, n=15, n_boot=1000)
    assert res["n30_per_group"]["power"] == power_at_n(good, mediocre, n=30, n_boot=1000)
    assert res["n30_total"]["power"] < res["n30_per_group"]["power"]
    for key in ("n30_total", "n30_per_group"):
        lo, hi = res[key]["ci"]
        assert 0 <= lo <= res[key]["power"] <= hi <= 1
    assert res["n_for_80"] == n_for_power(good, mediocre, n_boot=1000)
    assert (res["good_n"], res["mediocre_n"]) == (40, 40) and res["pilot_too_small"] is False
    json.dumps(res, allow_nan=False)
