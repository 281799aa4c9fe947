"""Rates, cluster-bootstrap intervals, paired differences and pass@k against hand-computed values, exact
enumeration, a brute-force count and a seeded coverage simulation."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from calibration.stats.rates import (cluster_bootstrap_rate, mean_pass_at_k, paired_rate_difference, pass_at_k,
                                     task_counts)


def _exact_quantiles(succ, tot, qs):
    """Quantiles of the exact cluster-bootstrap distribution, by enumerating all n^n task draws."""
    n = len(succ)
    vals = sorted(sum(succ[i] for i in d) / sum(tot[i] for i in d) for d in itertools.product(range(n), repeat=n))
    return [vals[math.ceil(q * len(vals)) - 1] for q in qs]


def test_pooled_rate_and_interval_hand_computed():
    # task a: 2 samples, both refused; task b: 2 samples, one refused; task c: 1 sample, complied -> 3/5
    tasks = ["a", "a", "b", "b", "c"]
    refused = [1, 1, 1, 0, 0]
    assert task_counts(tasks, refused)[1].tolist() == [2, 1, 0]
    r = cluster_bootstrap_rate(tasks, refused, n_boot=20_000, seed=3)
    assert r.rate == pytest.approx(0.6) and (r.n, r.n_tasks, r.successes) == (5, 3, 3)
    # Exact: the lowest pooled rate is 0 (c,c,c: 0/3) with probability 1/27 = 3.7% > 2.5%, so the lower bound is 0;
    # the highest is 1 (a,a,a: 6/6) with probability 1/27 > 2.5%, so the upper bound is 1.
    assert _exact_quantiles([2, 1, 0], [2, 2, 1], [0.025, 0.975]) == [0.0, 1.0]
    assert list(r.ci) == [0.0, 1.0]


def test_interval_matches_exact_enumeration_on_a_larger_example():
    succ, tot = [3, 0, 1, 2, 0, 1], [3, 1, 2, 2, 2, 1]
    tasks = [f"t{i}" for i, n in enumerate(tot) for _ in range(n)]
    outcomes = [j < s for s, n in zip(succ, tot) for j in range(n)]
    r = cluster_bootstrap_rate(tasks, outcomes, n_boot=40_000, seed=1)
    assert r.rate == pytest.approx(7 / 11)
    lo, hi = _exact_quantiles(succ, tot, [0.025, 0.975])
    assert r.ci[0] == pytest.approx(lo, abs=0.02) and r.ci[1] == pytest.approx(hi, abs=0.02)


def test_seeded_and_empty():
    a = cluster_bootstrap_rate(["x", "y", "z"], [1, 0, 1], n_boot=500, seed=9)
    b = cluster_bootstrap_rate(["x", "y", "z"], [1, 0, 1], n_boot=500, seed=9)
    assert a == b
    e = cluster_bootstrap_rate([], [])
    assert math.isnan(e.rate) and e.as_dict()["rate"] is None and e.n == 0


def test_paired_difference_hand_computed():
    # Same two tasks; model A refuses task 1 only, model B refuses neither -> difference 0.5.
    # Exact paired draws: (1,1) -> 1, (1,2)/(2,1) -> 0.5, (2,2) -> 0; each end has probability 1/4 > 2.5%.
    d = paired_rate_difference(["t1", "t2"], [1, 0], ["t2", "t1", "t3"], [0, 0, 1], n_boot=10_000, seed=0)
    assert d.diff == pytest.approx(0.5) and d.n_tasks == 2  # t3 (only B answered it) is left out
    assert list(d.ci) == [0.0, 1.0]


def test_paired_interval_is_narrower_than_unpaired_when_models_agree_per_task():
    rng = np.random.default_rng(0)
    hard = rng.random(60) < 0.5
    tasks = [f"t{i}" for i in range(60)]
    a = hard.tolist()
    b = [h or (i % 10 == 0) for i, h in enumerate(hard)]  # B refuses the same tasks and a few more
    d = paired_rate_difference(tasks, a, tasks, b, n_boot=4000, seed=0)
    ra = cluster_bootstrap_rate(tasks, a, n_boot=4000, seed=0)
    # a few extra refusals in 60 tasks: the paired interval excludes 0, narrower than one rate's own interval
    assert d.diff == pytest.approx((sum(a) - sum(b)) / 60) and d.ci[1] < 0 and d.ci[1] - d.ci[0] < 0.75 * (ra.ci[1] - ra.ci[0])


def _brute_pass_at_k(n, c, k):
    """Fraction of all k-subsets of the n samples that contain at least one passing sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_pass_at_k_equals_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_brute_pass_at_k(n, c, k))


def test_mean_pass_at_k_over_tasks():
    tasks = ["a"] * 3 + ["b"] * 3 + ["c"]
    passed = [True, False, False, False, False, False, True]
    m = mean_pass_at_k(tasks, passed, k=2, n_boot=2000)
    # a: 1 - C(2,2)/C(3,2) = 2/3; b: 0; c has 1 sample < k: excluded
    assert m["pass_at_k"] == pytest.approx(round(1 / 3, 4)) and m["n_tasks"] == 2 and m["n_tasks_excluded"] == 1
    assert mean_pass_at_k(["a"], [True], k=2) is None
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_coverage_of_the_95_percent_interval_by_simulation():
    """Tasks with heterogeneous refusal probabilities (Beta(2, 3), mean 0.4), 40 tasks x 3 samples: the share of
    600 seeded simulated studies whose interval holds the true rate 0.4 must be 93-97%."""
    rng = np.random.default_rng(2024)
    n_sims, n_tasks, k, true = 600, 40, 3, 0.4
    covered = 0
    tasks = [f"t{i}" for i in range(n_tasks) for _ in range(k)]
    for s in range(n_sims):
        p = rng.beta(2, 3, size=n_tasks)
        y = (rng.random((n_tasks, k)) < p[:, None]).ravel()
        r = cluster_bootstrap_rate(tasks, y, n_boot=1000, seed=s)
        covered += r.ci[0] <= true <= r.ci[1]
    coverage = covered / n_sims
    print(f"coverage {coverage:.3f}")
    assert 0.93 <= coverage <= 0.97
