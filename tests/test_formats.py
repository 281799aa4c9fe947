"""Response-format negotiation: an endpoint that refuses strict json_schema moves the run down, once, for good."""
from __future__ import annotations

import json

import pytest

from grader.client import Decoding, JudgeClient
from grader.formats import FormatNegotiator, rejection_reason
from tests.fake_openai import Content, FakeOpenAI, RejectFormats, ServerError, response_format_mode
from tests.test_llm_path import llm_run, make_samples

LLM = "llm:gpt-4o-mini"


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def read(tmp_path, name):
    return json.loads((tmp_path / name).read_text())


def modes_seen(server):
    return [response_format_mode(c.body) for c in server.chat_calls()]


@pytest.mark.parametrize("status, body, expected", [
    (422, {"detail": [{"loc": ["body", "seed"], "msg": "bad"}]}, True),  # request validation, whatever the field
    (400, {"error": {"message": "Invalid parameter: 'response_format' of type 'json_schema'"}}, True),
    (400, {"error": {"message": "This model's maximum context length is 8192 tokens"}}, False),  # per sample
    (500, "1 validation error for CreateChatCompletionRequest response_format.type", True),
    (500, {"error": {"message": "The server had an error while processing your request."}}, False),  # transient
    (503, "json_schema", False),
])
def test_what_counts_as_a_rejection_of_the_request_shape(status, body, expected):
    why = rejection_reason(status, body)
    assert (why is not None) == expected
    if expected:
        assert why.startswith(f"HTTP {status}: ")


