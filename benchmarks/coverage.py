#!/usr/bin/env python3
"""Coverage of the agreement intervals at the sample sizes users have: the table in the README's statistics section.

    python benchmarks/coverage.py [--sims 1000] [--n-boot 2000] [--seed 0]

For each joint distribution of (expert, judge) grades below and each n, it draws ``--sims`` datasets of n items,
computes 95% intervals for Cohen's kappa and quadratic kappa from the same bootstrap resamples in two ways, and counts
how often each interval contains the population value (the kappa of the distribution itself):

* ``percentile``: the method used before (percentile interval, undefined resamples dropped);
* ``BCa``: the method ``calibrate.py`` uses now (``calibration.stats.bootstrap.bca_ci`` with ``n``: BCa with
  Hesterberg's small-sample expansion). Below the minimum n
  (``MIN_N_FOR_INTERVAL``) calibrate gives no interval at all; the table still shows what BCa would have covered.

"above / below": share of datasets where the whole interval lies above / below the truth. A dataset whose
interval is undefined counts as a miss on neither side. Prints a markdown table. About a minute at the
defaults on one core.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.stats.agreement import kappa_from_counts, resampled_confusion  # noqa: E402
from calibration.stats.bootstrap import MIN_N_FOR_INTERVAL, bca_ci, percentile_ci, resample_indices  # noqa: E402

DISTRIBUTIONS = {
    # rows: expert 1..5, columns: judge 1..5 (relative frequencies)
    "balanced": np.array([[8, 3, 1, 0, 0], [3, 10, 4, 1, 0], [1, 4, 12, 4, 1], [0, 1, 4, 10, 3], [0, 0, 1, 4, 25]]),
    "lenient, top-heavy": np.array([[2, 2, 1, 0, 0], [0, 3, 3, 1, 0], [0, 1, 6, 6, 1], [0, 0, 2, 18, 10],
                                    [0, 0, 0, 6, 38]]),
}
SIZES = (5, 10, 20, 28, 100)
MEASURES = {"kappa": None, "kappa_quadratic": "quadratic"}


def coverage(p: np.ndarray, n: int, sims: int, n_boot: int, seed: int) -> dict:
    """``{(measure, method): (covered, above, below)}`` shares over ``sims`` datasets of ``n`` items."""
    p = np.asarray(p, dtype=float) / np.sum(p)
    k = p.shape[0]
    truth = {m: kappa_from_counts(p, w) for m, w in MEASURES.items()}
    rng = np.random.default_rng(seed)
    tally = {(m, meth): np.zeros(3) for m in MEASURES for meth in ("percentile", "BCa")}
    for _ in range(sims):
        cells = rng.choice(k * k, size=n, p=p.ravel())
        ec, jc = cells // k, cells % k
        idx = resample_indices(n, n_boot, int(rng.integers(2**31)))
        counts = resampled_confusion(ec, jc, k, idx)
        full = resampled_confusion(ec, jc, k, np.arange(n)[None, :])[0]
        one = np.zeros((n, k, k))
        one[np.arange(n), ec, jc] = 1
        for m, w in MEASURES.items():
            reps = kappa_from_counts(counts, w)
            point = kappa_from_counts(full, w)
            jack = kappa_from_counts(full[None] - one, w)
            for meth, (lo, hi) in (("percentile", percentile_ci(reps)), ("BCa", bca_ci(point, reps, jack, n=n))):
                t = truth[m]
                if np.isnan(lo) or np.isnan(hi):
                    continue  # undefined: a miss on neither side
                tally[(m, meth)] += [lo <= t <= hi, lo > t, hi < t]
    return {key: tuple(v / sims) for key, v in tally.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, default=1000, help="simulated datasets per cell (default: 1000)")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples per dataset (default: 2000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the whole simulation (default: 0)")
    args = ap.parse_args(argv)
    print(f"95% interval coverage, {args.sims} datasets per cell, {args.n_boot} resamples, seed {args.seed}; "
          f"calibrate gives no interval below n = {MIN_N_FOR_INTERVAL} (BCa shown in parentheses there).\n")
    print("| distribution | n | measure | percentile: covered (above / below) | BCa: covered (above / below) |")
    print("|:---|---:|:---|---:|---:|")
    for d, (name, p) in enumerate(DISTRIBUTIONS.items()):
        for n in SIZES:
            res = coverage(p, n, args.sims, args.n_boot, args.seed + 1000 * d + n)
            for m in MEASURES:
                cells = []
                for meth in ("percentile", "BCa"):
                    cov, low, high = res[(m, meth)]
                    txt = f"{cov:.3f} ({low:.3f} / {high:.3f})"
                    cells.append(f"({txt})" if meth == "BCa" and n < MIN_N_FOR_INTERVAL else txt)
                print(f"| {name} | {n} | {m} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
