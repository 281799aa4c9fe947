"""Win-rate statistics: seeded simulations of the test's false-positive rate and the interval's coverage, hand
examples, and reference implementations."""
from __future__ import annotations

import krippendorff
import numpy as np
import pytest
import scipy.stats

from calibration.stats.editors import (_fleiss_from_counts, category_counts, editor_agreement, judge_vs_majority,
                                       majority)
from calibration.stats.winrate import (_conditional_p, exact_power, length_controlled, n_for_power, position_bias,
                                       preference_accuracy, win_rate, win_rate_test)


def draw(rng, n, reps, rate, tie):
    return rng.choice([1.0, 0.5, 0.0], size=(reps, n), p=[rate - tie / 2, tie, 1 - rate - tie / 2])


@pytest.mark.parametrize("n,tie", [(20, 0.0), (50, 0.0), (50, 0.3), (100, 0.5)])
def test_false_positive_rate_at_the_target_is_at_most_alpha(n, tie):
    rng = np.random.default_rng(11)
    x = draw(rng, n, 4000, 0.60, tie)
    p = _conditional_p((x == 1).sum(axis=1), (x == 0.5).sum(axis=1), n, 0.60)
    rate = float(np.mean(p < 0.05))
    # Monte Carlo sd at 5% is 0.0034: the bound allows two of them.
    assert rate <= 0.05 + 0.007, rate
    assert win_rate_test(x[0], 0.60)["p_value"] == pytest.approx(float(p[0]))


def test_false_positive_rate_for_pooled_editor_scores():
    rng = np.random.default_rng(12)
    # three editors, each decisive, candidate preferred with probability 0.6 -> pooled scores in thirds
    s = rng.binomial(1, 0.6, size=(3000, 50, 3)).mean(axis=2)
    rejects = [win_rate_test(row, 0.60)["p_value"] < 0.05 for row in s]
    assert "binomial bound" in win_rate_test(s[0], 0.6)["method"]
    assert np.mean(rejects) <= 0.05


def test_power_matches_simulation_and_grows_with_n():
    rng = np.random.default_rng(13)
    x = draw(rng, 50, 4000, 0.70, 0.2)
    p = _conditional_p((x == 1).sum(axis=1), (x == 0.5).sum(axis=1), 50, 0.60)
    assert exact_power(50, 0.70, 0.60, 0.2) == pytest.approx(np.mean(p < 0.05), abs=0.025)
    n80 = n_for_power(0.70, 0.60, 0.2)
    assert exact_power(n80, 0.70, 0.60, 0.2) >= 0.8 > exact_power(n80 // 2, 0.70, 0.60, 0.2)
    # no ties: the exact binomial test's power, computed directly
    crit = next(k for k in range(51) if scipy.stats.binom.sf(k - 1, 50, 0.6) < 0.05)
    assert exact_power(50, 0.7, 0.6, 0.0) == pytest.approx(scipy.stats.binom.sf(crit - 1, 50, 0.7))


def test_bootstrap_interval_covers_the_true_win_rate():
    rng = np.random.default_rng(14)
    hits = [win_rate(x, n_boot=1000, seed=i)["ci"] for i, x in enumerate(draw(rng, 50, 300, 0.65, 0.2))]
    coverage = np.mean([lo <= 0.65 <= hi for lo, hi in hits])
    assert 0.90 <= coverage <= 0.99, coverage


def test_hand_computed_win_rate_and_test():
    s = [1, 1, 1, 0.5, 0]  # 3 wins, 1 tie, 1 loss
    assert win_rate(s)["win_rate"] == pytest.approx(0.7)
    # boundary: q0 = (5 * 0.6 - 0.5) / 4 = 0.625; p = P(Bin(4, 0.625) >= 3)
    assert win_rate_test(s, 0.6)["p_value"] == pytest.approx(scipy.stats.binom.sf(2, 4, 0.625))


def test_position_bias_and_length_control():
    assert position_bias([2, 1, 0], [2, 2, 0])["first_position_rate"] == pytest.approx(0.75)
    rng = np.random.default_rng(15)
    n = 400
    d = rng.normal(0, 40, n)  # length differences in words
    # true model: the judge likes length (slope 1 per SD); at equal length the candidate wins 50%
    p = 1 / (1 + np.exp(-(d / d.std())))
    first, second = rng.binomial(1, p), rng.binomial(1, p)
    lc = length_controlled(first, second, d, n_boot=300, seed=0)
    assert lc["length_coef"] == pytest.approx(1.0, abs=0.3)
    assert lc["ci"][0] <= 0.5 <= lc["ci"][1] and abs(lc["lc_win_rate"] - 0.5) < 0.06
    # lengths that do not matter: a length coefficient near 0 and the controlled rate near the raw one
    w = rng.binomial(1, 0.7, size=(2, n))
    lc0 = length_controlled(w[0], w[1], d, n_boot=200)
    assert abs(lc0["length_coef"]) < 0.3 and lc0["lc_win_rate"] == pytest.approx(w.mean(), abs=0.03)


def test_preference_accuracy_from_margins():
    r = preference_accuracy([1.0, 2.0, -1.0, 0.0], target=0.5, n_boot=200)
    assert r["accuracy"] == pytest.approx((1 + 1 + 0 + 0.5) / 4) and r["n"] == 4


def test_fleiss_kappa_reference_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> kappa 0.210
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]], float)
    assert float(_fleiss_from_counts(table)) == pytest.approx(0.210, abs=0.0005)


def test_alpha_matches_the_krippendorff_package_and_judge_agreement():
    rng = np.random.default_rng(16)
    ch = rng.integers(0, 3, size=(40, 3))
    ch[:25] = 2
    a = editor_agreement(ch, n_boot=300)
    ref = krippendorff.alpha(reliability_data=ch.T, level_of_measurement="nominal")
    assert a["krippendorff_alpha_nominal"] == pytest.approx(ref, abs=1e-9)
    assert a["krippendorff_alpha_ci"][0] < ref < a["krippendorff_alpha_ci"][1]
    maj = majority(ch)
    assert (category_counts(ch).max(axis=1)[maj < 0] <= 1).all()
    perfect = judge_vs_majority(np.where(maj < 0, 1, maj), ch, n_boot=200)
    assert perfect["accuracy_with_ties"] == 1.0 and perfect["cohen_kappa"] == pytest.approx(1.0)
