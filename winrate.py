#!/usr/bin/env python3
"""Head-to-head win rates of a candidate model against a baseline.

  winrate.py judge   --pairs P --output-dir OUT       pairwise judge (both orders), win rate, test, bias figures
  winrate.py sheets  --pairs P --editors 3 --output-dir SHEETS   blind sheets for editors, and the key
  winrate.py tally   --sheets SHEETS --output-dir OUT  the editors' win rate, agreement, judge vs editors
  winrate.py preference-accuracy --pairs H            DPO held-out preference accuracy (log-probs or a judge)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calibration.editor_sheets import make_sheets, read_filled, write_sheets
from calibration.stats.winrate import preference_accuracy, win_rate, win_rate_test
from calibration.winrate_report import judge_report, judge_summary, plot_winrate, tally_report, tally_summary
from grader.cli import add_judge_args, build_judges, positive_int, preflight, run_main
from calibration.html import Plot
from calibration.html_reports import tally_page, winrate_page
from grader.io import read_rows, write_atomic, write_json_atomic
from grader.judges.pairwise import ORDERS, OfflinePairwiseJudge, PairwiseLLMJudge
from grader.pairwise import (DEFAULT_PAIRWISE_SPEC, Pair, join_outputs, judge_counts, judge_pairs, load_pairs,
                             load_pairwise_spec)
from grader.types import InputError

LOGP_FIELDS = ("policy_chosen_logp", "policy_rejected_logp", "ref_chosen_logp", "ref_rejected_logp")


def unit_interval(text: str) -> float:
    v = float(text)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError("must be strictly between 0 and 1")
    return v


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    spec_help = f"pairwise spec JSON (default: rubric/{DEFAULT_PAIRWISE_SPEC.name})"

    j = sub.add_parser("judge", help="judge every pair in both orders and compute the win rate")
    src = j.add_mutually_exclusive_group(required=True)
    src.add_argument("--pairs", help="pairs file: JSON array, JSONL or CSV with id, prompt, candidate, baseline "
                                     "[, label, source, reference] (no default)")
    src.add_argument("--candidate-file", help="candidate's generation output, joined on task id with "
                                              "--baseline-file (no default)")
    j.add_argument("--baseline-file", help="baseline's generation output (no default; with --candidate-file)")
    j.add_argument("--output-dir", required=True, help="directory for verdicts.jsonl, summary.json, report.md, "
                                                       "winrate.png, report.html (created if missing; no default)")
    add_judge_args(j, spec_flags=("--spec",), spec_help=spec_help, spec_default=str(DEFAULT_PAIRWISE_SPEC))
    _stats_args(j, 0.60, seed=False)  # --seed (judge options) is also the resampling seed

    s = sub.add_parser("sheets", help="write blind sheets for editors and the key that un-blinds them")
    s.add_argument("--pairs", required=True, help="pairs file (as for judge; no default)")
    s.add_argument("--editors", type=positive_int, default=3, help="number of editors (default: 3)")
    s.add_argument("--output-dir", required=True, help="directory for editor_<k>.csv, key.json, INSTRUCTIONS.md "
                                                       "(created if missing; no default)")
    s.add_argument("--seed", type=int, default=0, help="shuffling and order seed (default: 0)")

    t = sub.add_parser("tally", help="read the filled sheets: editors' win rate, agreement, judge vs editors")
    t.add_argument("--sheets", required=True, help="the directory 'sheets' wrote, with the filled sheets (no default)")
    t.add_argument("--output-dir", required=True, help="directory for tally.json, report.md and report.html (no default)")
    t.add_argument("--verdicts", help="a judge's verdicts.jsonl on the same pairs, to measure its agreement with "
                                      "the editors (default: none)")
    _stats_args(t, 0.60)

    p = sub.add_parser("preference-accuracy", help="DPO held-out preference accuracy, from log-probabilities "
                                                   "and/or a judge",
                       description="Accuracy from the log-probabilities when the rows carry them; a judge runs only "
                                   "when --judge is given (then auto, llm or offline as for 'judge').")
    p.add_argument("--pairs", required=True, help="held-out pairs: id, prompt, chosen, rejected and, for the "
                                                  "implicit reward, " + ", ".join(LOGP_FIELDS) + " (no default)")
    p.add_argument("--output", help="write the figures as JSON here (default: stdout only)")
    add_judge_args(p, spec_flags=("--spec",), spec_help=spec_help, spec_default=str(DEFAULT_PAIRWISE_SPEC))
    p.set_defaults(judge=None)  # a judge runs only when --judge is given
    _stats_args(p, 0.68, seed=False)
    return ap


def _stats_args(p: argparse.ArgumentParser, target: float, seed: bool = True) -> None:
    p.add_argument("--target", type=unit_interval, default=target, help=f"win rate to beat (default: {target})")
    p.add_argument("--bootstrap", type=positive_int, default=10_000, help="bootstrap resamples (default: 10000)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="resampling seed (default: 0)")


def _out_dir(path: str, outputs: list[str], inputs: list[str | None], create: bool = True) -> Path:
    """The output directory, refused when it is a file or one of ``outputs`` in it is an input; made if missing."""
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise InputError(d, "output directory is a file")
    resolved = {Path(i).resolve() for i in inputs if i}
    for name in outputs:
        if (d / name).resolve() in resolved:
            raise InputError(d / name, "output path equals an input; choose another --output-dir")
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d


def _pairs(args) -> list[Pair]:
    if args.pairs:
        return load_pairs(args.pairs)
    if not args.baseline_file:
        raise InputError("--candidate-file", "needs --baseline-file too")
    return join_outputs(args.candidate_file, args.baseline_file)


class _OrderItem:
    """One single-order call, as ``preflight`` counts calls (it reads ``output`` and asks the judge for messages)."""
    output = "x"

    def __init__(self, pair: Pair, order: str):
        self.pair, self.order = pair, order


class _OrderMessages:
    def __init__(self, judge: PairwiseLLMJudge):
        self.judge, self.response_format = judge, judge.response_format

    def messages(self, item: _OrderItem) -> list[dict]:
        return self.judge.messages(item.pair, item.order)


def _judges(args, pairs: list[Pair]):
    spec = load_pairwise_spec(args.rubric_spec)
    setup = build_judges(args, spec.rubric)
    offline = OfflinePairwiseJudge(spec, setup.fallback)
    if setup.client is None:
        return spec, offline, offline, None, None
    llm = PairwiseLLMJudge(spec, setup.client)
    shim = argparse.Namespace(client=setup.client, judge=_OrderMessages(llm), rubric=spec)
    est = preflight(shim, [_OrderItem(p, o) for p in pairs for o in ORDERS], args.force,
                    strict=args.judge == "llm")
    return spec, llm, offline, setup.client, est


def cmd_judge(args) -> int:
    if args.baseline_file and not args.candidate_file:
        raise InputError("--baseline-file", "needs --candidate-file too")
    names = ["verdicts.jsonl", "summary.json", "report.md", "winrate.png", "report.html"]
    inputs = [args.pairs, args.candidate_file, args.baseline_file, args.rubric_spec]
    pairs = _pairs(args)
    _out_dir(args.output_dir, names, inputs, create=False)  # refuse before any judge is built or call made
    spec, judge, fallback, client, est = _judges(args, pairs)
    out = _out_dir(args.output_dir, names, inputs)
    rows = judge_pairs(pairs, judge, fallback, args.concurrency)
    summary = judge_summary(rows, args.target, args.seed, args.bootstrap, judge_counts(rows), judge.name)
    summary["spec"] = {"path": spec.path, "name": spec.name, "sha256": spec.spec_sha256}
    if client is not None:
        summary["api"] = client.summary()
        summary["preflight"] = est
    write_atomic(out / "verdicts.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    if rows:
        plot_winrate(summary, out / "winrate.png")
    report_md = judge_report(summary)
    write_atomic(out / "report.md", report_md)
    png = out / "winrate.png"
    plots = [Plot("win rate", png.read_bytes())] if rows and png.exists() else []
    write_atomic(out / "report.html", winrate_page(summary, rows, {p.id: p for p in pairs}, report_md, plots))
    write_json_atomic(out / "summary.json", summary)
    wr = summary["win_rate"]
    print(f"{len(rows)} pairs: win rate {'n/a' if wr is None else f'{wr:.1%}'} "
          f"{summary['ci']}, p = {summary['p_value']}, verdict {summary['verdict']}; "
          f"fallbacks {summary['fallbacks']} -> {out}", file=sys.stderr)
    return 0


def cmd_sheets(args) -> int:
    pairs = load_pairs(args.pairs)
    if not pairs:
        raise InputError(args.pairs, "no pairs: nothing to put on the sheets")
    d = Path(args.output_dir)
    existing = [p for p in ([d / "key.json"] + list(d.glob("editor_*.csv"))) if p.exists()] if d.is_dir() else []
    if existing:
        raise InputError(existing[0], "already exists: sheets are never overwritten (they may hold editors' "
                                      "work); choose a new --output-dir")
    out = _out_dir(args.output_dir, ["key.json"], [args.pairs])
    sheets, key = make_sheets(pairs, args.editors, args.seed)
    write_sheets(out, sheets, key)
    print(f"{args.editors} sheet(s) of {len(pairs)} pairs, key and instructions -> {out} "
          "(send only editor_<k>.csv and INSTRUCTIONS.md)", file=sys.stderr)
    return 0


def cmd_tally(args) -> int:
    study = read_filled(args.sheets)
    sheets_dir = Path(args.sheets)
    inputs = [str(p) for p in sheets_dir.iterdir()] + [args.verdicts]
    out = _out_dir(args.output_dir, ["tally.json", "report.md", "report.html"], inputs)
    judge_outcomes = None
    if args.verdicts:
        judge_outcomes = {}
        for i, row in enumerate(read_rows(args.verdicts, "verdicts file")):
            if row.get("outcome") not in ("candidate", "baseline", "tie"):
                raise InputError(args.verdicts, "'outcome' must be candidate, baseline or tie", i, row.get("id"))
            judge_outcomes[str(row.get("id"))] = row["outcome"]
        missing = [p for p in study.pair_ids if p not in judge_outcomes]
        if missing:
            raise InputError(args.verdicts, f"no verdict for pair {missing[0]!r} ({len(missing)} missing)")
    summary = tally_summary(study.pair_ids, study.editors, study.choices, args.target, args.seed, args.bootstrap,
                            judge_outcomes)
    summary["comments"] = study.comments
    report_md = tally_report(summary)
    write_atomic(out / "report.md", report_md)
    write_atomic(out / "report.html", tally_page(summary, study.pair_ids, study.editors, study.choices,
                                                 judge_outcomes, report_md))
    write_json_atomic(out / "tally.json", summary)
    p = summary["pooled"]
    print(f"{summary['n_pairs']} pairs x {summary['n_editors']} editors: pooled win rate {p['win_rate']:.1%} "
          f"{[round(x, 3) for x in p['ci']]}, p = {p['p_value']:.4f}, verdict {p['verdict']} -> {out}",
          file=sys.stderr)
    return 0


def cmd_preference(args) -> int:
    rows = read_rows(args.pairs, "held-out pairs file")
    if not rows:
        raise InputError(args.pairs, "no held-out pairs")
    if args.output:
        _out_dir(str(Path(args.output).parent), [Path(args.output).name], [args.pairs])
    result: dict = {"n": len(rows), "target": args.target}
    has_logp = [all(k in r for k in LOGP_FIELDS) for r in rows]
    if any(has_logp):
        margins = []
        for i, r in enumerate(rows):
            vals = [r.get(k) for k in LOGP_FIELDS]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                try:
                    vals = [float(v) for v in vals]  # CSV cells are text
                except (TypeError, ValueError):
                    raise InputError(args.pairs, "needs numeric " + ", ".join(LOGP_FIELDS), i, r.get("id")) from None
            pc, pr, rc, rr = vals
            margins.append((pc - rc) - (pr - rr))
        result["implicit_reward"] = {**preference_accuracy(margins, args.target, args.bootstrap, 0),
                                     "definition": "margin = (policy_chosen - ref_chosen) - (policy_rejected - "
                                                   "ref_rejected) log-probabilities; correct when margin > 0"}
    elif args.judge is None:
        raise InputError(args.pairs, "no log-probabilities (" + ", ".join(LOGP_FIELDS) + "); pass --judge to "
                                     "measure a judge's accuracy instead")
    if args.judge is not None:
        pairs = []
        for i, r in enumerate(rows):
            for k in ("prompt", "chosen", "rejected"):
                if not isinstance(r.get(k), str):
                    raise InputError(args.pairs, f"--judge needs string {k!r}", i, r.get("id"))
            pairs.append(Pair(str(r.get("id", i)), r["prompt"], r["chosen"], r["rejected"], "candidate"))
        _, judge, fallback, client, _ = _judges(args, pairs)
        verdicts = judge_pairs(pairs, judge, fallback, args.concurrency)
        scores = [{"candidate": 1.0, "tie": 0.5, "baseline": 0.0}[v["outcome"]] for v in verdicts]
        est, test = win_rate(scores, n_boot=args.bootstrap), win_rate_test(scores, args.target)
        result["judge"] = {"judge": judge.name, "accuracy": est["win_rate"], "ci": est["ci"],
                           "p_value": test["p_value"], "test_method": test["method"],
                           "ties": sum(v["outcome"] == "tie" for v in verdicts), **judge_counts(verdicts)}
    text = json.dumps(result, indent=2)
    if args.output:
        write_atomic(args.output, text + "\n")
    print(text)
    return 0


def main() -> int:
    args = parser().parse_args()
    return {"judge": cmd_judge, "sheets": cmd_sheets, "tally": cmd_tally,
            "preference-accuracy": cmd_preference}[args.command](args)


if __name__ == "__main__":
    run_main(main)
