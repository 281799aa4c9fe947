#!/usr/bin/env python3
"""Grade model outputs against a rubric.

    python run.py --samples samples.json --rubric rubric.json --output results.json

--rubric is an OUTPUT: the rubric actually used (dimensions, level descriptors, weights, the exact grading prompt,
anchors and decoding parameters) is written there. A run summary (judges used, fallbacks and flags counted, tokens,
spend) goes to stderr and to --summary (default: next to --output, as <name>.summary.json).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.batch import grade_batch
from grader.cli import add_judge_args, build_judges, decoding_record, preflight, run_main
from grader.grading import grade
from grader.io import check_output_path, load_samples, write_json_atomic
from grader.pricing import token_count_method


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", required=True, help='JSON array of {"id", "input_ticket", "model_output"}')
    p.add_argument("--rubric", required=True, help="where to write the rubric actually used (rubric.json)")
    p.add_argument("--output", required=True, help="where to write results.json")
    p.add_argument("--summary", default=None, help="where to write the run summary (default: <output>.summary.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--batch", action="store_true", help="LLM judge through the Batch API: half price, within 24h")
    p.add_argument("--batch-state", metavar="PATH", help="resumable batch state (default: <output>.batch.json)")
    p.add_argument("--poll-interval", type=float, default=30.0, metavar="SECONDS", help="batch polling (default: 30)")
    add_judge_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = check_output_path(args.output)
    rubric_out = check_output_path(args.rubric)
    summary_out = check_output_path(args.summary or out.with_name(out.stem + ".summary.json"))
    samples = load_samples(args.samples)
    setup = build_judges(args)
    estimate = preflight(setup, samples, args.force, batch=args.batch, strict=args.judge == "llm")
    if args.batch and setup.client is not None:
        state = check_output_path(args.batch_state or out.with_name(out.stem + ".batch.json"))
        run = grade_batch(samples, setup.rubric, setup.judge, setup.fallback, state, args.poll_interval)
    else:
        run = grade(samples, setup.rubric, setup.judge, setup.fallback, concurrency=args.concurrency,
                    progress=not args.quiet)
    summary = {**run.summary, "seed": args.seed, "rubric": setup.rubric.name,
               "rubric_sha256": setup.rubric.spec_sha256, "preflight": estimate,
               "token_count_method": token_count_method() if setup.client else None}
    write_json_atomic(rubric_out, setup.rubric.emitted(decoding_record(setup), setup.judge.name))
    write_json_atomic(summary_out, summary)
    write_json_atomic(out, run.results)  # last: results.json exists only when everything else was written
    print(_summary_line(summary, out), file=sys.stderr)
    return 0


def _summary_line(s: dict, out: Path) -> str:
    judged = ", ".join(f"{v} by {k}" for k, v in s["judged_by"].items()) or "none"
    flags = ", ".join(f"{k} x{v}" for k, v in s["flags"].items()) or "none"
    api = s.get("api")
    spend = f"; {api['calls']} call(s), ${api['spent_usd']:.4f}, {api['cache_hits']} cache hit(s)" if api else ""
    return (f"graded {s['n_samples']} sample(s) -> {out} ({judged}; mean overall {s['mean_overall']}; "
            f"fallbacks {s['fallbacks']}; flags: {flags}{spend})")


if __name__ == "__main__":
    run_main(main)
