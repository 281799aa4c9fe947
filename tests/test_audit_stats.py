"""The audit's paired statistics: hand-computed examples, references, and a seeded simulation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from calibration.stats.bootstrap import percentile_ci
from calibration.stats.paired import (bootstrap_item_means, gap_closed, holm, item_means, largest_regression,
                                      max_drop_verdict, paired_delta_ci, seed_effect, seed_summary,
                                      sign_flip_p)

BASE = [[1, 0, 1, 1], [1, 1, 1, 0]]   # 2 seeds x 4 items: per-seed means .75, .75; item means 1, .5, 1, .5
CAND = [[0, 0, 1, 1], [0, 0, 1, 0]]   # per-seed means .5, .25; item means 0, 0, 1, .5


def test_seed_summary_and_delta_by_hand():
    assert seed_summary(BASE) == (75.0, 0.0)
    mean, sd = seed_summary(CAND)
    assert mean == pytest.approx(37.5)
    assert sd == pytest.approx(100 * 0.25 / math.sqrt(2))  # |0.5 - 0.25| / sqrt(2), in points
    assert seed_summary([[1, 0]]) == (50.0, None)  # one seed: no spread
    assert item_means(CAND).tolist() == [0, 0, 1, 0.5]
    delta, ci, reps = paired_delta_ci(CAND, BASE, n_boot=2000, seed=3)
    assert delta == pytest.approx(-37.5)  # mean of d = [-1, -0.5, 0, 0]
    assert ci[0] <= -37.5 <= ci[1] and reps.shape == (2000,)


def test_seed_effect_by_hand_and_by_simulation():
    # CAND: item variances across the 2 seeds 0, 0, 0, 0.5 -> within = mean 0.125 / 4 items = 0.03125;
    # per-seed means .5, .25 -> between = 0.03125; ratio 1, p = P(chi2_1 >= 1)
    ratio, p = seed_effect(CAND)
    assert ratio == pytest.approx(1.0) and p == pytest.approx(scipy.stats.chi2.sf(1, 1))
    assert seed_effect([[1, 0]]) is None and seed_effect([[1, 0], [1, 0]])[1] == 1.0
    rng = np.random.default_rng(9)
    p_item = rng.beta(2, 2, size=300)
    null = [seed_effect((rng.random((3, 300)) < p_item).astype(float))[1] for _ in range(400)]
    assert np.mean(np.array(null) < 0.01) < 0.03  # outcome noise alone: flagged about 1% of the time
    shifted = [seed_effect((rng.random((3, 300)) < np.clip(p_item + rng.normal(0, 0.08, (3, 1)), 0, 1))
                           .astype(float))[1] for _ in range(50)]
    assert np.mean(np.array(shifted) < 0.01) > 0.5  # a seed moving every item by ~8 points: mostly caught


def test_bootstrap_resamples_items_jointly_as_documented():
    x, y = np.array([0.0, 1.0, 0.5, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.5, 0.0])
    got = bootstrap_item_means([x, y], n_boot=50, seed=11)
    idx = np.random.default_rng(11).integers(0, 5, size=(50, 5))  # the reference: the docstring's definition
    assert np.allclose(got[:, 0], x[idx].mean(axis=1)) and np.allclose(got[:, 1], y[idx].mean(axis=1))


def test_paired_interval_matches_the_exact_bootstrap_distribution():
    # Four items: the bootstrap distribution of the mean is exactly enumerable (4**4 equally likely resamples).
    d = np.array([-1.0, -0.5, 0.0, 0.0])
    grid = np.array(np.meshgrid(*[range(4)] * 4)).reshape(4, -1).T
    exact = d[grid].mean(axis=1) * 100
    lo, hi = np.percentile(exact, [2.5, 97.5])
    _, ci, _ = paired_delta_ci(d[None, :], np.zeros((1, 4)), n_boot=40_000, seed=0)
    assert ci[0] == pytest.approx(lo, abs=12.5 + 1e-9) and ci[1] == pytest.approx(hi, abs=12.5 + 1e-9)
    assert lo == -75.0 and hi == 0.0


def test_sign_flip_by_hand_and_equal_to_exact_mcnemar():
    p, method = sign_flip_p([-1, -0.5, 0, 0])
    assert p == 0.5 and "exact" in method  # sums of +-1 +-0.5: 2 of the 4 patterns reach |-1.5|
    assert sign_flip_p([0, 0, 0])[0] == 1.0
    # binary, one seed: 7 items lost, 2 gained, 11 unchanged -> McNemar exact = two-sided binomial(2 of 9)
    d = [-1] * 7 + [1] * 2 + [0] * 11
    assert sign_flip_p(d)[0] == pytest.approx(scipy.stats.binomtest(2, 9, 0.5).pvalue)
    # many discordant items: Monte Carlo, close to the exact binomial test
    d = [-1] * 40 + [1] * 22 + [0] * 30
    p_mc, method = sign_flip_p(d, n_perm=20_000, seed=1)
    assert "Monte Carlo" in method
    assert p_mc == pytest.approx(scipy.stats.binomtest(22, 62, 0.5).pvalue, abs=0.006)


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert holm([0.5, None, 0.01]) == [pytest.approx(0.5), None, pytest.approx(0.02)]
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_max_drop_verdicts():
    assert max_drop_verdict([-1.5, 0.5], 2) == "within"
    assert max_drop_verdict([-5.0, -2.5], 2) == "exceeds"
    assert max_drop_verdict([-3.0, -1.0], 2) == "inconclusive"
    assert max_drop_verdict([-2.0, 0.0], 2) == "inconclusive"  # exactly at the limit is not "less than"
    assert max_drop_verdict([math.nan, math.nan], 2) == "inconclusive"


def test_largest_regression_by_hand():
    reps = {"a": np.array([-1.0, -5, -1, -1]), "b": np.array([-3.0, -2, -4, 0]), "c": np.array([1.0, 1, 1, 1])}
    # lowest per replicate: b (-3), a (-5), b (-4), a (-1): b is lowest in 2 of 4
    assert largest_regression(reps, {"a": -1.5, "b": -2.0, "c": 1.0}) == ("b", 0.5)
    assert largest_regression(reps, {"a": 0.0, "b": 1.0, "c": 2.0}) is None


def test_gap_closed_by_hand():
    b, c, m = np.array([0.8, 0.9, 0.7]), np.array([0.6, 0.6, 0.7]), np.array([0.75, 0.8, 0.9])
    share, ci, note = gap_closed(b, c, m, 0.8, 0.6, 0.75, gap_ci=[-30, -10])
    assert share == pytest.approx(0.75)  # (0.75 - 0.6) / (0.8 - 0.6)
    assert ci == pytest.approx(percentile_ci([0.75, 2 / 3], 0.95))  # the third replicate has no gap and is dropped
    assert gap_closed(b, c, m, 0.8, 0.6, 0.75, gap_ci=[-30, 1])[0] is None
    none, _, why = gap_closed(b, c, m, 0.6, 0.8, 0.75, gap_ci=[5, 10])
    assert none is None and "improved" in why


# ---- seeded simulation: known true deltas --------------------------------------------------------------------

def simulate(rng, n, rel_drop, seeds=3, a=2.0, b=2.0):
    """Items with base success p ~ Beta(a, b); candidate p * (1 - rel_drop); true delta = -rel_drop * a/(a+b)."""
    p = rng.beta(a, b, size=n)
    base = (rng.random((seeds, n)) < p).astype(float)
    cand = (rng.random((seeds, n)) < p * (1 - rel_drop)).astype(float)
    return base, cand, -100 * rel_drop * a / (a + b)


def test_simulation_interval_coverage_is_nominal():
    rng = np.random.default_rng(2024)
    hits, reps = 0, 600
    for r in range(reps):
        base, cand, truth = simulate(rng, 150, 0.1)
        _, ci, _ = paired_delta_ci(cand, base, n_boot=1000, seed=r)
        hits += ci[0] <= truth <= ci[1]
    assert 0.93 <= hits / reps <= 0.97, hits / reps


def test_simulation_finds_the_largest_planted_regression():
    rng = np.random.default_rng(7)
    truth = {"mmlu": 0.0, "gsm8k": 0.16, "ifeval": 0.02, "house": -0.02}  # gsm8k: -8 points
    found, probs = [], []
    for r in range(5):
        reps, deltas = {}, {}
        for k, (task, drop) in enumerate(truth.items()):
            base, cand, _ = simulate(rng, 400, drop)
            deltas[task], _, reps[task] = paired_delta_ci(cand, base, n_boot=1000, seed=10 * r + k)
        task, p_largest = largest_regression(reps, deltas)
        found.append(task)
        probs.append(p_largest)
    assert found == ["gsm8k"] * 5
    assert min(probs) > 0.8 and np.mean(probs) > 0.9, probs


def test_simulation_small_drop_within_and_drop_near_limit_inconclusive():
    rng = np.random.default_rng(5)
    verdicts = {"small": [], "near": []}
    # Beta(0.2, 0.2): most items nearly always right or always wrong, as on a benchmark under greedy decoding
    for r in range(10):
        base, cand, truth = simulate(rng, 3000, 0.004, a=0.2, b=0.2)  # true drop 0.2 points, many items
        assert truth == pytest.approx(-0.2)
        verdicts["small"].append(max_drop_verdict(paired_delta_ci(cand, base, 1000, r)[1], 2.0))
        base, cand, truth = simulate(rng, 100, 0.04, a=0.2, b=0.2)  # true drop 2 points, 100 items
        verdicts["near"].append(max_drop_verdict(paired_delta_ci(cand, base, 1000, r)[1], 2.0))
    assert verdicts["small"].count("within") >= 9, verdicts["small"]
    assert verdicts["near"].count("inconclusive") >= 9, verdicts["near"]
