#!/usr/bin/env python3
"""Fill blank editor sheets with simulated choices, for the example only: each editor reports the pair's label
(in the pairs file) with probability --accuracy, else another choice at random. Real studies use real editors."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from calibration.editor_sheets import simulate_fill  # noqa: E402
from grader.cli import run_main  # noqa: E402
from grader.pairwise import load_pairs  # noqa: E402
from grader.types import InputError  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", required=True, help="the labelled pairs the sheets were written from (no default)")
    ap.add_argument("--sheets", required=True, help="the directory 'winrate.py sheets' wrote (no default)")
    ap.add_argument("--accuracy", type=float, default=0.85, help="chance an editor reports the label (default: 0.85)")
    ap.add_argument("--seed", type=int, default=1, help="simulation seed (default: 1)")
    args = ap.parse_args()
    pairs = load_pairs(args.pairs)
    truth = {p.id: p.label for p in pairs}
    if None in truth.values():
        raise InputError(args.pairs, "every pair needs a 'label' to simulate editors")
    simulate_fill(args.sheets, [0.5], truth=truth, accuracy=args.accuracy, seed=args.seed)
    print(f"simulated editors filled the sheets in {args.sheets}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
