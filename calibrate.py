#!/usr/bin/env python3
"""How far can the judge's grades be trusted? Compare them with expert grades, probe the judge, report.

    python calibrate.py --samples S.json --experts E.json --results R.json --out-dir D [--probes]

--results is run.py's results.json for the same samples (its <name>.summary.json beside it, if present, supplies
API calls and token split); without --results the samples are graded here with the chosen judge. Writes
D/calibration.json (every figure), D/report.md (the verdicts a person reads) and PNG plots: confusion matrices per
dimension and overall, and with --probes the probe deltas with their intervals. D is created if missing (its parent
must exist). With --probes every sample is rewritten by each probe (calibration.probes) and the rewrites are graded by
the same judge: this is the only step that makes API calls besides grading without --results.

Exit codes: 0 done, 2 bad input (one line on stderr, nothing written), 1 internal error.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from calibration.study import (POWER_PROBES, calibrate, expert_table, load_results, make_grader, plan_probes,
                                 plan_samples, power_needs_probes, read_run_summary, results_judge_name)
from grader.cli import add_judge_args, build_judges, positive_int, preflight, run_main
from grader.grading import grade
from grader.io import load_expert_grades, load_samples, write_atomic, write_json_atomic
from calibration.report import confusion_png, probes_png, render_report
from grader.rubric import load_rubric
from grader.types import InputError

CONFUSION_PNG = "confusion_matrices.png"
PROBES_PNG = "probe_deltas.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", required=True, help='JSON array of {"id", "input_ticket", "model_output"}')
    p.add_argument("--experts", default=None,
                   help='expert grades: [{"id", "rater"?, "scores": {...}}] (without it: no agreement figures)')
    p.add_argument("--results", default=None, help="run.py's results.json for --samples (default: grade here)")
    p.add_argument("--out-dir", required=True, help="where to write calibration.json, report.md and the plots")
    p.add_argument("--probes", action="store_true", help="run the bias and sensitivity probes (grades rewrites)")
    p.add_argument("--n-boot", type=positive_int, default=10_000, help="bootstrap resamples (default: 10000)")
    p.add_argument("--good-min", type=float, default=4.0,
                   help="expert overall at or above this is 'good' for the power estimate (default: 4)")
    p.add_argument("--mediocre-max", type=float, default=3.0,
                   help="expert overall at or below this is 'mediocre' (default: 3)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_judge_args(p)
    return p.parse_args(argv)


def check_out_dir(path: str) -> Path:
    d = Path(path)
    parent = d.parent if str(d.parent) else Path(".")
    if d.exists() and not d.is_dir():
        raise InputError(d, "--out-dir exists and is not a directory")
    if not parent.is_dir():
        raise InputError(d, f"parent directory {str(parent)!r} of --out-dir does not exist")
    if not os.access(d if d.is_dir() else parent, os.W_OK):
        raise InputError(d, "--out-dir is not writable")
    return d


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = check_out_dir(args.out_dir)
    if args.good_min <= args.mediocre_max:
        raise InputError("--good-min", f"must be above --mediocre-max ({args.good_min:g} <= {args.mediocre_max:g})")
    rubric = load_rubric(args.rubric_spec)
    samples = load_samples(args.samples)
    if not samples:
        raise InputError(args.samples, "no samples")
    experts = None
    expert_overall = None
    if args.experts:
        experts = load_expert_grades(args.experts, rubric.keys, (rubric.scale_min, rubric.scale_max),
                                     known_ids={s.id for s in samples})
        ex = expert_table(experts, rubric, [s.id for s in samples])
        expert_overall = [rubric.overall(dict(zip(ex.keys, row))) for row in ex.mean()]
    results = summary = None
    if args.results:
        results = load_results(args.results, samples, rubric)
        summary = read_run_summary(args.results)

    need_power_probes = power_needs_probes(expert_overall, args.good_min, args.mediocre_max)
    setup = None
    if results is None or args.probes or need_power_probes:
        setup = build_judges(args, rubric)
    plan = None
    if args.probes:
        plan = plan_probes(samples, rubric, args.seed)
    elif need_power_probes:
        plan = plan_probes(samples, rubric, args.seed, names=POWER_PROBES)
    regrade = bool(plan) and results is not None and results_judge_name(results, summary) != setup.judge.name
    if setup is not None:
        to_grade = (samples if results is None or regrade else []) + (plan_samples(plan) if plan else [])
        preflight(setup, to_grade, args.force)

    graded_here = results is None
    if graded_here:
        run = grade(samples, rubric, setup.judge, setup.fallback, concurrency=args.concurrency,
                    progress=not args.quiet)
        results = run.results
        summary = {**run.summary, "seed": args.seed, "rubric": rubric.name, "rubric_sha256": rubric.spec_sha256}

    def warn(msg: str) -> None:
        print(f"warning: {msg}", file=sys.stderr)

    grader = make_grader(rubric, setup.judge, setup.fallback, args.concurrency, not args.quiet) if setup else None
    doc = calibrate(samples, rubric, results, experts=experts, results_summary=summary, grader=grader,
                    probe_judge=setup.judge.name if (setup and plan) else None, probe_plan=plan,
                    report_probes=args.probes, seed=args.seed, n_boot=args.n_boot, good_min=args.good_min,
                    mediocre_max=args.mediocre_max, warn=warn)
    doc["inputs"] = {"samples": str(args.samples), "experts": args.experts, "results": args.results,
                     "rubric_spec": str(args.rubric_spec), "graded_here": graded_here}
    if setup is not None and setup.client is not None:
        doc["api"] = setup.client.summary()

    confusion = confusion_png(doc)
    probe_plot = probes_png(doc)
    doc["plots"] = [name for name, data in ((CONFUSION_PNG, confusion), (PROBES_PNG, probe_plot)) if data]
    report = render_report(doc)

    out_dir.mkdir(exist_ok=True)
    if graded_here:
        write_json_atomic(out_dir / "results.summary.json", summary)
        write_json_atomic(out_dir / "results.json", results)
    for name, data in ((CONFUSION_PNG, confusion), (PROBES_PNG, probe_plot)):
        if data:
            write_atomic(out_dir / name, data)
    write_atomic(out_dir / "report.md", report)
    write_json_atomic(out_dir / "calibration.json", doc)  # last: it exists only when everything else was written
    print(_summary_line(doc, out_dir), file=sys.stderr)
    return 0


def _summary_line(doc: dict, out_dir: Path) -> str:
    o = doc.get("overall") or {}
    kq = (o.get("primary") or {}).get("estimate")
    agree = f"overall quadratic kappa {kq:.2f}" if kq is not None else "no agreement figures"
    flagged = [n for n, m in (doc.get("probe_meta") or {}).items() if m.get("flagged_dimensions") and
               (m["kind"] == "invariance" or m.get("failure"))]
    probes = (f"; probes flagged: {', '.join(flagged) or 'none'}" if doc.get("probes") else "")
    return f"calibrated {doc['judge']} on {doc['n_items']} expert-graded item(s): {agree}{probes} -> {out_dir}"



if __name__ == "__main__":
    run_main(main)
