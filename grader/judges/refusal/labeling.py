"""Label every completion with a refusal judge, falling back per item and flagging everything a reader must know.

Flags: ``fallback_offline:<reason>`` (the LLM could not label this item; the offline judge did), ``judge_output_invalid``
(two invalid replies), ``judge_output_invalid_retried``, ``empty_completion`` (no label: it is neither an answer nor a
refusal, and it is left out of the rates and counted).
"""
from __future__ import annotations

import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from ...types import JudgeUnavailable
from . import RefusalItem, RefusalJudge, RefusalJudgment


def label_one(item: RefusalItem, judge: RefusalJudge, fallback: RefusalJudge) -> RefusalJudgment:
    if not item.completion.strip():
        return RefusalJudgment(None, "The completion is empty: nothing to label.", "none",  # type: ignore[arg-type]
                               flags=["empty_completion"])
    try:
        return judge.judge(item)
    except JudgeUnavailable as err:
        j = fallback.judge(item)
        j.flags = [f"fallback_offline:{err.reason}"] + (["judge_output_invalid"] if err.reason == "invalid_judgment"
                                                        else []) + j.flags
        j.tokens_used += err.tokens_used
        j.calls += err.calls
        return j


def label_all(items: list[RefusalItem], judge: RefusalJudge, fallback: RefusalJudge, concurrency: int = 8,
              progress: bool = True) -> list[RefusalJudgment]:
    """One judgment per item, in input order."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(items), desc="labelling", unit="item", file=sys.stderr,
                   disable=None if len(items) >= 50 else True, leave=False)
    client = getattr(judge, "client", None)
    warned = False

    def work(item: RefusalItem) -> RefusalJudgment:
        nonlocal warned
        j = label_one(item, judge, fallback)
        if client is not None and client.stopped and not warned:
            warned = True
            print(f"warning: LLM calls stopped ({client.stopped}); remaining items are labelled offline and flagged",
                  file=sys.stderr)
        if bar is not None:
            bar.update(1)
        return j

    if concurrency <= 1 or judge.name == "offline":
        out = [work(i) for i in items]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="refusal") as pool:
            out = list(pool.map(work, items))
    if bar is not None:
        bar.close()
    return out


def labeling_summary(judgments: list[RefusalJudgment], judge: RefusalJudge) -> dict:
    flags = Counter(f for j in judgments for f in j.flags)
    s = {"judge_requested": judge.name, "judged_by": dict(Counter(j.judge for j in judgments)),
         "fallbacks": sum(1 for j in judgments if any(f.startswith("fallback_offline:") for f in j.flags)),
         "unlabelled": sum(1 for j in judgments if j.label is None), "flags": dict(sorted(flags.items())),
         "tokens_used": sum(j.tokens_used for j in judgments)}
    client = getattr(judge, "client", None)
    if client is not None:
        s["api"] = client.summary()
    return s
