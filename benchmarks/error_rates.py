#!/usr/bin/env python3
"""Error rates of the calibration verdicts at small n: the figures quoted in the README's statistics section.

    python benchmarks/error_rates.py [--runs 200] [--seed 0]

1. Ceiling gap (``calibration.stats.ceiling_gap``), 2 raters, n = 28: verdict shares for a judge clearly worse than
   the raters (quadratic kappa about 0.78 vs 0.90) and for a judge that is just another rater.
2. Invariance flags: 16 probe x dimension tests of a judge with no bias but re-grading noise (each item moves -1 / 0
   / +1 with probabilities 0.15 / 0.7 / 0.15): share of runs with any test below 0.05, raw and after Holm.
3. Power verdicts from a pilot of 12 good and 10 mediocre items: share of pilots whose verdict at 15 + 15 is on the
   wrong side of 80% (point estimate vs the interval-based yes / no / cannot tell), against the true power.
Prints markdown. A few minutes at the defaults on one core.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.stats import ceiling_gap, holm, power_at_n, power_summary, signed_rank_p  # noqa: E402


def ceiling(runs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name, judge_sd in (("worse judge (κq ≈ 0.78 vs raters 0.90)", 0.6), ("another rater", 0.2)):
        verdicts = []
        for _ in range(runs):
            truth = rng.normal(3, 1, 28)
            raters = np.clip(np.rint(truth + rng.normal(0, 0.2, (2, 28))), 1, 5)
            judge = np.clip(np.rint(truth + rng.normal(0, judge_sd, 28)), 1, 5)
            verdicts.append(ceiling_gap(judge, raters, n_boot=1000, seed=int(rng.integers(2**31)))["verdict"])
        out[name] = {v: verdicts.count(v) / runs for v in ("equivalent", "not shown", "below")}
    return out


def flags(runs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for n in (10, 20, 28):
        raw = adj = 0
        for _ in range(runs):
            p = [signed_rank_p(rng.choice([-1, 0, 1], size=n, p=[0.15, 0.7, 0.15])) for _ in range(16)]
            raw += min(p) < 0.05
            adj += np.nanmin(holm(p)) < 0.05
        out[n] = (raw / runs, adj / runs)
    return out


def power_verdicts(runs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    good_pop, med_pop = np.array([3, 4, 5]), np.array([2, 3, 4])
    shares = {"good": [0.3, 0.4, 0.3], "med": [0.2, 0.4, 0.4]}  # true power at 15 + 15 about 0.82
    pool_g = rng.choice(good_pop, 20000, p=shares["good"])
    pool_m = rng.choice(med_pop, 20000, p=shares["med"])
    truth = power_at_n(pool_g, pool_m, n=15, n_boot=20000, seed=1)
    wrong_point = wrong_interval = undecided = 0
    for _ in range(runs):
        g = rng.choice(good_pop, 12, p=shares["good"])
        m = rng.choice(med_pop, 10, p=shares["med"])
        res = power_summary(g, m, n_boot=500, n_pilots=100, seed=int(rng.integers(2**31)))["n30_total"]
        wrong_point += (res["power"] >= 0.8) != (truth >= 0.8)
        lo, hi = res["ci"]
        if lo >= 0.8:
            wrong_interval += truth < 0.8
        elif hi < 0.8:
            wrong_interval += truth >= 0.8
        else:
            undecided += 1
    return {"true_power": truth, "point_wrong": wrong_point / runs, "interval_wrong": wrong_interval / runs,
            "interval_cannot_tell": undecided / runs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200, help="simulated runs per figure (default: 200)")
    ap.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    args = ap.parse_args(argv)
    print(f"{args.runs} runs per figure, seed {args.seed}\n")
    print("Ceiling gap at n = 28, 2 raters, margin 0.05:\n")
    print("| judge | equivalent | not shown | below |\n|:---|---:|---:|---:|")
    for name, v in ceiling(args.runs, args.seed).items():
        print(f"| {name} | {v['equivalent']:.3f} | {v['not shown']:.3f} | {v['below']:.3f} |", flush=True)
    print("\nRuns with at least one of 16 noise-only invariance tests at p < 0.05:\n")
    print("| n | raw p | Holm |\n|---:|---:|---:|")
    for n, (raw, adj) in flags(args.runs, args.seed + 1).items():
        print(f"| {n} | {raw:.3f} | {adj:.3f} |", flush=True)
    pv = power_verdicts(max(20, args.runs // 4), args.seed + 2)
    print(f"\nPower at 15 + 15 from 12 + 10 pilots (true power {pv['true_power']:.2f}): point verdict on the wrong "
          f"side of 80% {pv['point_wrong']:.2f}; interval verdict wrong {pv['interval_wrong']:.2f}, "
          f"'cannot tell' {pv['interval_cannot_tell']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
