#!/usr/bin/env python3
"""How far can the judge's grades be trusted? Compare them with expert grades, probe the judge, report.

    python calibrate.py --samples S.json --experts E.json --results R.json --out-dir D [--probes]

--results is run.py's results.json for the same samples (its <name>.summary.json beside it, if present, supplies
API calls and token split); without --results the samples are graded here with the chosen judge. Writes
D/calibration.json (every figure), D/report.md (the verdicts a person reads) and PNG plots: confusion matrices per
dimension and overall, and with --probes the probe deltas with their intervals. D is created if missing (its parent
must exist). With --probes every sample is rewritten by each probe (calibration.probes) and the rewrites are graded by
the same judge: this is the only step that makes API calls besides grading without --results.

It needs at least MIN_ITEMS (3) samples and, with --experts, as many expert-graded items: below that agreement,
intervals and power are undefined, and it says so (exit 2) instead of printing figures. No output file may be the
same file as an input.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from calibration.study import (POWER_PROBES, calibrate, expert_table, load_results, make_grader, plan_probes,
                                 plan_samples, power_needs_probes, read_run_summary, results_judge_name)
from grader.cli import (EXIT_CODES_HELP, ArgumentParser, add_judge_args, build_judges, cached_work_note, finite_float,
                        positive_int, preflight, run_main, sample_fields)
from grader.grading import grade
from calibration.html import Plot
from calibration.html_reports import calibration_page
from grader.io import load_expert_grades, load_samples, refuse_overwrite, write_atomic, write_json_atomic
from calibration.report import confusion_png, probes_png, render_report
from grader.rubric import load_rubric
from grader.types import InputError

CONFUSION_PNG = "confusion_matrices.png"
PROBES_PNG = "probe_deltas.png"
MIN_ITEMS = 3  # below this a kappa, a bootstrap interval or a power estimate is undefined, not merely wide


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, epilog=EXIT_CODES_HELP.rsplit("\n", 1)[0],  # no exit 3 here
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", required=True,
                   help='samples: JSON array, JSON Lines or CSV of {"id", input field, output field} (required)')
    p.add_argument("--experts", default=None,
                   help='expert grades: [{"id", "rater"?, "scores": {...}}], flat rows [{"id", "rater"?, "clarity": 4, '
                        '...}] or an object keyed by id ({"s1": {...}}); "overall" and extra fields are ignored '
                        '(default: none, so no agreement figures)')
    p.add_argument("--results", default=None, help="run.py's results.json for --samples (default: grade here)")
    p.add_argument("--out-dir", required=True,
                   help="where to write calibration.json, report.md and the plots (required)")
    p.add_argument("--probes", action="store_true",
                   help="run the bias and sensitivity probes (grades rewrites) (default: off)")
    p.add_argument("--n-boot", type=positive_int, default=10_000, help="bootstrap resamples (default: 10000)")
    p.add_argument("--good-min", type=finite_float, default=4.0,
                   help="expert overall at or above this is 'good' for the power estimate (default: 4)")
    p.add_argument("--mediocre-max", type=finite_float, default=3.0,
                   help="expert overall at or below this is 'mediocre' (default: 3)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (default: off)")
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
    d = Path(args.out_dir)
    outputs = {f"--out-dir file {name}": d / name
               for name in ("calibration.json", "report.md", "report.html", CONFUSION_PNG, PROBES_PNG)}
    if not args.results:
        outputs.update({f"--out-dir file {n}": d / n for n in ("results.json", "results.summary.json")})
    run_summary = (Path(args.results).with_name(Path(args.results).stem + ".summary.json") if args.results else None)
    refuse_overwrite(outputs, {"--samples": args.samples, "--experts": args.experts, "--results": args.results,
                               "--results' summary": run_summary, "--rubric-spec": args.rubric_spec,
                               "--cache": args.cache})
    out_dir = check_out_dir(args.out_dir)
    if args.good_min <= args.mediocre_max:
        raise InputError("--good-min", f"must be above --mediocre-max ({args.good_min:g} <= {args.mediocre_max:g})")
    rubric = load_rubric(args.rubric_spec)
    samples = load_samples(args.samples, *sample_fields(args, rubric))
    if len(samples) < MIN_ITEMS:
        raise InputError(args.samples, f"calibration needs at least {MIN_ITEMS} samples (got {len(samples)}): "
                                       "intervals, probe effects and power are undefined below that")
    experts = None
    expert_overall = None
    if args.experts:
        experts = load_expert_grades(args.experts, rubric.keys, (rubric.scale_min, rubric.scale_max),
                                     known_ids={s.id for s in samples})
        ex = expert_table(experts, rubric, [s.id for s in samples])
        if len(ex.ids) < MIN_ITEMS:
            raise InputError(args.experts, f"calibration needs at least {MIN_ITEMS} expert-graded items (got "
                                           f"{len(ex.ids)}): agreement figures are undefined below that")
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

    try:  # from here on judgments exist: an error must say they are kept and a re-run is free
        return _write_outputs(doc, out_dir, graded_here, results, summary, samples, experts)
    except Exception as e:
        raise RuntimeError(f"{type(e).__name__} after grading: {e}; {cached_work_note(setup)}") from e


def _write_outputs(doc: dict, out_dir: Path, graded_here: bool, results: list[dict], summary: dict | None,
                   samples: list, experts: list[dict] | None) -> int:
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
    plots = [Plot(name, data) for name, data in ((CONFUSION_PNG, confusion), (PROBES_PNG, probe_plot)) if data]
    write_atomic(out_dir / "report.html", calibration_page(doc, results, {s.id: s for s in samples}, experts, report,
                                                           plots))
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
