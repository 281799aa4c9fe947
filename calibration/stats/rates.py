"""Rates over tasks with several samples each: cluster bootstrap intervals, paired model differences, pass@k.

A rate is the mean of a 0/1 outcome over every (task, sample) row. Samples of one task are not independent (the
same prompt), so intervals come from a **cluster bootstrap**: resample tasks with replacement, keep all samples of
a drawn task together, recompute the pooled rate ``sum(successes) / sum(samples)`` over the drawn tasks; the 95%
interval is the 2.5th and 97.5th percentiles of the replicates (percentile method, ``numpy.random.default_rng(seed)``).

Two models answered the same tasks: the **paired difference** resamples the shared tasks once and takes both
models' rates from the same resample, so the interval reflects the per-task pairing.

pass@k (Chen et al. 2021, unbiased): for a task with ``n`` samples of which ``c`` pass,
``pass@k = 1 - C(n - c, k) / C(n, k)``, averaged over tasks with ``n >= k``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.stats.bootstrap import percentile_ci


@dataclass(frozen=True)
class RateCI:
    """A rate with its percentile cluster-bootstrap interval."""

    rate: float
    ci: tuple[float, float]
    n: int  # rows (task x sample) counted
    n_tasks: int
    successes: int

    def as_dict(self) -> dict:
        return {"rate": _r(self.rate), "ci95": [_r(self.ci[0]), _r(self.ci[1])], "n": self.n,
                "n_tasks": self.n_tasks, "successes": self.successes}


def _r(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def task_counts(task_ids: Sequence[str], outcomes: Sequence[bool]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(tasks in first-seen order, successes per task, samples per task)`` from row-level outcomes."""
    if len(task_ids) != len(outcomes):
        raise ValueError("task_ids and outcomes differ in length")
    order: dict[str, int] = {}
    for t in task_ids:
        order.setdefault(t, len(order))
    succ = np.zeros(len(order))
    tot = np.zeros(len(order))
    for t, o in zip(task_ids, outcomes):
        i = order[t]
        succ[i] += bool(o)
        tot[i] += 1
    return list(order), succ, tot


def cluster_bootstrap_rate(task_ids: Sequence[str], outcomes: Sequence[bool], n_boot: int = 10_000,
                           seed: int = 0, ci: float = 0.95) -> RateCI:
    """Pooled rate ``sum(outcomes) / len(outcomes)`` with a percentile interval from resampling tasks.

    With one sample per task this is the ordinary (item) bootstrap of a proportion. An empty input gives a nan
    rate and interval (reported as null), never an error: a bucket may hold no rows for some model.
    """
    tasks, succ, tot = task_counts(task_ids, outcomes)
    if not tasks:
        return RateCI(math.nan, (math.nan, math.nan), 0, 0, 0)
    rate = float(succ.sum() / tot.sum())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(tasks), size=(n_boot, len(tasks)))
    reps = succ[idx].sum(axis=1) / tot[idx].sum(axis=1)
    lo, hi = percentile_ci(reps, ci)
    return RateCI(rate, (lo, hi), int(tot.sum()), len(tasks), int(succ.sum()))


@dataclass(frozen=True)
class PairedDiff:
    diff: float  # rate(a) - rate(b) on the shared tasks
    ci: tuple[float, float]
    n_tasks: int  # tasks both models answered

    def as_dict(self) -> dict:
        return {"diff": _r(self.diff), "ci95": [_r(self.ci[0]), _r(self.ci[1])], "n_tasks": self.n_tasks}


def paired_rate_difference(tasks_a: Sequence[str], outcomes_a: Sequence[bool], tasks_b: Sequence[str],
                           outcomes_b: Sequence[bool], n_boot: int = 10_000, seed: int = 0,
                           ci: float = 0.95) -> PairedDiff:
    """``rate_a - rate_b`` over the tasks both answered, with a paired cluster-bootstrap percentile interval.

    Each replicate draws shared tasks with replacement and computes both pooled rates on that same draw.
    Tasks only one model answered are left out (so the difference compares like with like).
    """
    ta, sa, na = task_counts(tasks_a, outcomes_a)
    tb, sb, nb = task_counts(tasks_b, outcomes_b)
    pos_b = {t: i for i, t in enumerate(tb)}
    shared = [(i, pos_b[t]) for i, t in enumerate(ta) if t in pos_b]
    if not shared:
        return PairedDiff(math.nan, (math.nan, math.nan), 0)
    ia = np.array([i for i, _ in shared])
    ib = np.array([j for _, j in shared])
    sa, na, sb, nb = sa[ia], na[ia], sb[ib], nb[ib]
    diff = float(sa.sum() / na.sum() - sb.sum() / nb.sum())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(shared), size=(n_boot, len(shared)))
    reps = sa[idx].sum(1) / na[idx].sum(1) - sb[idx].sum(1) / nb[idx].sum(1)
    lo, hi = percentile_ci(reps, ci)
    return PairedDiff(diff, (lo, hi), len(shared))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task: ``1 - C(n - c, k) / C(n, k)`` (1.0 when ``n - c < k``)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_pass_at_k(task_ids: Sequence[str], passed: Sequence[bool], k: int, n_boot: int = 10_000, seed: int = 0,
                   ci: float = 0.95) -> dict | None:
    """Mean unbiased pass@k over tasks with at least ``k`` samples, with a task-bootstrap percentile interval.

    None when no task has ``k`` samples. ``n_tasks_excluded`` counts the tasks with fewer than ``k`` samples.
    """
    tasks, succ, tot = task_counts(task_ids, passed)
    keep = [i for i in range(len(tasks)) if tot[i] >= k]
    if not keep:
        return None
    vals = np.array([pass_at_k(int(tot[i]), int(succ[i]), k) for i in keep])
    rng = np.random.default_rng(seed)
    reps = vals[rng.integers(0, len(vals), size=(n_boot, len(vals)))].mean(axis=1)
    lo, hi = percentile_ci(reps, ci)
    return {"k": k, "pass_at_k": _r(float(vals.mean())), "ci95": [_r(lo), _r(hi)], "n_tasks": len(keep),
            "n_tasks_excluded": len(tasks) - len(keep)}
