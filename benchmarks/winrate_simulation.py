#!/usr/bin/env python3
"""Seeded simulations behind the README's win-rate figures (a fuller table than the tests run).

    python benchmarks/winrate_simulation.py [--studies 20000] [--seed 11]

1. False-positive rate of the one-sided test at a true win rate equal to the target (0.60), for several n and tie
   rates (conditional exact binomial test), and for the mean of three independent editors (exact binomial bound).
2. Coverage of the 95% percentile bootstrap interval of the win rate (n = 50, true 0.65, 20% ties).
3. Exact power at n = 50 and the n for 80% power, without ties and with 20% ties.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from calibration.stats.winrate import _conditional_p, exact_power, n_for_power, win_rate, win_rate_test  # noqa: E402


def draw(rng, n, reps, rate, tie):
    return rng.choice([1.0, 0.5, 0.0], size=(reps, n), p=[rate - tie / 2, tie, 1 - rate - tie / 2])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=20_000, help="simulated studies per cell (default: 20000)")
    ap.add_argument("--seed", type=int, default=11, help="simulation seed (default: 11)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"seed {args.seed}, {args.studies} studies per cell, target 0.60, alpha 0.05\n")
    print("| test | n | ties | false-positive rate |\n|---|---:|---:|---:|")
    for n, tie in [(20, 0.0), (50, 0.0), (50, 0.3), (100, 0.5), (50, 0.6)]:
        x = draw(rng, n, args.studies, 0.60, tie)
        p = _conditional_p((x == 1).sum(axis=1), (x == 0.5).sum(axis=1), n, 0.60)
        print(f"| conditional exact binomial | {n} | {tie:.0%} | {np.mean(p < 0.05):.4f} |")
    pooled = rng.binomial(1, 0.6, size=(min(args.studies, 5000), 50, 3)).mean(axis=2)
    fpr = np.mean([win_rate_test(r, 0.60)["p_value"] < 0.05 for r in pooled])
    print(f"| binomial bound, mean of 3 editors | 50 | 0% | {fpr:.4f} |")
    for rate in (0.65, 0.70):
        s = rng.binomial(1, rate, size=(min(args.studies, 3000), 50, 3)).mean(axis=2)
        pw = np.mean([win_rate_test(r, 0.60)["p_value"] < 0.05 for r in s])
        print(f"| (power of the bound test, 3 editors, true {rate}) | 50 | 0% | {pw:.4f} |")
    reps = min(args.studies, 1000)
    hits = [win_rate(x, n_boot=2000, seed=i)["ci"] for i, x in enumerate(draw(rng, 50, reps, 0.65, 0.2))]
    print(f"\ninterval coverage (n 50, true 0.65, 20% ties, {reps} studies): "
          f"{np.mean([lo <= 0.65 <= hi for lo, hi in hits]):.3f}\n")
    print("| ties | power n=50, true 0.65 | true 0.70 | n for 80%, 0.65 | n for 80%, 0.70 |\n|---:|---:|---:|---:|---:|")
    for tie in (0.0, 0.2):
        print(f"| {tie:.0%} | {exact_power(50, 0.65, 0.6, tie):.3f} | {exact_power(50, 0.70, 0.6, tie):.3f} | "
              f"{n_for_power(0.65, 0.6, tie)} | {n_for_power(0.70, 0.6, tie)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
