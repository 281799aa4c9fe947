#!/usr/bin/env python3
"""Run a model on a task set, reproducibly: one completion per (task, sample) through the harness's one client.

    python generate.py --tasks tasks.jsonl --output completions.jsonl --model NAME [--base-url URL]
        [--temperature 0.2] [--top-p 0.95] [--max-tokens 1024] [--seed 0] [--samples-per-task 1]
        [--system-prompt FILE]

Any OpenAI-compatible endpoint (vLLM, Ollama, a hosted API): --base-url or OPENAI_BASE_URL. Same retries, budget,
SQLite response cache (a re-run or a resumed run makes no call for what is done), concurrency and progress as the
judge. Sample k of a task is sent with seed + k, so samples differ and each is reproducible and cached on its own.
Writes one JSONL row per (task, sample) and a manifest next to the output (<output>.manifest.json) recording the
endpoint, model, every decoding parameter, the seed, the date and the counts.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.cli import DEFAULT_BUDGET_USD, budget_usd, open_cache, positive_float, positive_int, run_main
from grader.cache import default_cache_path
from grader.client import Decoding, JudgeClient
from grader.io import check_output_path, read_rows, write_atomic, write_json_atomic
from grader.pricing import parse_price_per_mtok
from grader.types import InputError, JudgeUnavailable


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", required=True, help="tasks: JSONL, JSON array or CSV rows with 'id' and 'prompt' "
                                                  "(other fields are copied to the output)")
    p.add_argument("--output", required=True, help="completions JSONL to write")
    p.add_argument("--model", required=True, help="model name as the endpoint knows it")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL, else "
                                                    "the OpenAI API)")
    p.add_argument("--temperature", type=float, default=0.2, help="sampling temperature (default: 0.2)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling top_p (default: 0.95)")
    p.add_argument("--max-tokens", type=positive_int, default=1024, help="completion token cap, sent as "
                                                                         "max_completion_tokens (default: 1024)")
    p.add_argument("--seed", type=int, default=0, help="seed; sample k is sent with seed + k (default: 0)")
    p.add_argument("--samples-per-task", type=positive_int, default=1, help="completions per task (default: 1)")
    p.add_argument("--system-prompt", metavar="FILE", default=None, help="a text file sent as the system message "
                                                                         "(default: none)")
    p.add_argument("--manifest", default=None, help="where to write the manifest (default: <output>.manifest.json)")
    p.add_argument("--concurrency", type=positive_int, default=8, help="concurrent calls (default: 8)")
    p.add_argument("--budget-usd", type=budget_usd, default=DEFAULT_BUDGET_USD,
                   help=f"stop calling before this much is spent at list price; a model not in the price table is "
                        f"priced at an upper bound, so give --price-per-mtok for a local server "
                        f"(default: {DEFAULT_BUDGET_USD})")
    p.add_argument("--price-per-mtok", metavar="IN,OUT", default=None,
                   help="USD per 1M prompt,completion tokens for the budget, e.g. 0,0 for a local server "
                        "(default: the list price of --model, else an upper bound)")
    p.add_argument("--timeout", type=positive_float, default=120.0,
                   help="deadline in seconds for one call before it is retried (default: 120)")
    p.add_argument("--cache", metavar="PATH", default=None, help=f"response cache (default: {default_cache_path()})")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def load_tasks(path: str) -> list[dict]:
    rows = read_rows(path, "tasks file")
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        tid = r.get("id")
        if isinstance(tid, int) and not isinstance(tid, bool):
            r["id"] = tid = str(tid)
        if not isinstance(tid, str) or not tid:
            raise InputError(path, f"'id' must be a non-empty string, got {tid!r}", i)
        if not isinstance(r.get("prompt"), str) or not r["prompt"].strip():
            raise InputError(path, "'prompt' must be a non-empty string", i, tid)
        if tid in seen:
            raise InputError(path, f"duplicate id (first seen at item {seen[tid]})", i, tid)
        seen[tid] = i
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = check_output_path(args.output)
    manifest_path = check_output_path(args.manifest or out.with_name(out.name + ".manifest.json"))
    inputs = [Path(args.tasks)] + ([Path(args.system_prompt)] if args.system_prompt else [])
    for path in (out, manifest_path):
        if any(path.resolve() == i.resolve() for i in inputs):
            raise InputError(path, "output path is the same as an input; refusing to overwrite it")
    tasks = load_tasks(args.tasks)
    system = None
    if args.system_prompt:
        try:
            system = Path(args.system_prompt).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(args.system_prompt, f"cannot read the system prompt ({e})") from None
    if not 0.0 <= args.temperature <= 2.0:
        raise InputError("--temperature", f"must be between 0 and 2, got {args.temperature}")
    if not 0.0 < args.top_p <= 1.0:
        raise InputError("--top-p", f"must be in (0, 1], got {args.top_p}")
    base = Decoding(model=args.model, temperature=args.temperature, seed=args.seed,
                    max_completion_tokens=args.max_tokens, top_p=args.top_p)
    base_url = args.base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get("OPENAI_API_KEY") or ("not-needed" if base_url else None)
    if api_key is None:
        raise InputError("OPENAI_API_KEY", "set OPENAI_API_KEY, or --base-url for a local server that needs no key")
    cache = None if args.no_cache else open_cache(args.cache)
    try:
        price = parse_price_per_mtok(args.price_per_mtok) if args.price_per_mtok else None
    except ValueError as e:
        raise InputError("--price-per-mtok", str(e)) from None
    client = JudgeClient(base, args.budget_usd, cache=cache, base_url=base_url, api_key=api_key,
                         timeout_s=args.timeout, price=price)
    print(f"generating: {args.model} at {client.endpoint}, {len(tasks)} task(s) x {args.samples_per_task} sample(s)",
          file=sys.stderr)
    jobs = [(t, k) for t in tasks for k in range(args.samples_per_task)]
    rows = run_jobs(jobs, client, base, system, args.concurrency, not args.quiet)
    write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    flags = Counter(f for r in rows for f in r["flags"])
    manifest = {
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "endpoint": client.endpoint, "model": args.model,
        "decoding": {"temperature": args.temperature, "top_p": args.top_p, "max_completion_tokens": args.max_tokens,
                     "seed": args.seed, "seed_per_sample": "seed + sample index",
                     "samples_per_task": args.samples_per_task},
        "system_prompt": system, "system_prompt_file": args.system_prompt,
        "system_prompt_sha256": hashlib.sha256(system.encode()).hexdigest() if system is not None else None,
        "tasks_file": str(args.tasks), "output": str(out),
        "counts": {"tasks": len(tasks), "rows": len(rows), "failed": sum(r["completion"] == "" and any(
            f.startswith("generation_failed") for f in r["flags"]) for r in rows),
            "truncated": flags.get("truncated", 0), "from_cache": sum(r["from_cache"] for r in rows)},
        "flags": dict(sorted(flags.items())), "api": client.summary(),
    }
    write_json_atomic(manifest_path, manifest)
    c, api = manifest["counts"], manifest["api"]
    print(f"wrote {len(rows)} completion(s) -> {out} ({c['failed']} failed, {c['truncated']} truncated; "
          f"{api['calls']} call(s), {api['cache_hits']} cache hit(s), ${api['spent_usd']:.4f}); manifest "
          f"{manifest_path}", file=sys.stderr)
    return 0


def run_jobs(jobs: list[tuple[dict, int]], client: JudgeClient, base: Decoding, system: str | None,
             concurrency: int, progress: bool) -> list[dict]:
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="generating", unit="completion", file=sys.stderr,
                   disable=None if len(jobs) >= 20 else True, leave=False)

    def work(job: tuple[dict, int]) -> dict:
        task, k = job
        row = generate_one(task, k, client, base, system)
        if bar is not None:
            bar.update(1)
        return row

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="generate") as pool:
        rows = list(pool.map(work, jobs))
    if bar is not None:
        bar.close()
    return rows


def generate_one(task: dict, k: int, client: JudgeClient, base: Decoding, system: str | None) -> dict:
    d = Decoding(model=base.model, temperature=base.temperature, seed=base.seed + k,
                 max_completion_tokens=base.max_completion_tokens, top_p=base.top_p)
    messages = ([{"role": "system", "content": system}] if system is not None else []) + \
        [{"role": "user", "content": task["prompt"]}]
    row = {**task, "model": base.model, "sample": k, "decoding": {
        "temperature": d.temperature, "top_p": d.top_p, "max_completion_tokens": d.max_completion_tokens,
        "seed": d.seed}}
    flags: list[str] = [f for f in task.get("flags", []) if isinstance(f, str)] if isinstance(task.get("flags"), list) \
        else []
    try:
        # Every non-error reply (truncated ones included) is valid and cached, so a re-run never pays twice.
        r = client.complete(messages, None, "generate", validate=lambda c: None, decoding=d)
    except JudgeUnavailable as err:
        return {**row, "completion": "", "finish_reason": None, "usage": None, "from_cache": False,
                "flags": flags + [f"generation_failed:{err.reason}"], "error": str(err)}
    finish = r.finish_reason
    if r.from_cache:
        # The cache keeps the text and token counts, not finish_reason: a reply that used the whole cap was cut.
        finish = "length" if r.completion_tokens >= d.max_completion_tokens else "stop"
        flags.append("finish_reason_inferred_from_cache")
    if finish == "length":
        flags.append("truncated")
    if not r.content.strip():
        flags.append("empty_completion")
    return {**row, "completion": r.content, "finish_reason": finish,
            "usage": {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens},
            "from_cache": r.from_cache, "flags": flags}


if __name__ == "__main__":
    run_main(main)
