#!/usr/bin/env python3
"""Grade model outputs against a rubric.

    python run.py --samples samples.json --rubric rubric.json --output results.json

--samples is a JSON array, JSON Lines or CSV file. --rubric is an OUTPUT: the rubric actually used (dimensions,
level descriptors, weights, the exact grading prompt, anchors, decoding parameters and how many samples each judge
graded) is written there. A run summary (judges used, fallbacks and flags counted, tokens, spend) goes to stderr and
to --summary (default: next to --output, as <name>.summary.json). No output may be the same file as an input.
"""
from __future__ import annotations

import sys

if sys.version_info < (3, 10):  # pragma: no cover - checked before the imports that need it
    sys.exit(f"error: Python 3.10 or newer is needed (this is {sys.version.split()[0]})")
try:
    import argparse
    from pathlib import Path

    from grader.batch import grade_batch
    from grader.cli import (EXIT_CODES_HELP, EXIT_LLM_UNUSED, ArgumentParser, add_judge_args, build_judges,
                            cached_work_note, judge_usage, llm_unused_reason, positive_float, preflight, run_main,
                            sample_fields)
    from grader.grading import grade
    from grader.io import check_output_path, load_samples, refuse_overwrite, write_json_atomic
    from grader.pricing import token_count_method
    from grader.rubric import load_rubric
    from grader.types import InputError
except ModuleNotFoundError as e:  # a fresh clone without the pinned dependencies
    sys.exit(f"error: missing dependency {e.name!r}; install them with: python3 -m pip install -r requirements.txt "
             "(or run: make example)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, epilog=EXIT_CODES_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", required=True,
                   help='samples: JSON array, JSON Lines or CSV of {"id", input field, output field} (required)')
    p.add_argument("--rubric", required=True, help="where to write the rubric actually used, rubric.json (required)")
    p.add_argument("--output", required=True, help="where to write results.json (required)")
    p.add_argument("--summary", default=None, help="where to write the run summary (default: <output>.summary.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (default: off)")
    p.add_argument("--batch", action="store_true",
                   help="LLM judge through the Batch API: half price, within 24h (default: off)")
    p.add_argument("--batch-state", metavar="PATH", help="resumable batch state (default: <output>.batch.json)")
    p.add_argument("--poll-interval", type=positive_float, default=30.0, metavar="SECONDS",
                   help="batch polling (default: 30)")
    add_judge_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    summary_path = Path(args.summary) if args.summary else out.with_name(out.stem + ".summary.json")
    state_path = Path(args.batch_state) if args.batch_state else out.with_name(out.stem + ".batch.json")
    refuse_overwrite({"--output": out, "--rubric": args.rubric, "--summary": summary_path,
                      "--batch-state": state_path if args.batch else None},
                     {"--samples": args.samples, "--rubric-spec": args.rubric_spec, "--cache": args.cache})
    out = check_output_path(out)
    rubric_out = check_output_path(args.rubric)
    summary_out = check_output_path(summary_path)
    rubric = load_rubric(args.rubric_spec)
    samples = load_samples(args.samples, *sample_fields(args, rubric))
    setup = build_judges(args, rubric)
    try:  # once calls are made, an error must say that the judgments are kept and a re-run does not pay again
        estimate = preflight(setup, samples, args.force, batch=args.batch, strict=args.judge == "llm")
        if args.batch and setup.client is not None:
            state = check_output_path(state_path)
            run = grade_batch(samples, setup.rubric, setup.judge, setup.fallback, state, args.poll_interval)
        else:
            run = grade(samples, setup.rubric, setup.judge, setup.fallback, concurrency=args.concurrency,
                        progress=not args.quiet)
        summary = {**run.summary, "seed": args.seed, "rubric": setup.rubric.name,
                   "rubric_sha256": setup.rubric.spec_sha256, "preflight": estimate,
                   "token_count_method": token_count_method() if setup.client else None}
        write_json_atomic(rubric_out, setup.rubric.emitted(judge_usage(setup, run.results), setup.judge.name))
        write_json_atomic(summary_out, summary)
        write_json_atomic(out, run.results)  # last: results.json exists only when everything else was written
    except InputError:
        raise
    except Exception as e:
        raise RuntimeError(f"{type(e).__name__}: {e}; {cached_work_note(setup)}") from e
    print(_summary_line(summary, out, summary_out), file=sys.stderr)
    unused = llm_unused_reason(args.judge, setup, run.results)
    if unused:
        print(f"error: {unused}", file=sys.stderr)
        return EXIT_LLM_UNUSED
    return 0


def _summary_line(s: dict, out: Path, summary_out: Path) -> str:
    judged = ", ".join(f"{v} by {k}" for k, v in s["judged_by"].items()) or "none"
    flags = ", ".join(f"{k} x{v}" for k, v in s["flags"].items()) or "none"
    api = s.get("api")
    spend = f"; {api['calls']} call(s), ${api['spent_usd']:.4f}, {api['cache_hits']} cache hit(s)" if api else ""
    return (f"graded {s['n_samples']} sample(s) -> {out} ({judged}; mean overall {s['mean_overall']}; "
            f"fallbacks {s['fallbacks']}; flags: {flags}{spend}); summary -> {summary_out}")


if __name__ == "__main__":
    run_main(main)
