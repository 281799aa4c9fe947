#!/usr/bin/env python3
"""How well do the audit's intervals and tests behave? A seeded simulation table for the README.

For each number of items and seeds: coverage of the 95% paired bootstrap interval at a true delta of -5 points, the
sign-flip test's false-positive rate at a true delta of 0 (alpha 0.05), and its power at -5 points. Items have base
success probability p ~ Beta(2, 2); the candidate's is p * 0.9 (true delta -5 points) or p (no change).

    python benchmarks/audit_coverage.py [--reps 400] [--n-boot 1000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibration.stats.paired import paired_delta_ci, sign_flip_p  # noqa: E402


def draw(rng, n, seeds, rel_drop):
    p = rng.beta(2, 2, size=n)
    base = (rng.random((seeds, n)) < p).astype(float)
    cand = (rng.random((seeds, n)) < p * (1 - rel_drop)).astype(float)
    return base, cand


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=400, help="simulated tasks per cell (default: 400)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples and sign patterns (default: 1000)")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    args = ap.parse_args()
    print("| items | seeds | coverage (truth -5) | false positives (truth 0) | power (truth -5) |")
    print("|---:|---:|---:|---:|---:|")
    for n in (50, 100, 200, 500):
        for seeds in (1, 3):
            rng = np.random.default_rng([args.seed, n, seeds])
            cover = fp = power = 0
            for r in range(args.reps):
                base, cand = draw(rng, n, seeds, 0.1)
                _, ci, _ = paired_delta_ci(cand, base, args.n_boot, r)
                cover += ci[0] <= -5.0 <= ci[1]
                power += sign_flip_p(cand.mean(0) - base.mean(0), args.n_boot, r)[0] < 0.05
                base, cand = draw(rng, n, seeds, 0.0)
                fp += sign_flip_p(cand.mean(0) - base.mean(0), args.n_boot, r)[0] < 0.05
            k = args.reps
            print(f"| {n} | {seeds} | {cover / k:.3f} | {fp / k:.3f} | {power / k:.3f} |", flush=True)


if __name__ == "__main__":
    main()
