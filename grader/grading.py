"""Grade a list of samples with a judge, falling back per sample and flagging everything a reader must know.

Shared by every script (run.py, calibrate.py): the same judge, fallback rules, flags and result schema everywhere.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .injection import detect_injection
from .judges import Judge
from .rubric import Rubric
from .types import JudgeUnavailable, Judgment, Sample


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
        return res

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
    if client is not None:
        summary["api"] = client.summary()
    return summary


def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a pinned dependency
        return None
    # Shown on stderr for runs long enough to watch, and only on a terminal (no noise in CI logs or pipes).
    return tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, disable=None if total >= 50 else True,
                leave=False)
