#!/usr/bin/env python3
"""Write a self-contained HTML page for a run.py grading run.

    python report.py out/results.json [--samples examples/samples.json] [--experts examples/expert_grades.json]
        [--output out/report.html]

The page shows the headline figures (mean overall and per dimension with 95% bootstrap intervals and n, the
judges used, fallbacks, flags and cost, read from the run's summary file) and every sample in a table that sorts,
filters (flagged, fallbacks, judge-vs-expert disagreement of 2+ points, judge) and searches; clicking a row opens
the sample's input, output, scores, rationale, expert grades and flags. It needs no network and opens from disk.
The studies (calibrate.py, refusal.py, winrate.py, audit.py) write their own report.html beside report.md.

Exit status: 0 written; 2 bad input (one line on stderr).
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from calibration.html_reports import grading_page
from grader.cli import run_main
from grader.io import read_json, read_rows, write_atomic
from grader.types import InputError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", help="results.json written by run.py")
    p.add_argument("--summary", default=None,
                   help="the run's summary file (default: <results>.summary.json beside it, if present)")
    p.add_argument("--samples", default=None, help="the samples file, to show inputs and outputs (default: none)")
    p.add_argument("--experts", default=None,
                   help="expert grades [{id, rater?, scores}], to show disagreement (default: none)")
    p.add_argument("--input-field", default="input_ticket", help="the samples' input field (default: input_ticket)")
    p.add_argument("--output-field", default="model_output", help="the samples' output field (default: model_output)")
    p.add_argument("--output", default=None, help="where to write the page (default: report.html beside results)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results_path = Path(args.results)
    out = Path(args.output) if args.output else results_path.with_name("report.html")
    inputs = [Path(p) for p in (args.results, args.summary, args.samples, args.experts) if p]
    for src in inputs:
        if src.exists() and out.exists() and src.resolve() == out.resolve():
            raise InputError(out, f"the page would overwrite an input ({src})")
    results = read_json(results_path, "results file")
    if not isinstance(results, list) or not all(isinstance(r, dict) and isinstance(r.get("scores"), dict)
                                                for r in results):
        raise InputError(results_path, "expected results.json from run.py: a JSON array of {id, scores, ...}")
    summary_path = Path(args.summary) if args.summary else results_path.with_name(results_path.stem + ".summary.json")
    summary = read_json(summary_path, "summary file") if (args.summary or summary_path.exists()) else None
    samples = None
    if args.samples:
        samples = {str(r.get("id")): r for r in read_rows(args.samples, "samples file")}
    experts = None
    if args.experts:
        acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for i, row in enumerate(read_rows(args.experts, "expert grades file")):
            scores = row.get("scores", {k: v for k, v in row.items() if k not in ("id", "rater", "overall")})
            if not isinstance(scores, dict):
                raise InputError(args.experts, "'scores' must be an object", i, row.get("id"))
            for k, v in scores.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    acc[str(row.get("id"))][k].append(float(v))
        experts = {sid: {k: sum(v) / len(v) for k, v in d.items()} for sid, d in acc.items()}
    page = grading_page(results, summary, samples, experts, title=f"Grading run: {results_path.name}",
                        input_field=args.input_field, output_field=args.output_field)
    write_atomic(out, page)
    print(f"wrote {out} ({len(page.encode('utf-8')) / 1024:.0f} KB, {len(results)} sample(s))", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
