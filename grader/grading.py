"""Grade a list of samples with a judge, falling back per sample and flagging everything a reader must know.

Shared by every script (run.py, calibrate.py): the same judge, fallback rules, flags and result schema everywhere.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

from .injection import detect_injection
from .judges import Judge
from .rubric import Rubric
from .types import JudgeUnavailable, Judgment, Sample


def heartbeat_interval_s() -> float:
    """Seconds of silence after which a run with LLM calls reports on stderr (``HARNESS_HEARTBEAT_S``, default 10)."""
    try:
        v = float(os.environ.get("HARNESS_HEARTBEAT_S", "10"))
    except ValueError:
        return 10.0
    return v if v > 0 else 10.0


class Heartbeat:
    """While LLM calls are slow (retries, backoff waits, an endpoint that never answers), say so on stderr.

    A line every ``interval_s`` seconds in which no sample finished: how many are graded, the calls, retries and
    errors so far, and how long the run has waited. A run that makes progress stays quiet (the progress bar, if any,
    speaks for it).
    """

    def __init__(self, total: int, client, interval_s: float, desc: str = "grading"):
        self.total, self.client, self.interval_s, self.desc = total, client, interval_s, desc
        self.done = 0
        self._last = time.monotonic()
        self._t0 = self._last
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tick(self) -> None:
        with self._lock:
            self.done += 1
            self._last = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, self.interval_s / 4)):
            now = time.monotonic()
            with self._lock:
                quiet, done = now - self._last, self.done
            if quiet < self.interval_s:
                continue
            api = self.client.summary() if self.client is not None else {}
            errors = ", ".join(f"{k} x{v}" for k, v in sorted((api.get("errors") or {}).items())) or "none"
            print(f"{self.desc}: still waiting for the LLM, {done}/{self.total} sample(s) graded after "
                  f"{now - self._t0:.0f} s ({api.get('calls', 0)} call(s), {api.get('retries', 0)} retry(ies), "
                  f"errors: {errors})", file=sys.stderr, flush=True)
            with self._lock:
                self._last = now


@dataclass
class GradeRun:
    results: list[dict]  # one entry per sample, input order, the results.json schema
    summary: dict


def grade_one(sample: Sample, rubric: Rubric, judge: Judge, fallback: Judge) -> dict:
    flags: list[str] = []
    if not sample.output.strip():
        # Not bad input: the lowest scores, by rule, with no call spent on it.
        j = Judgment({k: rubric.scale_min for k in rubric.keys},
                     f"The {rubric.output_label} is empty: nothing to grade.", judge="offline")
        flags.append("empty_output")
    else:
        try:
            j = judge.judge(sample)
        except JudgeUnavailable as err:
            j = fallback.judge(sample)
            j.tokens_used += err.tokens_used
            flags.append(f"fallback_offline:{err.reason}")
            if err.reason == "invalid_judgment":
                flags.append("judge_output_invalid")
        if detect_injection(sample.output):
            flags.append("possible_prompt_injection")
    flags.extend(j.flags)
    return {
        "id": sample.id,
        "scores": j.scores,
        "overall": rubric.overall(j.scores),
        "rationale": j.rationale,
        "latency_ms": j.latency_ms,
        "tokens_used": j.tokens_used,
        "judge": j.judge,
        "flags": list(dict.fromkeys(flags)),  # de-duplicated, first-seen order
    }


def grade(samples: list[Sample], rubric: Rubric, judge: Judge, fallback: Judge, concurrency: int = 8,
          progress: bool = True, desc: str = "grading") -> GradeRun:
    """Grade every sample; results come back in input order whatever order the calls finish in."""
    t0 = time.perf_counter()
    bar = _progress(len(samples), desc) if progress else None
    warned = False

    client = getattr(judge, "client", None)

    def work(sample: Sample) -> dict:
        nonlocal warned
        res = grade_one(sample, rubric, judge, fallback)
        if client is not None and client.stopped and not warned:
            warned = True
            kind = "budget exhausted" if client.stop_reason == "budget_exhausted" else "calls stopped"
            print(f"warning: LLM {kind} ({client.stopped}); remaining samples are graded offline and flagged",
                  file=sys.stderr)
        if bar is not None:
            bar.update(1)
        if beat is not None:
            beat.tick()
        return res

    beat = Heartbeat(len(samples), client, heartbeat_interval_s(), desc) if client is not None else None
    with beat or nullcontext():
        if concurrency <= 1 or judge.name == "offline":
            results = [work(s) for s in samples]  # the offline judge is CPU-bound: threads would only add overhead
        else:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="judge") as pool:
                results = list(pool.map(work, samples))  # map preserves input order
    if bar is not None:
        bar.close()
    return GradeRun(results, summarize(results, rubric, judge, time.perf_counter() - t0))


def summarize(results: list[dict], rubric: Rubric, judge: Judge, elapsed_s: float) -> dict:
    flags = Counter(f for r in results for f in r["flags"])
    n = len(results)
    summary = {
        "n_samples": n,
        "judge_requested": judge.name,
        "judged_by": dict(Counter(r["judge"] for r in results)),
        "fallbacks": sum(1 for r in results if any(f.startswith("fallback_offline:") for f in r["flags"])),
        "flags": dict(sorted(flags.items())),
        "mean_scores": {k: round(sum(r["scores"][k] for r in results) / n, 3) if n else None for k in rubric.keys},
        "mean_overall": round(sum(r["overall"] for r in results) / n, 3) if n else None,
        "tokens_used": sum(r["tokens_used"] for r in results),
        "elapsed_s": round(elapsed_s, 3),
        "samples_per_s": round(n / elapsed_s, 1) if elapsed_s > 0 else None,
    }
    client = getattr(judge, "client", None)
    # The same keys with or without an LLM: an offline run made zero calls and spent nothing.
    summary["api"] = client.summary() if client is not None else dict(OFFLINE_API)
    return summary


OFFLINE_API = {"calls": 0, "retries": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0,
               "cached_prompt_tokens": 0, "spent_usd": 0.0, "budget_usd": None, "stopped": None, "errors": {}}


def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a pinned dependency
        return None
    # Shown on stderr for runs long enough to watch, and only on a terminal (no noise in CI logs or pipes).
    return tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, disable=None if total >= 50 else True,
                leave=False)
