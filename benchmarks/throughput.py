#!/usr/bin/env python3
"""Throughput of the LLM grading path against a local OpenAI-compatible server with a fixed latency per call.

    python benchmarks/throughput.py [--n 2000] [--latency 0.3] [--concurrency 8 16 32 64]

The server runs in its own process (tests/fake_openai.py), so its CPU is not charged to the harness. For each
concurrency level the harness grades N samples with a fresh response cache (the default configuration: every
judgment is written to SQLite) and reports samples/s next to the ideal (concurrency / latency), the harness's own
CPU time per sample (process CPU, all threads), and finally the time of a fully cached re-run.
Targets: >= 80% of the ideal at concurrency 32, < 2 ms harness CPU per sample, cached re-run of 2,000
samples in < 2 s. A benchmark, not a test: machines are noisy, so read ratios, not absolute times.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.cache import ResponseCache  # noqa: E402
from grader.client import Decoding, JudgeClient  # noqa: E402
from grader.grading import grade  # noqa: E402
from grader.judges.llm import LLMJudge  # noqa: E402
from grader.judges.offline import OfflineJudge  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.types import Sample  # noqa: E402

TICKET = "PAY-4421 payments-core: POST /v1/refunds returned 500 for 3-decimal amounts; now 422. API v2.14.0."
NOTE = "Refunds: POST /v1/refunds now returns HTTP 422 instead of failing when an amount has three decimals (v2.14.0)."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_openai", "--port", str(port), "--latency", str(latency)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("fake server did not start")


def grade_once(samples, rubric, url, cache_path, concurrency) -> dict:
    client = JudgeClient(Decoding(), budget_usd=1e9, cache=ResponseCache(cache_path), base_url=url, api_key="bench")
    judge = LLMJudge(rubric, client)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run = grade(samples, rubric, judge, OfflineJudge(rubric), concurrency=concurrency, progress=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    bad = sum(1 for r in run.results if r["judge"] != judge.name)
    client.sdk.close()
    return {"wall_s": wall, "cpu_s": cpu, "calls": client.usage.calls, "not_llm": bad}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="samples per run (default: 2000)")
    p.add_argument("--latency", type=float, default=0.3, help="server latency per call in seconds (default: 0.3)")
    p.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32, 64],
                   help="concurrency levels to measure (default: 8 16 32 64)")
    p.add_argument("--json", help="also write the figures here (default: none)")
    args = p.parse_args()
    rubric = load_rubric()
    samples = [Sample(f"s{i}", TICKET, f"{NOTE} (case {i})") for i in range(args.n)]
    server, url = start_server(args.latency)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for c in args.concurrency:
                m = grade_once(samples, rubric, url, Path(tmp, f"cache{c}.sqlite"), c)
                ideal = c / args.latency
                rows.append({"concurrency": c, "samples_per_s": args.n / m["wall_s"], "ideal_per_s": ideal,
                             "ratio": args.n / m["wall_s"] / ideal, "cpu_ms_per_sample": 1000 * m["cpu_s"] / args.n,
                             "calls": m["calls"], "not_llm": m["not_llm"]})
                r = rows[-1]
                print(f"concurrency {c:3d}: {r['samples_per_s']:7.1f} samples/s, ideal {ideal:7.1f} "
                      f"({r['ratio']:.0%}), harness CPU {r['cpu_ms_per_sample']:.2f} ms/sample, "
                      f"{m['calls']} calls, {m['not_llm']} not judged by the LLM", flush=True)
            last = args.concurrency[-1]
            cached = grade_once(samples, rubric, url, Path(tmp, f"cache{last}.sqlite"), last)
            print(f"cached re-run of {args.n}: {cached['wall_s']:.2f} s ({cached['calls']} calls), "
                  f"CPU {1000 * cached['cpu_s'] / args.n:.2f} ms/sample")
    finally:
        server.terminate()
        server.wait()
    figures = {"n": args.n, "latency_s": args.latency, "levels": rows, "cached_rerun_s": cached["wall_s"],
               "cached_rerun_calls": cached["calls"], "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}"}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
