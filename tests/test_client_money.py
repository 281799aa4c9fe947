"""The client under review: never spend past the budget, never pay twice, never stop for a blip.

Each test reproduces one way the client could overspend, pay twice or lose judgments, against the real HTTP test
server (tests/fake_openai.py). "Spent" is always what the SERVER's log implies at list price: the completions it
produced (``server.billed()``), whether or not the reply showed usage and whether or not the client read it.
"""
from __future__ import annotations

import json
import random
import time

import pytest

from grader.cache import ResponseCache
from grader.client import Decoding, JudgeClient
from grader.grading import grade
from grader.judges.llm import LLMJudge
from grader.judges.offline import OfflineJudge
from grader.pricing import count_message_tokens
from grader.rubric import load_rubric
from grader.types import Sample
from tests.conftest import GOOD_NOTE, ROOT, TICKET, run_script, write_json
from tests.fake_openai import (Content, ContentParts, Drop, FakeOpenAI, Html, InsufficientQuota, NoUsage, NullCounter,
                               NullMessage, RateLimit, Slow, Trickle, Valid)

LLM = "llm:gpt-4o-mini"
MINI = (0.15, 0.60)  # gpt-4o-mini list price, USD per 1M input / output tokens
SCORES = {"clarity": 4, "accuracy": 2, "tone": 5}


def exact_prompt_tokens(body):
    """What a provider reports at most: the prompt tokens the client itself counts for its reservation."""
    return count_message_tokens(body["messages"])


@pytest.fixture
def server():
    with FakeOpenAI(usage=(exact_prompt_tokens, 60)) as srv:
        yield srv


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


def list_usd(server, price=MINI) -> float:
    return sum(pt * price[0] + ct * price[1] for pt, ct in server.billed()) / 1e6


def items(n, tag=""):
    return [Sample(f"s{i}", TICKET, f"{GOOD_NOTE} {tag}(item {i})") for i in range(n)]


def client_for(server, budget=1.0, cache=None, **kw):
    kw = {"max_attempts": 3, "backoff_base_s": 0.001, "timeout_s": 5.0, **kw}
    return JudgeClient(Decoding(model=kw.pop("model", "gpt-4o-mini")), budget, cache=cache, base_url=server.url,
                       api_key="test", **kw)


def run_grade(client, rubric, samples, concurrency=1):
    judge = LLMJudge(rubric, client)
    return grade(samples, rubric, judge, OfflineJudge(rubric), concurrency=concurrency, progress=False)


def every_sample_accounted(run, n):
    assert len(run.results) == n
    for r in run.results:
        assert r["judge"].startswith("llm:") or any(f.startswith("fallback_offline:") for f in r["flags"]), r


def cli(server, tmp_path, samples, *extra, name="results", timeout=120):
    sfile = write_json(tmp_path / f"{name}.samples.json", samples)
    out = tmp_path / f"{name}.json"
    proc = run_script("run.py", "--samples", str(sfile), "--rubric", str(tmp_path / f"{name}.rubric.json"),
                      "--output", str(out), "--cache", str(tmp_path / "cache.sqlite"), *extra,
                      env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.url}, timeout=timeout)
    results = json.loads(out.read_text()) if out.exists() else None
    summary_path = tmp_path / f"{name}.summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return proc, results, summary


def cli_samples(n, tag=""):
    return [{"id": f"s{i}", "input_ticket": TICKET, "model_output": f"{GOOD_NOTE} {tag}(item {i})"} for i in range(n)]


# 1 ---------------------------------------------------------------------------------------------------------------
def test_replies_without_usage_are_charged_at_their_worst_case(server, rubric):
    server.responder = lambda body: NoUsage()
    client = client_for(server, budget=0.002)
    run = run_grade(client, rubric, items(20))
    every_sample_accounted(run, 20)
    s = client.summary()
    assert list_usd(server) <= 0.002
    assert 0 < s["calls"] < 20 and s["charged_at_worst_case"] == s["calls"]
    assert s["spent_usd"] >= list_usd(server) > 0


