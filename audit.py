#!/usr/bin/env python3
"""Did the fine-tune forget? Paired, seed-averaged capability deltas per benchmark, and a mitigation check.

    python audit.py --runs runs.csv --base base --candidate finetune [--mitigation merged ...] --output-dir OUT

runs.csv has columns model,seed,path, one row per run: path is an lm-evaluation-harness output (its --output_path
directory or the results_*.json, with the samples_<task>_*.jsonl that --log_samples writes beside it) or a generic
per-item file (JSONL, JSON or CSV with task,item_id,score; score in [0, 1]). Relative paths are relative to runs.csv.
Writes OUT/audit.json (every figure, the method, the inputs), OUT/memo.md (for leadership), OUT/forest.png and
OUT/report.html (the same figures as one self-contained page: a sortable, filterable table of tasks).

Exit codes: 0 done, 2 bad input (one line on stderr, nothing written), 1 internal error.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from calibration.audit import align, analyse, inputs_record, load_runs, reported_mismatches
from calibration.audit_report import forest_png, render_memo
from calibration.html import Plot
from calibration.html_reports import audit_page
from calibration.lmeval import parse_metric_overrides
from calibration.stats.paired import EXACT_MAX
from grader.cli import positive_int, run_main
from grader.io import write_atomic, write_json_atomic
from grader.types import InputError

OUTPUTS = ("audit.json", "memo.md", "forest.png", "report.html")
SEED_EFFECT_ALPHA = 0.01


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", required=True, help="CSV (or JSON/JSONL) with columns model,seed,path; one row per run")
    p.add_argument("--base", required=True, help="the model before fine-tuning (a model name in --runs)")
    p.add_argument("--candidate", required=True, help="the fine-tuned model (a model name in --runs)")
    p.add_argument("--mitigation", action="append", default=[], metavar="MODEL",
                   help="a mitigated model to check (repeatable; default: none)")
    p.add_argument("--output-dir", required=True, help="where audit.json, memo.md and forest.png go (created)")
    p.add_argument("--max-drop", type=float, default=2.0,
                   help="the rule: no task may drop by more than this many points (default: 2.0)")
    p.add_argument("--seed", type=int, default=0, help="resampling seed, reported in audit.json (default: 0)")
    p.add_argument("--bootstrap", type=positive_int, default=10_000,
                   help="bootstrap resamples, also the Monte Carlo sign patterns of the p-value (default: 10000)")
    p.add_argument("--metric", action="append", default=[], metavar="TASK=METRIC,FILTER",
                   help="primary metric of an lm-eval task, e.g. gsm8k=exact_match,flexible-extract "
                        "(repeatable; default: prompt_level_strict_acc, exact_match, acc, acc_norm, ... in that order,"
                        " filter none or strict-match first)")
    p.add_argument("--split-groups", action="store_true",
                   help="compare each subtask of a group (e.g. mmlu) on its own (default: pool a group's subtasks)")
    return p.parse_args(argv)


def json_safe(obj):
    """nan (an undefined figure, e.g. an interval with no defined replicate) becomes null in audit.json."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def check_output_dir(path: str, inputs: list[Path]) -> Path:
    d = Path(path)
    parent = d.parent if str(d.parent) else Path(".")
    if d.exists() and not d.is_dir():
        raise InputError(d, "--output-dir exists and is not a directory")
    if not parent.is_dir():
        raise InputError(d, f"parent directory {str(parent)!r} of --output-dir does not exist")
    if not os.access(d if d.is_dir() else parent, os.W_OK):
        raise InputError(d, "--output-dir is not writable")
    read = {p.resolve() for p in inputs}
    for name in OUTPUTS:
        if (d / name).resolve() in read:
            raise InputError(d / name, "this output would overwrite an input file; choose another --output-dir")
    return d


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    models = [args.base, args.candidate, *args.mitigation]
    if len(set(models)) != len(models):
        raise InputError("--base/--candidate/--mitigation", f"each model may appear once, got {', '.join(models)}")
    if not args.max_drop > 0:
        raise InputError("--max-drop", f"must be positive, got {args.max_drop:g}")
    overrides = parse_metric_overrides(args.metric)
    runs = load_runs(args.runs, models, overrides, args.split_groups)
    inputs = [Path(args.runs)] + [Path(s) for rs in runs.values() for r in rs for f in r.files
                                  for t in f.tasks.values() for s in t.sources] + \
             [Path(f.path) for rs in runs.values() for r in rs for f in r.files]
    out_dir = check_output_dir(args.output_dir, inputs)
    aligned, skipped = align(runs, args.base, args.candidate, args.mitigation)
    if not aligned:
        why = "; ".join(f"{s['task']}: {s['reason']}" for s in skipped) or "no tasks in the runs"
        raise InputError(args.runs, f"no task can be compared ({why})")
    figures = analyse(aligned, args.base, args.candidate, args.mitigation, args.max_drop, args.bootstrap, args.seed)
    flags = [f"task {s['task']} not compared: {s['reason']}" for s in skipped]
    flags += [f"task {t}: {e['excluded_items']['doc_hash_mismatch']} documents with a different doc_hash and "
              f"{e['excluded_items']['missing_in_some_run']} missing from some run were left out"
              for t, e in figures["tasks"].items()
              if e["excluded_items"]["doc_hash_mismatch"] or e["excluded_items"]["missing_in_some_run"]]
    flags += [f"task {t}: {m} not compared ({e['mitigations'][m]['note']})"
              for t, e in figures["tasks"].items() for m in args.mitigation
              if e["mitigations"][m]["delta_vs_base"] is None]
    flags += [f"task {t}: {m}'s score moves with the seed more than per-item noise explains (p = "
              f"{v['seed_effect_p']:.3g}); the item-bootstrap interval may be too narrow, add seeds"
              for t, e in figures["tasks"].items() for m, v in e["models"].items()
              if v["seed_effect_p"] is not None and v["seed_effect_p"] < SEED_EFFECT_ALPHA]
    flags += [f"aggregate mismatch: {x}" for x in reported_mismatches(runs)]
    record = {
        "base": args.base, "candidate": args.candidate, "mitigations": args.mitigation,
        "method": {
            "scale": "points (percentage points, 0-100); delta = candidate - base",
            "seeds": "each model's per-item scores are averaged over its seeds; seed_sd is the SD of per-seed means",
            "ci": f"95% percentile interval, paired bootstrap over items ({args.bootstrap} resamples)",
            "p_value": f"two-sided paired sign-flip permutation test on per-item differences (exact up to "
                       f"{EXACT_MAX} non-zero differences, else Monte Carlo; equals exact McNemar for binary "
                       f"scores and one seed)",
            "multiplicity": "Holm step-down across the compared tasks",
            "max_drop_rule": "within: the interval's lower end is above -max_drop; exceeds: its upper end is below "
                             "-max_drop; otherwise inconclusive",
            "gap_closed": "(mitigation - candidate) / (base - candidate), percentile interval over the same "
                          "resamples; undefined unless the candidate's delta interval lies below 0",
            "p_largest": "share of bootstrap replicates in which the task has the lowest delta",
            "seed_effect_p": "chi-square test that the between-seed variance of a model's task score exceeds "
                             f"per-item noise / n; flagged below {SEED_EFFECT_ALPHA}",
            "max_drop": args.max_drop, "bootstrap": args.bootstrap, "seed": args.seed,
            "groups": "subtasks reported separately" if args.split_groups else "a group's subtasks pooled",
        },
        **figures,
        "skipped_tasks": skipped,
        "flags": flags,
        "inputs": {"runs": str(args.runs), "runs_read": inputs_record(runs)},
    }
    record = json_safe(record)
    out_dir.mkdir(exist_ok=True)
    png = forest_png(record)
    write_atomic(out_dir / "forest.png", png)
    memo = render_memo(record)
    write_atomic(out_dir / "memo.md", memo)
    write_atomic(out_dir / "report.html", audit_page(record, memo, [Plot("forest plot of the deltas", png)]))
    write_json_atomic(out_dir / "audit.json", record)
    for f in flags:
        print(f"warning: {f}", file=sys.stderr)
    lr = record["largest_regression"]
    print(f"audit: {len(figures['tasks'])} task(s) compared, {len(skipped)} skipped; largest regression: "
          + (f"{lr['task']} {lr['delta']:+.1f} points [{lr['ci'][0]:+.1f}, {lr['ci'][1]:+.1f}]" if lr else "none")
          + f"; wrote {out_dir}/audit.json, memo.md, forest.png, report.html", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
