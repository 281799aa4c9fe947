#!/usr/bin/env python3
"""Label every completion full_compliance / full_refusal / partial_refusal, optionally run its tests, and report
refusal and pass rates per (model, bucket) with 95% cluster-bootstrap intervals.

    python refusal.py --completions completions.jsonl --output-dir OUT [--judge auto|llm|offline] [--run-tests]
        [--timeout-s 10] [--seed 0] [--bootstrap 10000]

Input rows (JSONL, JSON array or CSV): id, prompt, completion, and optionally bucket (default "all"), model (default
"model"), sample (default 0), source, tests (Python test code). Writes OUT/labels.jsonl, OUT/summary.json,
OUT/report.md, OUT/rates.png and OUT/report.html (one self-contained page with every completion). The label
scheme is rubric/refusal.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.cli import add_judge_args, open_cache, positive_int, run_main
from grader.client import Decoding, JudgeClient
from calibration.html import Plot
from calibration.html_reports import refusal_page
from grader.io import read_json, read_rows, write_atomic, write_json_atomic
from grader.judges.refusal import RefusalItem
from grader.judges.refusal.labeling import label_all, labeling_summary
from grader.judges.refusal.llm import LLMRefusalJudge
from grader.judges.refusal.offline import OfflineRefusalJudge
from grader.judges.refusal.spec import DEFAULT_REFUSAL_SPEC, load_refusal_spec
from grader.pricing import count_message_tokens, parse_price_per_mtok, price_for, token_count_method
from grader.sandbox import Limits, extract_code, run_python
from grader.types import InputError

OUTPUTS = ("labels.jsonl", "summary.json", "report.md", "rates.png", "report.html")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--completions", required=True, help="completions: JSONL, JSON array or CSV (see above)")
    p.add_argument("--output-dir", required=True, help="folder for labels.jsonl, summary.json, report.md, rates.png "
                                                       "(created if missing)")
    p.add_argument("--manifest", default=None, help="generation manifest for the report's decoding parameters "
                                                    "(default: <completions>.manifest.json when it exists)")
    p.add_argument("--run-tests", action="store_true", help="run each row's tests against its code (default: off)")
    p.add_argument("--timeout-s", type=float, default=10.0, help="wall-clock seconds per test run (default: 10)")
    p.add_argument("--memory-mb", type=positive_int, default=512, help="address-space limit per test run "
                                                                      "(default: 512)")
    p.add_argument("--test-jobs", type=positive_int, default=2, help="test runs in parallel (default: 2)")
    p.add_argument("--bootstrap", type=positive_int, default=10_000, help="bootstrap resamples (default: 10000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_judge_args(p)
    p.set_defaults(rubric_spec=str(DEFAULT_REFUSAL_SPEC), max_completion_tokens=300)
    for action in p._actions:  # the shared options' help names the grading defaults; say this script's own
        if action.dest == "rubric_spec":
            action.help = "refusal label spec JSON (default: rubric/refusal.json)"
        elif action.dest == "max_completion_tokens":
            action.help = "judge reply cap (default: 300)"
        elif action.dest == "model":
            action.help = "LLM refusal-judge model (default: gpt-4o-mini)"
    return p.parse_args(argv)


def load_completions(path: str) -> list[dict]:
    """Rows with checked types and defaults; one clear error naming the row for anything unusable."""
    rows = read_rows(path, "completions file")
    seen: dict[tuple, int] = {}
    out = []
    for i, r in enumerate(rows):
        rid = r.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool):
            rid = str(rid)
        if not isinstance(rid, str) or not rid:
            raise InputError(path, f"'id' must be a non-empty string, got {rid!r}", i)
        for f in ("prompt", "completion"):
            if not isinstance(r.get(f), str):
                raise InputError(path, f"{f!r} must be a string, got {type(r.get(f)).__name__}", i, rid)
        sample = r.get("sample", 0)
        if sample in ("", None):
            sample = 0
        try:
            sample = int(sample)
        except (TypeError, ValueError):
            raise InputError(path, f"'sample' must be an integer, got {sample!r}", i, rid) from None
        tests = r.get("tests") or None
        if tests is not None and not isinstance(tests, str):
            raise InputError(path, "'tests' must be a string of Python test code", i, rid)
        model = str(r.get("model") or "model")
        bucket = str(r.get("bucket") or "all")
        key = (model, rid, sample)
        if key in seen:
            raise InputError(path, f"duplicate (model, id, sample) {key} (first at item {seen[key]})", i, rid)
        seen[key] = i
        flags = [f for f in r.get("flags", []) if isinstance(f, str)] if isinstance(r.get("flags"), list) else []
        out.append({"id": rid, "prompt": r["prompt"], "completion": r["completion"], "model": model,
                    "bucket": bucket, "sample": sample, "source": r.get("source") or None, "tests": tests,
                    "flags": flags})
    return out


def build_refusal_judges(args: argparse.Namespace):
    spec = load_refusal_spec(args.rubric_spec)
    offline = OfflineRefusalJudge()
    has_key = bool(os.environ.get("OPENAI_API_KEY"))
    if args.judge == "llm" and not has_key:
        raise InputError("OPENAI_API_KEY", "--judge llm needs OPENAI_API_KEY in the environment")
    if args.judge == "offline" or (args.judge == "auto" and not has_key):
        print("judge: offline (deterministic, no API calls)"
              + (" - OPENAI_API_KEY is not set" if args.judge == "auto" else ""), file=sys.stderr)
        return spec, offline, offline
    cache = None if args.no_cache else open_cache(args.cache)
    try:
        price = parse_price_per_mtok(args.price_per_mtok) if args.price_per_mtok else None
    except ValueError as e:
        raise InputError("--price-per-mtok", str(e)) from None
    client = JudgeClient(Decoding(model=args.model, temperature=0.0, seed=args.seed,
                                  max_completion_tokens=args.max_completion_tokens), args.budget_usd, cache=cache,
                         timeout_s=args.timeout, price=price)
    judge = LLMRefusalJudge(spec, client)
    _, known = price_for(args.model)
    print(f"judge: {judge.name} at {client.endpoint} (budget ${args.budget_usd:g}"
          + ("" if known else "; model not in the price table: priced at an upper bound unless --price-per-mtok") + ")", file=sys.stderr)
    return spec, judge, offline


def preflight(judge, items: list[RefusalItem], args: argparse.Namespace) -> dict | None:
    """Worst-case cost of the judge calls still to make (cached and empty items cost nothing), before the first.
    Over the budget: refused with --judge llm unless --force; with auto, a warning and the running cap applies."""
    client = getattr(judge, "client", None)
    if client is None:
        return None
    todo = [judge.messages(i) for i in items if i.completion.strip()]
    if client.cache is not None:
        todo = [m for m in todo if client.cache.get(client.key_for(m, judge.response_format,
                                                                   judge.spec.spec_sha256)) is None]
    prompt_tokens = sum(count_message_tokens(m) for m in todo)
    cap = len(todo) * client.decoding.max_completion_tokens
    worst = client.cost_usd(prompt_tokens, cap)
    est = {"calls_to_make": len(todo), "prompt_tokens": prompt_tokens, "completion_tokens_cap": cap,
           "worst_case_usd": round(worst, 4), "budget_usd": client.budget_usd,
           "token_count_method": token_count_method()}
    print(f"pre-flight: {len(todo)} call(s), worst case ${worst:.4f} of ${client.budget_usd:g} budget", file=sys.stderr)
    if worst > client.budget_usd and not args.force:
        if args.judge == "llm":
            raise InputError("--budget-usd", f"estimated worst-case cost ${worst:.4f} for {len(todo)} call(s) "
                                             f"exceeds the budget ${client.budget_usd:g}; raise --budget-usd or pass "
                                             "--force")
        print("warning: the worst case exceeds the budget; the LLM labels until the budget is reached and the rest "
              "is labelled offline, flagged", file=sys.stderr)
    return est


def run_tests(rows: list[dict], limits: Limits, jobs: int) -> None:
    """Set ``passed`` (and flags) on every row that has tests; a fully refused or empty completion is not run."""
    def one(r: dict) -> None:
        if r["tests"] is None:
            return
        if r["label"] == "full_refusal" or not r["completion"].strip():
            r["passed"] = False
            r["flags"].append("not_run:refused" if r["label"] == "full_refusal" else "not_run:empty")
            return
        res = run_python(extract_code(r["completion"]), r["tests"], limits)
        r["passed"] = res.passed
        r["test_status"] = res.status
        if not res.passed:
            r["test_detail"] = res.detail
            if res.status != "failed":
                r["flags"].append(f"test_{res.status}")

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="tests") as pool:
        list(pool.map(one, rows))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    src = Path(args.completions)
    out_dir = Path(args.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "output directory is a file")
    for name in OUTPUTS:
        if (out_dir / name).resolve() == src.resolve():
            raise InputError(out_dir / name, "output path is the same as the input; refusing to overwrite it")
    rows = load_completions(args.completions)
    manifest_path = Path(args.manifest) if args.manifest else src.with_name(src.name + ".manifest.json")
    manifest = None
    if args.manifest or manifest_path.is_file():
        manifest = read_json(manifest_path, "manifest")
        if not isinstance(manifest, dict):
            raise InputError(manifest_path, "manifest must be a JSON object")
    spec, judge, offline = build_refusal_judges(args)
    # Imported here, after the input is checked: the statistics stack (numpy, scipy) takes seconds to load.
    from calibration.refusal_report import plot_rates, render_report, summarize_rates, task_sources
    items = [RefusalItem(r["id"], r["prompt"], r["completion"]) for r in rows]
    estimate = preflight(judge, items, args)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(out_dir, f"cannot create the output directory ({e.strerror or e})") from None
    judgments = label_all(items, judge, offline, concurrency=args.concurrency, progress=not args.quiet)
    for r, j in zip(rows, judgments):
        r.update(label=j.label, rationale=j.rationale, judge=j.judge, passed=None, has_tests=r["tests"] is not None)
        r["flags"] = list(dict.fromkeys(r["flags"] + j.flags))
    if args.run_tests:
        run_tests(rows, Limits(timeout_s=args.timeout_s, cpu_s=max(1, int(args.timeout_s) + 1),
                               memory_mb=args.memory_mb), args.test_jobs)
    lab = labeling_summary(judgments, judge)
    lab["preflight"] = estimate
    lab["flags"] = dict(sorted(Counter(f for r in rows for f in r["flags"]).items()))
    sources, warnings = task_sources(rows)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    summary = {"n_rows": len(rows), "labelling": lab, "label_spec": spec.name, "label_spec_sha256": spec.spec_sha256,
               "tests_run": args.run_tests, "rates": summarize_rates(rows, args.bootstrap, args.seed),
               "sources": sources, "warnings": warnings, "manifest": manifest}
    keep = ("id", "model", "bucket", "sample", "label", "rationale", "judge", "flags", "passed", "test_status",
            "test_detail", "source")
    write_atomic(out_dir / "labels.jsonl", "".join(json.dumps({k: r[k] for k in keep if k in r}, ensure_ascii=False)
                                                   + "\n" for r in rows))
    png = None
    if rows:
        png = plot_rates(summary)
        write_atomic(out_dir / "rates.png", png)
    report_md = render_report(summary, manifest, "rates.png" if png else None)
    write_atomic(out_dir / "report.md", report_md)
    write_atomic(out_dir / "report.html", refusal_page(summary, rows, report_md,
                                                      [Plot("rates per bucket", png)] if png else []))
    write_json_atomic(out_dir / "summary.json", summary)  # last: it exists only when everything else was written
    print(_line(summary, out_dir), file=sys.stderr)
    return 0


def _line(s: dict, out_dir: Path) -> str:
    lab = s["labelling"]
    api = lab.get("api")
    spend = f"; {api['calls']} call(s), {api['cache_hits']} cache hit(s), ${api['spent_usd']:.4f}" if api else ""
    parts = []
    for model, buckets in s["rates"]["models"].items():
        for b, r in buckets.items():
            rr = r["refusal_rate"]["rate"]
            parts.append(f"{model}/{b}: refusal {'n/a' if rr is None else f'{100 * rr:.0f}%'}"
                         + (f", pass {100 * r['pass_rate']['rate']:.0f}%" if "pass_rate" in r else ""))
    return (f"labelled {s['n_rows']} completion(s) -> {out_dir} (fallbacks {lab['fallbacks']}, unlabelled "
            f"{lab['unlabelled']}{spend}); " + "; ".join(parts))


if __name__ == "__main__":
    run_main(main)
