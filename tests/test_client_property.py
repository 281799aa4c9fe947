"""Property: whatever the endpoint does, the dollars it could bill never pass the budget, and no sample is lost.

Random mixes of faults (every fault tests/fake_openai.py can play), concurrency 1-32, budgets from a fraction of one
call to ample, completions reported small or at their cap. "Billed" is the server's own log at list price: every
completion it produced, whether the client saw the usage, read the reply, or had already hung up.
"""
from __future__ import annotations

import random
import threading
import time

import pytest

from grader.breaker import Breaker
from grader.client import Decoding, JudgeClient
from grader.grading import grade
from grader.judges.llm import LLMJudge
from grader.judges.offline import OfflineJudge
from grader.pricing import count_message_tokens, price_for
from grader.rubric import load_rubric
from grader.types import Sample
from tests.conftest import GOOD_NOTE, TICKET
from tests.fake_openai import (Content, ContentParts, Drop, FakeOpenAI, Html, InsufficientQuota, Malformed,
                               NoUsage, NullCounter, NullMessage, RateLimit, ServerError, Slow, Status, Trickle, Valid)

TRIALS = 24
FAULTS = [
    lambda: NoUsage(), lambda: NullCounter("completion_tokens"), lambda: NullCounter("prompt_tokens"),
    lambda: NullMessage(), lambda: ContentParts(), lambda: ContentParts(Content("not json")), lambda: Html(),
    lambda: Malformed(), lambda: Drop(), lambda: RateLimit(0.003), lambda: ServerError(503),
    lambda: Status(400), lambda: Slow(0.25), lambda: Trickle(chunk=60, interval_s=0.05),
    lambda: Content("not json"), lambda: Content('{"rationale": "x", "scores": {}}'),
]


def billed_usd(server, model="gpt-4o-mini") -> float:
    p, _ = price_for(model)
    return sum(pt * p.input + ct * p.output for pt, ct in server.billed()) / 1e6


def settle(server, timeout_s=3.0):
    """Wait until the server has finished every request it received (it keeps working after a client hangs up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(r.t_end is None for r in server.chat_calls()):
        time.sleep(0.02)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_spend_never_passes_the_budget_and_every_sample_ends_judged_or_flagged(trial):
    rng = random.Random(1000 + trial)
    rubric = load_rubric()
    n = rng.randint(8, 40)
    concurrency = rng.choice([1, 2, 4, 8, 16, 32])
    budget = 10 ** rng.uniform(-4.0, -1.7)  # from under one call (~$0.0006 worst case) to ~40 calls
    fault_rate = rng.choice([0.0, 0.1, 0.3, 0.6])
    completion = rng.choice([60, 350])  # small, or at the cap (the worst case the client reserved)
    quota_after = rng.choice([None, None, None, rng.randint(1, 20)])  # sometimes the account runs dry
    lock = threading.Lock()
    seen = [0]

    def responder(body):
        with lock:
            seen[0] += 1
            if quota_after is not None and seen[0] > quota_after:
                return InsufficientQuota()
            return rng.choice(FAULTS)() if rng.random() < fault_rate else Valid()

    dupes = rng.random() < 0.3  # some runs repeat one sample (coalescing and the cache in play)
    samples = [Sample(f"s{i}", TICKET, f"{GOOD_NOTE} (item {0 if dupes and i % 2 else i})") for i in range(n)]
    with FakeOpenAI(usage=(lambda body: count_message_tokens(body["messages"]), completion)) as server:
        server.responder = responder
        client = JudgeClient(Decoding(), budget, base_url=server.url, api_key="t", timeout_s=0.15, max_attempts=3,
                             backoff_base_s=0.001, breaker=Breaker(pause_s=0.01, dead_after_s=0.3),
                             log=lambda msg: None)
        run = grade(samples, rubric, LLMJudge(rubric, client), OfflineJudge(rubric), concurrency=concurrency,
                    progress=False)
        settle(server)
        billed = billed_usd(server)
        what = (f"trial {trial}: n={n} concurrency={concurrency} budget=${budget:.5f} faults={fault_rate} "
                f"completion={completion} quota_after={quota_after}: billed ${billed:.6f}, "
                f"client spent ${client.usage.spent_usd:.6f}, {len(server.chat_calls())} calls")
        assert billed <= budget * (1 + 1e-9), what
        assert client.usage.spent_usd >= billed * (1 - 1e-9), what  # the client never counts less than was billed
        assert [r["id"] for r in run.results] == [s.id for s in samples], what
        for r in run.results:
            assert r["judge"] == "llm:gpt-4o-mini" or any(f.startswith("fallback_offline:") for f in r["flags"]), what
        assert server.errors == []
