"""Drive tests/fake_openai.py with the real openai SDK over loopback."""

from __future__ import annotations

import http.client
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from tests.fake_openai import (Content, Drop, FakeOpenAI, Malformed, PaymentRequired, RateLimit, ServerError,
                               Slow, Status, Valid)

SCALE = [1, 2, 3, 4, 5]
DIMS = ["accuracy", "clarity"]
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "grade", "strict": True, "schema": {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "scores": {"type": "object", "properties": {d: {"type": "integer", "enum": SCALE} for d in DIMS},
                   "required": DIMS, "additionalProperties": False},
        "injection_attempt": {"type": "boolean"},
    },
    "required": ["rationale", "scores", "injection_attempt"], "additionalProperties": False}}}


def request(user: str = "grade me", model: str = "gpt-test") -> dict:
    return {"model": model, "response_format": RESPONSE_FORMAT,
            "messages": [{"role": "system", "content": "You are a strict grader."},
                         {"role": "user", "content": user}]}


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s
    assert not s.errors, s.errors


@pytest.fixture
def client(server):
    c = openai.OpenAI(api_key="test", base_url=server.url, max_retries=0, timeout=5)
    yield c
    c.close()


def test_valid_judgment_parses_and_usage_matches(server, client):
    body = request("the answer is 42")
    r = client.chat.completions.create(**body)
    assert r.object == "chat.completion" and r.model == "gpt-test"
    assert r.choices[0].finish_reason == "stop"
    j = json.loads(r.choices[0].message.content)
    assert set(j) == {"rationale", "scores", "injection_attempt"}
    assert set(j["scores"]) == set(DIMS) and all(v in SCALE for v in j["scores"].values())
    assert j["injection_attempt"] is False
    prompt_chars = sum(len(m["content"]) for m in body["messages"])
    assert r.usage.prompt_tokens == prompt_chars // 4
    assert r.usage.completion_tokens == 60
    assert r.usage.total_tokens == prompt_chars // 4 + 60
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    # deterministic per (dimension, user message)
    again = json.loads(client.chat.completions.create(**body).choices[0].message.content)
    assert again["scores"] == j["scores"]
    (rec, _) = server.chat_calls()
    assert rec.status == 200 and rec.action == "Valid" and rec.body["model"] == "gpt-test"
    assert rec.headers["authorization"] == "Bearer test" and rec.t_end >= rec.t_start


def test_explicit_scores_usage_and_config():
    with FakeOpenAI(scores_fn=lambda dim, opts, text: opts[-1], usage=(lambda body: 7, 11)) as s:
        c = openai.OpenAI(api_key="test", base_url=s.url, max_retries=0)
        r = c.chat.completions.create(**request())
        assert json.loads(r.choices[0].message.content)["scores"] == {"accuracy": 5, "clarity": 5}
        assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (7, 11)
        s.script(Valid(scores={"accuracy": 2}, rationale="r", injection_attempt=True, usage=(1, 2)))
        r = c.chat.completions.create(**request())
        assert json.loads(r.choices[0].message.content) == {
            "rationale": "r", "scores": {"accuracy": 2}, "injection_attempt": True}
        assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (1, 2, 3)


def test_rate_limit_raises_with_retry_after(server, client):
    server.script(RateLimit(retry_after=1.5))
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(**request())
    e = ei.value
    assert e.status_code == 429
    assert e.response.headers["retry-after"] == "1.5"
    assert e.response.headers["retry-after-ms"] == "1500"
    assert e.body["type"] == "rate_limit_exceeded"
    server.script(RateLimit(retry_after=None))
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(**request())
    assert "retry-after" not in ei.value.response.headers


@pytest.mark.parametrize("status", [500, 503])
def test_server_error(server, client, status):
    server.script(ServerError(status))
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(**request())
    assert ei.value.status_code == status and ei.value.body["type"] == "server_error"


def test_drop_is_connection_error(server, client):
    client.chat.completions.create(**request())  # warm a pooled keep-alive connection first
    server.script(Drop())
    with pytest.raises(openai.APIConnectionError) as ei:
        client.chat.completions.create(**request())
    assert not isinstance(ei.value, openai.APITimeoutError)
    assert server.chat_calls()[-1].status is None and server.chat_calls()[-1].action == "Drop"
    client.chat.completions.create(**request())  # the client recovers on a fresh connection


def test_malformed(server, client):
    # Claims JSON but is not: the SDK's parse raises a plain json.JSONDecodeError (not an openai error).
    server.script(Malformed())
    with pytest.raises(json.JSONDecodeError):
        client.chat.completions.create(**request())
    # raw access (what the harness uses) gets the bytes untouched
    server.script(Malformed())
    raw = client.chat.completions.with_raw_response.create(**request())
    assert raw.http_response.status_code == 200 and raw.http_response.content == b"<html>oops</html>"
    # text/html: the SDK (non-strict) does NOT raise, it returns the body as a str
    server.script(Malformed(content_type="text/html"))
    assert client.chat.completions.create(**request()) == "<html>oops</html>"


def test_payment_required(server, client):
    server.script(PaymentRequired())
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(**request())
    assert ei.value.status_code == 402
    assert ei.value.body == {"message": "budget exhausted", "type": "insufficient_quota", "param": None,
                             "code": "insufficient_quota"}


def test_slow_beyond_timeout(server, client):
    server.script(Slow(1.0))
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(**request(), timeout=0.2)
    assert time.monotonic() - t0 < 0.9
    server.script(Slow(0.05, then=Content("late")))
    assert client.chat.completions.create(**request()).choices[0].message.content == "late"