# 2 ---------------------------------------------------------------------------------------------------------------
def test_unusable_reply_shapes_become_per_sample_outcomes_never_a_crash(server, tmp_path):
    server.script(*[Valid() for _ in range(3)], NullCounter("completion_tokens"), Valid(), NullMessage(), Valid(),
                  ContentParts(Content("not json")), Valid(scores=SCORES), NullCounter("prompt_tokens"),
                  ContentParts())
    proc, results, summary = cli(server, tmp_path, cli_samples(12), "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    assert len(results) == 12 and all(r["judge"] == LLM for r in results)
    assert "judge_output_invalid_retried" in results[6]["flags"] and results[6]["scores"] == SCORES
    assert summary["api"]["charged_at_worst_case"] == 3  # two null counters and the null message
    calls = len(server.chat_calls())
    assert calls == 14  # 12 samples, the null message's retry, the content-parts re-ask
    proc, again, _ = cli(server, tmp_path, cli_samples(12), "--concurrency", "1", name="again")
    assert proc.returncode == 0 and len(server.chat_calls()) == calls  # every judgment was cached
    assert [r["scores"] for r in again] == [r["scores"] for r in results]


# 3 ---------------------------------------------------------------------------------------------------------------
def test_unknown_and_dated_models_are_never_underpriced():
    from grader import pricing

    assert pricing.price_for("o1")[0].output >= 60.0 and pricing.price_for("o1")[0].input >= 15.0
    assert pricing.price_for("gpt-4o-2024-05-13")[0] == pricing.Price(5.0, 15.0, 5.0)
    assert pricing.price_for("gpt-4o-mini-2024-07-18") == (pricing.price_for("gpt-4o-mini")[0], True)
    for model in ("some-new-model", "gpt-4o-2099-01-01", "gpt-4o-mini-search-preview"):
        price, known = pricing.price_for(model)
        assert not known
        assert all(price.input >= p.input and price.output >= p.output for p in pricing.PRICES.values())
    assert len(pricing.PRICES_READ_ON) == 10 and pricing.PRICES_READ_ON[4] == "-"
    assert pricing.parse_price_per_mtok("0.15,0.6") == pricing.Price(0.15, 0.6, 0.15)
    with pytest.raises(ValueError):
        pricing.parse_price_per_mtok("inf,1")


def test_an_o1_budget_holds_at_o1_list_price(server, rubric):
    client = client_for(server, budget=0.2, model="o1")
    run = run_grade(client, rubric, items(20), concurrency=4)
    every_sample_accounted(run, 20)
    assert 0 < len(server.billed()) < 20
    assert list_usd(server, price=(15.0, 60.0)) <= 0.2


# 4 ---------------------------------------------------------------------------------------------------------------
def test_a_timed_out_call_is_charged_its_worst_case(server, rubric):
    server.responder = lambda body: Slow(0.6)  # the server finishes (and bills) each call after the client gave up
    client = client_for(server, budget=0.002, timeout_s=0.2, max_attempts=1)
    run = run_grade(client, rubric, items(15))
    time.sleep(0.8)  # let the server finish what it was doing
    every_sample_accounted(run, 15)
    assert 0 < len(server.billed()) and list_usd(server) <= 0.002
    s = client.summary()
    assert s["charged_at_worst_case"] == s["calls"] and s["spent_usd"] >= list_usd(server)


# 6 ---------------------------------------------------------------------------------------------------------------
def test_insufficient_quota_stops_calling_at_once(server, tmp_path):
    server.responder = lambda body: InsufficientQuota(retry_after=86400)
    t0 = time.monotonic()
    proc, results, summary = cli(server, tmp_path, cli_samples(10), "--concurrency", "1", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 30 and len(server.chat_calls()) == 1
    assert all(r["judge"] == "offline" and r["flags"] == ["fallback_offline:budget_exhausted"] for r in results)
    assert "insufficient_quota" in summary["api"]["stopped"] and "insufficient_quota" in proc.stderr


def test_waits_are_capped_one_by_one_and_in_total_and_announced(server, rubric, capsys):
    server.responder = lambda body: RateLimit(retry_after=86400)
    waits = []
    client = client_for(server, max_attempts=6, sleep=waits.append)
    run = run_grade(client, rubric, items(20))
    every_sample_accounted(run, 20)
    assert waits and max(waits) <= 60 and sum(waits) <= 900
    assert client.stopped and "waited" in client.stopped
    assert all(r["flags"] == ["fallback_offline:api_error"] for r in run.results)
    assert "waiting 60.0s before retrying (HTTP 429, Retry-After 86400s)" in capsys.readouterr().err


def test_html_200s_count_towards_the_breaker(server, rubric):
    from grader.breaker import Breaker

    server.responder = lambda body: Html()
    client = client_for(server, breaker=Breaker(pause_s=0.02, dead_after_s=0.3))
    run = run_grade(client, rubric, items(30), concurrency=4)
    every_sample_accounted(run, 30)
    assert client.stopped.startswith("endpoint unusable") and len(server.chat_calls()) < 60
    assert all(r["flags"] == ["fallback_offline:api_error"] for r in run.results)


# 7 ---------------------------------------------------------------------------------------------------------------
def test_a_one_second_blip_does_not_end_llm_grading(server, tmp_path):
    server.script(*[Drop() for _ in range(10)])
    proc, results, summary = cli(server, tmp_path, cli_samples(120), "--concurrency", "8")
    assert proc.returncode == 0, proc.stderr
    assert all(r["judge"] == LLM for r in results), summary["flags"]
    assert len(server.chat_calls()) == 130 and summary["api"]["stopped"] is None


def test_a_dead_endpoint_still_stops_after_sustained_failure(server, rubric):
    from grader.breaker import Breaker

    server.responder = lambda body: Drop()
    client = client_for(server, breaker=Breaker(pause_s=0.02, dead_after_s=0.4))
    t0 = time.monotonic()
    run = run_grade(client, rubric, items(40), concurrency=8)
    every_sample_accounted(run, 40)
    assert 0.4 <= time.monotonic() - t0 < 10
    assert client.stopped.startswith("endpoint unusable") and client.breaker.opened >= 2
    assert all(r["flags"] == ["fallback_offline:api_error"] for r in run.results)
    assert len(server.chat_calls()) < 60


# 8 ---------------------------------------------------------------------------------------------------------------
def test_a_judgment_that_needed_a_reask_is_free_on_a_rerun(server, rubric, tmp_path):
    server.script(Content("not json"), Valid(scores=SCORES))
    client = client_for(server, cache=ResponseCache(tmp_path / "c.sqlite"))
    first = run_grade(client, rubric, items(3))
    assert len(server.chat_calls()) == 4
    assert first.results[0]["flags"] == ["judge_output_invalid_retried"] and first.results[0]["scores"] == SCORES
    client = client_for(server, cache=ResponseCache(tmp_path / "c.sqlite"))  # a new run on the same cache
    again = run_grade(client, rubric, items(3))
    assert len(server.chat_calls()) == 4 and client.summary()["calls"] == 0
    strip = lambda rs: [{k: v for k, v in r.items() if k != "latency_ms"} for r in rs]  # noqa: E731
    assert strip(again.results) == strip(first.results)


# 9 ---------------------------------------------------------------------------------------------------------------
def test_a_spec_change_the_llm_never_sees_keeps_the_cache(server, rubric, tmp_path):
    run_grade(client_for(server, cache=ResponseCache(tmp_path / "c.sqlite")), rubric, items(5))
    assert len(server.chat_calls()) == 5
    spec = json.loads((ROOT / "rubric" / "release_notes.json").read_text())
    dim, checks = next(iter(spec["offline"].items()))
    check = next(iter(checks))
    spec["offline"][dim][check] = checks[check] + 0.5  # an offline-judge weight: not in the request body
    edited = load_rubric(write_json(tmp_path / "spec.json", spec))
    assert edited.spec_sha256 != rubric.spec_sha256
    client = client_for(server, cache=ResponseCache(tmp_path / "c.sqlite"))
    run = run_grade(client, edited, items(5))
    assert len(server.chat_calls()) == 5 and client.summary()["cache_hits"] == 5
    assert all(r["judge"] == LLM for r in run.results)


# 10 --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", [float("inf"), float("nan"), -1.0])
def test_a_budget_that_is_not_a_finite_amount_is_refused(server, budget):
    with pytest.raises(ValueError, match="budget_usd"):
        client_for(server, budget=budget)
    assert server.chat_calls() == []


# 11 --------------------------------------------------------------------------------------------------------------
def test_settling_cannot_race_the_next_reservation(rubric, monkeypatch):
    import grader.client as client_module

    # A loaded machine: the thread that settles a call is preempted while it reads and prices the reply's usage.
    # Whatever the client is doing then, no other call may be admitted on a budget that no longer counts this one.
    for name in ("parse_usage", "usable_usage", "cost_usd", "price_cost"):
        if hasattr(client_module, name):
            fn = getattr(client_module, name)
            monkeypatch.setattr(client_module, name, lambda *a, _fn=fn, **k: (time.sleep(0.002), _fn(*a, **k))[1])
    same = [Sample(f"s{i}", TICKET, f"{GOOD_NOTE} (item {i:03d})") for i in range(120)]
    # Every reply reports usage equal to the call's worst case, so the budget is exactly as tight as reserved.
    with FakeOpenAI(usage=(exact_prompt_tokens, 350)) as server:
        client = client_for(server, budget=1.0)
        budget = 14.5 * client.worst_case_usd(LLMJudge(rubric, client).messages(same[0]))
        jitter = random.Random(0)
        server.responder = lambda body: Slow(jitter.uniform(0, 0.006))  # calls end at scattered times
        for _ in range(3):  # a race: three chances to hit the window
            server.requests.clear()
            client = client_for(server, budget=budget)
            run_grade(client, rubric, same, concurrency=6)
            assert len(server.billed()) == 14 and list_usd(server) <= budget * (1 + 1e-9), list_usd(server) / budget
            assert client.summary()["spent_usd"] == pytest.approx(list_usd(server), abs=1e-6)


# 12 --------------------------------------------------------------------------------------------------------------
def test_a_trickling_body_meets_a_total_deadline(server, rubric):
    server.responder = lambda body: Trickle(chunk=25, interval_s=0.4)
    client = client_for(server, timeout_s=0.5, max_attempts=1)
    t0 = time.monotonic()
    run = run_grade(client, rubric, items(1))
    assert time.monotonic() - t0 < 1.5
    assert run.results[0]["flags"] == ["fallback_offline:api_error"]
    assert client.summary()["charged_at_worst_case"] == 1


# coalescing ------------------------------------------------------------------------------------------------------
def test_identical_requests_in_flight_are_paid_once(server, rubric, tmp_path):
    server.latency_s = 0.3
    dupes = [Sample(f"d{i}", TICKET, GOOD_NOTE) for i in range(16)]
    client = client_for(server, cache=ResponseCache(tmp_path / "c.sqlite"))
    run = run_grade(client, rubric, dupes, concurrency=8)
    assert len(server.chat_calls()) == 1
    assert all(r["judge"] == LLM for r in run.results)
    assert len({json.dumps(r["scores"]) for r in run.results}) == 1
    s = client.summary()
    assert s["calls"] == 1 and s["coalesced"] + s["cache_hits"] == 15