def test_each_mode_sends_the_schema_its_own_way():
    schema = {"name": "g", "strict": True, "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}
    msgs = [{"role": "system", "content": "grade"}, {"role": "user", "content": "data"}]
    client = JudgeClient(Decoding(), 1.0, base_url="http://127.0.0.1:9/v1", api_key="k")
    strict = client.request_body(msgs, schema, mode="json_schema")
    assert strict["response_format"] == {"type": "json_schema", "json_schema": schema}
    assert strict["messages"] == msgs
    obj = client.request_body(msgs, schema, mode="json_object")
    assert obj["response_format"] == {"type": "json_object", "schema": schema["schema"]}
    text = client.request_body(msgs, schema, mode="text")
    assert "response_format" not in text
    assert "max_tokens" not in strict and obj["max_tokens"] == text["max_tokens"] == 350  # the older cap's name
    for body in (obj, text):
        assert body["messages"][1] == msgs[1]
        assert body["messages"][0]["content"].startswith("grade\n") and json.dumps(schema["schema"],
                                                                                  separators=(",", ":")) in \
            body["messages"][0]["content"]
    assert len({client.key_for(msgs, schema, "r", mode=m) for m in ("json_schema", "json_object", "text")}) == 3


def test_the_negotiator_switches_once_whoever_reports_first():
    said = []
    n = FormatNegotiator(warn=said.append)
    assert n.reject("json_schema", "HTTP 422: x") is True
    assert n.reject("json_schema", "HTTP 422: x") is True  # a second thread with the same news: already moved on
    assert n.mode == "json_object" and len(said) == 1 and len(n.switches) == 1
    assert n.reject("json_object", "HTTP 422: y") is True and n.mode == "text"
    assert n.reject("text", "HTTP 422: z") is False
    n.adopt("json_object", "cache")  # never moves back up
    assert n.mode == "text" and len(said) == 2


@pytest.mark.parametrize("status", [400, 422, 500])
def test_a_rejected_json_schema_switches_after_one_call_and_a_rerun_makes_none(server, tmp_path, status):
    server.responder = reject = RejectFormats(("json_schema",), status)
    proc, results = llm_run(server, tmp_path, make_samples(4), "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    assert modes_seen(server) == ["json_schema"] + ["json_object"] * 4  # one failed call, not six, not one per sample
    assert reject.rejected == {"json_schema": 1}
    assert all(r["judge"] == LLM and r["flags"] == [] for r in results)
    assert proc.stderr.count("rejected response format json_schema") == 1 and f"HTTP {status}" in proc.stderr
    for call in server.chat_calls()[1:]:
        assert call.body["response_format"]["schema"]["properties"]["scores"]["required"] == \
            ["clarity", "accuracy", "tone"]
        assert "matches this JSON schema" in call.body["messages"][0]["content"]
    negotiated = read(tmp_path, "results.summary.json")["api"]["response_format"]
    assert negotiated["mode"] == "json_object" and negotiated["schema_in_prompt"] is True
    assert [(s["from"], s["to"]) for s in negotiated["switches"]] == [("json_schema", "json_object")]
    assert negotiated["switches"][0]["why"].startswith(f"HTTP {status}")
    assert read(tmp_path, "rubric.json")["decoding"]["response_format_negotiated"]["mode"] == "json_object"
    if status != 500:
        return
    # A re-run finds the earlier run's json_object replies in the cache: no call, not even to renegotiate.
    server.requests.clear()
    proc2, again = llm_run(server, tmp_path, make_samples(4), "--concurrency", "1")
    assert proc2.returncode == 0, proc2.stderr
    assert server.chat_calls() == []
    assert [(r["scores"], r["judge"]) for r in again] == [(r["scores"], r["judge"]) for r in results]
    summary = read(tmp_path, "results.summary.json")
    assert summary["api"]["cache_hits"] == 4 and summary["api"]["response_format"]["mode"] == "json_object"
    assert summary["preflight"]["samples_to_call"] == 0


def test_concurrent_workers_switch_once(server, tmp_path):
    server.responder = RejectFormats(("json_schema",), 500)
    proc, results = llm_run(server, tmp_path, make_samples(16), "--concurrency", "8")
    assert proc.returncode == 0, proc.stderr
    seen = modes_seen(server)
    assert 1 <= seen.count("json_schema") <= 8 and seen.count("json_object") == 16  # only what was in flight
    assert proc.stderr.count("rejected response format") == 1
    assert all(r["judge"] == LLM for r in results)
    assert len(read(tmp_path, "results.summary.json")["api"]["response_format"]["switches"]) == 1


def test_refusals_in_flight_do_not_trip_the_unusable_endpoint_stop(server, tmp_path):
    # 8 workers each get a 400 for json_schema and then for json_object: 16 refusals, more than the 10 consecutive
    # failures that stop a dead endpoint, yet the run reaches text mode and every sample is judged.
    server.responder = RejectFormats(("json_schema", "json_object"), 400)
    proc, results = llm_run(server, tmp_path, make_samples(12), "--concurrency", "8")
    assert proc.returncode == 0, proc.stderr
    assert modes_seen(server).count("text") == 12
    assert all(r["judge"] == LLM for r in results)
    assert read(tmp_path, "results.summary.json")["api"]["stopped"] is None


def test_text_mode_when_both_structured_modes_are_refused(server, tmp_path):
    server.responder = RejectFormats(("json_schema", "json_object"), 422)
    reply = {"rationale": "Clear.", "scores": {"clarity": 4, "accuracy": 3, "tone": 5}, "injection_attempt": False}
    server.script(Content("Here is my grade:\n```json\n" + json.dumps(reply) + "\n```"))
    proc, results = llm_run(server, tmp_path, make_samples(3), "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    assert modes_seen(server) == ["json_schema", "json_object", "text", "text", "text"]
    assert all(r["judge"] == LLM and r["flags"] == [] for r in results)
    assert results[0]["scores"] == reply["scores"]  # the fenced object, validated like any reply
    assert read(tmp_path, "results.summary.json")["api"]["response_format"]["mode"] == "text"
    assert proc.stderr.count("note: the endpoint rejected") == 2


def test_text_mode_reply_that_is_not_json_is_reasked_once_then_flagged(server, tmp_path):
    server.responder = RejectFormats(("json_schema", "json_object"), 422)
    server.script(Content("I think it is good."), Content("Still no JSON."))
    proc, results = llm_run(server, tmp_path, make_samples(2), "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    assert results[0]["judge"] == "offline"
    assert results[0]["flags"] == ["fallback_offline:invalid_judgment", "judge_output_invalid"]
    assert results[1]["judge"] == LLM


def test_a_rejection_of_every_mode_ends_in_flagged_fallbacks(server, tmp_path):
    server.responder = reject = RejectFormats(("json_schema", "json_object", "text"), 422)
    proc, results = llm_run(server, tmp_path, make_samples(5), "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    assert modes_seen(server) == ["json_schema", "json_object", "text"]  # then calling stops for the run
    assert reject.rejected == {"json_schema": 1, "json_object": 1, "text": 1}
    assert all(r["judge"] == "offline" and r["flags"] == ["fallback_offline:api_error"] for r in results)
    summary = read(tmp_path, "results.summary.json")
    assert summary["fallbacks"] == 5
    assert summary["api"]["stopped"].startswith("the endpoint rejected every response format")
    assert "calls stopped" in proc.stderr


def test_a_plain_server_error_is_still_retried_in_the_same_mode(server, tmp_path):
    server.script(ServerError(500), ServerError(500))
    proc, results = llm_run(server, tmp_path, make_samples(1), "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    assert modes_seen(server) == ["json_schema"] * 3 and results[0]["judge"] == LLM
    assert read(tmp_path, "results.summary.json")["api"]["response_format"]["switches"] == []


def test_a_forced_starting_mode_makes_no_strict_call(server, tmp_path):
    proc, results = llm_run(server, tmp_path, make_samples(2), "--concurrency", "1", "--response-format", "json_object")
    assert proc.returncode == 0, proc.stderr
    assert modes_seen(server) == ["json_object", "json_object"] and all(r["judge"] == LLM for r in results)