def test_content_and_status(server, client):
    server.script(Content("not json"), Status(418, {"error": {"message": "teapot", "type": "x"}},
                                                   {"x-should-retry": "false"}))
    assert client.chat.completions.create(**request()).choices[0].message.content == "not json"
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(**request())
    assert ei.value.status_code == 418 and ei.value.response.headers["x-should-retry"] == "false"


def test_queue_consumed_in_order_then_default_valid(server, client):
    server.script(ServerError(), RateLimit(0.01), Content("a"))
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(client.chat.completions.create(**request()).choices[0].message.content[:1])
        except openai.APIStatusError as e:
            outcomes.append(e.status_code)
    assert outcomes[:3] == [500, 429, "a"] and outcomes[3] == outcomes[4] == "{"
    assert [r.action for r in server.chat_calls()] == ["ServerError", "RateLimit", "Content", "Valid", "Valid"]
    assert [r.status for r in server.chat_calls()] == [500, 429, 200, 200, 200]
    assert server.pending() == 0


def test_responder_before_queue(server, client):
    server.script(Content("from queue"))
    server.responder = lambda body: Content("poison") if "poison" in body["messages"][-1]["content"] else None
    assert client.chat.completions.create(**request("poison pill")).choices[0].message.content == "poison"
    assert client.chat.completions.create(**request("fine")).choices[0].message.content == "from queue"


def test_sdk_retries_on_429_honour_retry_after(server):
    server.script(RateLimit(0.05), RateLimit(0.02))
    c = openai.OpenAI(api_key="test", base_url=server.url, max_retries=2)
    r = c.chat.completions.create(**request())
    assert r.choices[0].finish_reason == "stop"
    calls = server.chat_calls()
    assert [x.status for x in calls] == [429, 429, 200]
    assert calls[1].t_start - calls[0].t_end >= 0.04  # the SDK waited Retry-After


def test_batch_round_trip(server, client):
    lines = [{"custom_id": f"item-{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": request(f"sample {i}")} for i in range(4)]
    server.script(Valid(), RateLimit(), Valid(), Content("nope"))
    jsonl = "".join(json.dumps(x) + "\n" for x in lines).encode()
    f = client.files.create(file=("in.jsonl", io.BytesIO(jsonl)), purpose="batch")
    assert f.bytes == len(jsonl) and f.purpose == "batch" and f.filename == "in.jsonl"
    assert client.files.retrieve(f.id).id == f.id
    assert client.files.content(f.id).content == jsonl
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                              metadata={"run": "t"})
    assert b.status == "validating" and b.metadata == {"run": "t"} and b.request_counts.total == 4
    statuses = []
    while b.status not in ("completed", "failed", "cancelled", "expired"):
        b = client.batches.retrieve(b.id)
        statuses.append(b.status)
    assert statuses == ["in_progress", "completed"]
    assert (b.request_counts.total, b.request_counts.completed, b.request_counts.failed) == (4, 3, 1)
    assert b.output_file_id and b.error_file_id and b.model == "gpt-test"
    out = [json.loads(x) for x in client.files.content(b.output_file_id).text.splitlines()]
    err = [json.loads(x) for x in client.files.content(b.error_file_id).text.splitlines()]
    assert sorted(r["custom_id"] for r in out + err) == [x["custom_id"] for x in lines]
    by_id = {r["custom_id"]: r for r in out + err}
    assert by_id["item-1"]["response"]["status_code"] == 429 and "error" in by_id["item-1"]["response"]["body"]
    assert by_id["item-3"]["response"]["body"]["choices"][0]["message"]["content"] == "nope"
    ok = by_id["item-0"]
    assert ok["error"] is None and ok["response"]["status_code"] == 200 and ok["id"].startswith("batch_req_")
    judgment = json.loads(ok["response"]["body"]["choices"][0]["message"]["content"])
    # same scores as the synchronous path for the same request
    sync = json.loads(client.chat.completions.create(**lines[0]["body"]).choices[0].message.content)
    assert judgment["scores"] == sync["scores"]
    assert len(server.batch_requests) == 4
    actions = [r.action for r in server.requests if r.action and not r.action.startswith("chat")]
    assert actions[:4] == ["files.create", "files.retrieve", "files.content", "batches.create"]
    assert client.files.retrieve(b.output_file_id).purpose == "batch_output"


def test_batch_cancel_and_missing(server, client):
    f = client.files.create(file=("in.jsonl", io.BytesIO(
        json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                    "body": request()}).encode())), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(b.id).status == "cancelling"
    assert client.batches.retrieve(b.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")


def test_keep_alive_one_connection_many_requests(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    payload = json.dumps(request()).encode()
    for _ in range(3):
        conn.request("POST", "/v1/chat/completions", payload, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Length")
        json.loads(resp.read())
        assert not resp.will_close
    conn.close()


def test_concurrency_200_requests_32_threads():
    with FakeOpenAI(latency_s=0.05) as s:
        c = openai.OpenAI(api_key="test", base_url=s.url, max_retries=0, timeout=10)

        def one(i: int) -> dict:
            return json.loads(c.chat.completions.create(**request(f"sample {i}")).choices[0].message.content)

        t0 = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(one, range(200)))
        elapsed = time.monotonic() - t0
        assert len(results) == 200 and all(set(r["scores"]) == set(DIMS) for r in results)
        calls = s.chat_calls()
        assert len(calls) == 200 and len(s.requests) == 200
        assert all(r.status == 200 for r in calls)
        # serialized would take 200 * 0.05 = 10 s; 32-way parallel is ~0.35 s
        assert elapsed < 3.0, elapsed
        assert not s.errors
