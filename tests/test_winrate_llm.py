"""The pairwise LLM judge end to end through winrate.py, against the local OpenAI-compatible server."""
from __future__ import annotations

import json

import pytest

from calibration.winrate_report import judge_summary
from grader.cache import ResponseCache
from grader.client import Decoding, JudgeClient
from grader.judges.pairwise import OfflinePairwiseJudge, PairwiseLLMJudge
from grader.pairwise import Pair, judge_counts, judge_pairs, load_pairwise_spec
from tests.conftest import run_script
from tests.fake_openai import Content, FakeOpenAI, RateLimit, ServerError, user_text

PAIRS = [{"id": f"p{i}", "prompt": f"Brief {i}: write the aim.", "candidate": f"CAND answer {i}",
          "baseline": f"BASE answer {i}"} for i in range(3)]


def reply(verdict: str, why: str = "decisive differences named") -> Content:
    return Content(json.dumps({"rationale": why, "verdict": verdict}))


def fair_judge(body):
    """Prefers the candidate wherever it is shown: a judge that position cannot fool."""
    text = user_text(body)
    a = text.split("<response_a>")[1].split("</response_a>")[0]
    return reply("A>B" if "CAND" in a else "B>A")


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def judge(server, tmp_path, *extra, pairs=PAIRS, out="out"):
    pfile = tmp_path / "pairs.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    proc = run_script("winrate.py", "judge", "--pairs", str(pfile), "--output-dir", str(tmp_path / out),
                      "--cache", str(tmp_path / "cache.sqlite"), "--judge", "llm", "--bootstrap", "500", *extra,
                      env={"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.url})
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (tmp_path / out / "verdicts.jsonl").read_text().splitlines()]
    return rows, json.loads((tmp_path / out / "summary.json").read_text())


def test_two_calls_per_pair_both_orders_same_prefix_and_rerun_is_free(server, tmp_path):
    server.responder = fair_judge
    rows, summary = judge(server, tmp_path, "--concurrency", "1")
    calls = server.chat_calls()
    assert len(calls) == 2 * len(PAIRS)
    assert len({c.body["messages"][0]["content"] for c in calls}) == 1  # one cacheable system prefix
    schema = calls[0].body["response_format"]["json_schema"]
    assert schema["strict"] is True and list(schema["schema"]["properties"]) == ["rationale", "verdict"]
    assert schema["schema"]["properties"]["verdict"]["enum"] == ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
    # each pair was shown once with the candidate first and once with it second
    for p in PAIRS:
        firsts = [user_text(c.body).split("<response_a>")[1][:20] for c in calls if p["prompt"] in user_text(c.body)]
        assert sorted(f.strip()[:4] for f in firsts) == ["BASE", "CAND"]
    assert [r["outcome"] for r in rows] == ["candidate"] * 3 and all(r["consistent"] for r in rows)
    assert [o["verdict"] for o in rows[0]["orders"]] == ["A>B", "B>A"]
    assert summary["win_rate"] == 1.0 and summary["first_position_rate"] == 0.5 and summary["fallbacks"] == 0
    assert summary["api"]["calls"] == 6

    # a re-run (same cache, same requests) makes no call and gives the same verdicts
    rows2, _ = judge_in_process(server, tmp_path, cache="cache.sqlite")
    assert len(server.chat_calls()) == 6
    assert [r["outcome"] for r in rows2] == [r["outcome"] for r in rows]
    assert all(r["cached"] and r["calls"] == 0 for r in rows2)


def judge_in_process(server, tmp_path, pairs=PAIRS, cache="c.sqlite"):
    """The same judge and fallback winrate.py builds, without a subprocess (fast backoff)."""
    client = JudgeClient(Decoding(), 2.5, cache=ResponseCache(tmp_path / cache), base_url=server.url,
                         api_key="test-key", backoff_base_s=0.01, backoff_max_s=0.05)
    spec = load_pairwise_spec(None)
    rows = judge_pairs([Pair(**p) for p in pairs], PairwiseLLMJudge(spec, client), OfflinePairwiseJudge(spec), 1)
    return rows, judge_summary(rows, 0.6, 0, 500, judge_counts(rows), "llm:gpt-4o-mini")


def test_a_judge_that_always_prefers_the_first_position_gets_ties(server, tmp_path):
    server.responder = lambda body: reply("A>B")
    rows, summary = judge_in_process(server, tmp_path)
    assert len(server.chat_calls()) == 6
    assert all(not r["consistent"] and r["outcome"] == "tie" for r in rows)
    assert [o["verdict_for_candidate"] for o in rows[0]["orders"]] == ["C>B", "B>C"]
    assert summary["ties"] == 3 and summary["win_rate"] == 0.5
    assert summary["first_position_rate"] == 1.0 and summary["inconsistent_rate"] == 1.0


def test_flaky_endpoint_gives_a_verdict_or_a_flagged_fallback_for_every_pair(server, tmp_path):
    garbage = Content("not json")
    bad_verdict = reply("A>>>B")
    # p0 first order: 429 then 500 then valid; p1 first order: two invalid replies -> flagged fallback
    server.script(RateLimit(0.01), ServerError(500), reply("A>B"), reply("B>A"), garbage, bad_verdict)
    server.responder = lambda body: None if server.pending() else fair_judge(body)
    rows, summary = judge_in_process(server, tmp_path)
    assert len(rows) == 3
    by_id = {r["id"]: r for r in rows}
    assert by_id["p0"]["judge"] == "llm:gpt-4o-mini" and by_id["p0"]["outcome"] == "candidate"
    assert by_id["p0"]["flags"] == []
    p1 = by_id["p1"]
    assert p1["judge"] == "offline" and "fallback_offline:invalid_judgment" in p1["flags"]
    assert "judge_output_invalid" in p1["flags"] and p1["outcome"] in ("candidate", "baseline", "tie")
    assert by_id["p2"]["judge"] == "llm:gpt-4o-mini"
    assert summary["fallbacks"] == 1 and summary["flags"]["fallback_offline:invalid_judgment"] == 1
    # the invalid reply was asked again once, with the reason
    followups = [c for c in server.chat_calls() if len(c.body["messages"]) == 4]
    assert len(followups) == 1 and "verdict" in followups[0].body["messages"][-1]["content"]
