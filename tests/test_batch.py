"""Batch mode (grader.batch.grade_batch, run.py --batch) against a real OpenAI-compatible server on 127.0.0.1."""
from __future__ import annotations

import json
import time

import pytest

from grader.batch import grade_batch
from grader.cache import ResponseCache
from grader.client import Decoding, JudgeClient
from grader.grading import grade
from grader.judges.llm import LLMJudge
from grader.judges.offline import OfflineJudge
from grader.pricing import cost_usd
from grader.rubric import load_rubric
from grader.types import Sample
from tests.conftest import GOOD_NOTE, TICKET, run_script, write_json
from tests.fake_openai import Content, FakeOpenAI, ServerError, Valid

SCORES = {"clarity": 4, "accuracy": 2, "tone": 5}
OTHER = {"clarity": 3, "accuracy": 3, "tone": 3}
LLM = "llm:gpt-4o-mini"


@pytest.fixture
def server():
    with FakeOpenAI(batch_polls_to_complete=2) as srv:
        yield srv


@pytest.fixture
def rubric():
    return load_rubric()


def make_judge(server, tmp_path, rubric, budget=1.0, cache=True):
    client = JudgeClient(Decoding(), budget, cache=ResponseCache(tmp_path / "cache.sqlite") if cache else None,
                         base_url=server.url, api_key="test", max_attempts=2, backoff_base_s=0.001,
                         sleep=lambda s: None)
    return LLMJudge(rubric, client), OfflineJudge(rubric)


def samples(n, empty_last=False):
    out = [Sample(f"s{i}", TICKET, f"{GOOD_NOTE} (item {i})") for i in range(n)]
    return out + [Sample("empty", TICKET, "  ")] if empty_last else out


def actions(server, *names):
    return [r.action for r in server.requests if r.action in names]


def batch_run(judge, fallback, rubric, items, state, sleep=None, **kw):
    return grade_batch(items, rubric, judge, fallback, state, poll_interval_s=0.001, sleep=sleep or (lambda s: None),
                       **kw)


def test_round_trip_matches_the_online_path(server, tmp_path, rubric):
    items = samples(3, empty_last=True)
    server.script(*[Valid(scores=SCORES, rationale=f"r{i}", usage=(1000 + i, 50)) for i in range(3)])
    judge, fallback = make_judge(server, tmp_path, rubric)
    state = tmp_path / "results.batch.json"
    run = batch_run(judge, fallback, rubric, items, state)

    assert actions(server, "files.create", "batches.create") == ["files.create", "batches.create"]
    assert server.chat_calls() == [] and not state.exists()
    assert [r["id"] for r in run.results] == ["s0", "s1", "s2", "empty"]
    for i, r in enumerate(run.results[:3]):
        assert r["judge"] == LLM and r["scores"] == SCORES and r["rationale"] == f"r{i}"
        assert r["tokens_used"] == 1000 + i + 50 and r["flags"] == [] and r["latency_ms"] == 0
    assert run.results[3]["judge"] == "offline" and run.results[3]["flags"] == ["empty_output"]
    upload = next(r for r in server.requests if r.action == "files.create")
    assert upload.body["purpose"] == "batch"
    create = next(r for r in server.requests if r.action == "batches.create")
    assert create.body["endpoint"] == "/v1/chat/completions" and create.body["completion_window"] == "24h"
    assert len(create.body["metadata"]["job"]) == 64
    s = run.summary
    assert s["batch"]["status"] == "completed" and s["batch"]["batch_id"] in server.batches
    assert s["batch"]["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert s["judged_by"] == {LLM: 3, "offline": 1} and s["fallbacks"] == 0
    assert s["api"]["prompt_tokens"] == 3003 and s["api"]["completion_tokens"] == 150 and s["api"]["calls"] == 0
    assert s["api"]["spent_usd"] == round(sum(cost_usd("gpt-4o-mini", 1000 + i, 50, batch=True) for i in range(3)), 6)

    # The same request bodies and the same result entries as the online path (latency aside).
    online_judge, _ = make_judge(server, tmp_path / "online", rubric, cache=False)
    server.script(*[Valid(scores=SCORES, rationale=f"r{i}", usage=(1000 + i, 50)) for i in range(3)])
    online = grade(items, rubric, online_judge, fallback, concurrency=1, progress=False)
    lines = [r.body for r in server.batch_requests]
    assert lines == [c.body for c in server.chat_calls()]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "latency_ms"} for r in rs]  # noqa: E731
    assert strip(run.results) == strip(online.results)
    assert set(s) >= set(online.summary) | {"batch"}


def test_rerun_of_the_same_job_submits_nothing(server, tmp_path, rubric):
    items = samples(3)
    server.script(*[Valid(scores=SCORES, usage=(900, 40)) for _ in range(3)])
    judge, fallback = make_judge(server, tmp_path, rubric)
    first = batch_run(judge, fallback, rubric, items, tmp_path / "state.json")
    n_requests = len(server.requests)

    judge, fallback = make_judge(server, tmp_path, rubric)  # a new process: same cache file
    again = batch_run(judge, fallback, rubric, items, tmp_path / "state.json")
    assert len(server.requests) == n_requests  # no upload, no batch, no poll, no chat call
    assert [(r["id"], r["scores"], r["tokens_used"], r["flags"]) for r in again.results] == \
           [(r["id"], r["scores"], r["tokens_used"], r["flags"]) for r in first.results]
    assert again.summary["api"]["cache_hits"] == 3 and again.summary["api"]["spent_usd"] == 0
    assert again.summary["batch"]["status"] == "not_submitted"


def test_interrupted_run_resumes_the_same_batch(server, tmp_path, rubric, capsys):
    items = samples(2)
    state = tmp_path / "results.batch.json"
    server.script(Valid(scores=SCORES), Valid(scores=OTHER))
    judge, fallback = make_judge(server, tmp_path, rubric)

    def interrupt(_s):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch_run(judge, fallback, rubric, items, state, sleep=interrupt)
    saved = json.loads(state.read_text())
    assert set(saved) == {"batch_id", "input_file_id", "job", "created_at", "n_requests"}
    assert saved["n_requests"] == 2 and saved["batch_id"] in server.batches
    before = actions(server, "files.create", "batches.create")
    assert before == ["files.create", "batches.create"]

    judge, fallback = make_judge(server, tmp_path, rubric)  # started again
    run = batch_run(judge, fallback, rubric, items, state)
    assert actions(server, "files.create", "batches.create") == before  # nothing submitted (or paid) twice
    assert [r["scores"] for r in run.results] == [SCORES, OTHER]
    assert all(r["judge"] == LLM and r["flags"] == [] for r in run.results)
    assert run.summary["batch"]["batch_id"] == saved["batch_id"] and run.summary["batch"]["resumed"] is True
    assert not state.exists()
    err = capsys.readouterr().err
    assert f"batch {saved['batch_id']} keeps running: run the same command again to resume it" in err
    assert f"resuming {saved['batch_id']}" in err


def test_state_file_for_another_job_is_ignored_with_a_warning(server, tmp_path, rubric, capsys):
    state = write_json(tmp_path / "state.json", {"batch_id": "batch_old", "input_file_id": "file-old", "job": "x" * 64,
                                                  "created_at": 0, "n_requests": 9})
    judge, fallback = make_judge(server, tmp_path, rubric)
    run = batch_run(judge, fallback, rubric, samples(1), state)
    assert "different job (batch batch_old)" in capsys.readouterr().err
    assert actions(server, "files.create", "batches.create") == ["files.create", "batches.create"]
    assert run.results[0]["judge"] == LLM and not state.exists()


def test_error_line_and_invalid_line_are_handled_per_sample(server, tmp_path, rubric):
    items = samples(4)
    server.script(Valid(scores=SCORES, usage=(100, 10)),          # s0: judged
                  ServerError(500),                                  # s1: per-request error -> offline
                  Content("not json", usage=(100, 7)),               # s2: invalid -> re-asked online, valid
                  Content('{"rationale": "x", "scores": {"clarity": 9}}', usage=(100, 9)),  # s3: invalid
                  # online re-asks, in input order
                  Valid(scores=OTHER, usage=(200, 20)),              # s2's re-ask
                  Content("{}", usage=(1, 1)), Content("still bad", usage=(1, 1)))  # s3's re-ask (and its retry)
    judge, fallback = make_judge(server, tmp_path, rubric)
    run = batch_run(judge, fallback, rubric, items, tmp_path / "state.json")
    s0, s1, s2, s3 = run.results
    assert s0["judge"] == LLM and s0["scores"] == SCORES and s0["flags"] == []
    assert s1["judge"] == "offline" and s1["flags"] == ["fallback_offline:batch_error"]
    assert s2["judge"] == LLM and s2["scores"] == OTHER and s2["flags"] == ["judge_output_invalid_retried"]
    assert s2["tokens_used"] == 107 + 220
    assert s3["judge"] == "offline"
    assert s3["flags"] == ["fallback_offline:invalid_judgment", "judge_output_invalid"]
    assert s3["tokens_used"] == 109 + 2 + 2
    assert len(server.chat_calls()) == 3  # one online judge.judge per invalid sample (s3's includes its re-ask)
    assert server.pending() == 0
    assert run.summary["batch"]["request_counts"] == {"total": 4, "completed": 3, "failed": 1}
    assert run.summary["fallbacks"] == 2 and run.summary["api"]["errors"] == {"batch_500": 1}
    batch_cost = cost_usd("gpt-4o-mini", 300, 26, batch=True)
    online_cost = cost_usd("gpt-4o-mini", 202, 22)
    assert run.summary["api"]["spent_usd"] == round(batch_cost + online_cost, 6)
    # Only the valid judgments were cached: a re-run submits just s1 and s3.
    assert len(judge.client.cache) == 2


def _fail(server, batch_id):
    with server._batch_lock:  # the fake has no scripted failed batches: force one (see the report)
        server.batches[batch_id].update(status="failed", failed_at=int(time.time()), errors={
            "object": "list", "data": [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached.",
                                        "param": None, "line": None}]})


def test_failed_or_cancelled_batch_falls_back_offline(server, tmp_path, rubric, capsys):
    items = samples(2, empty_last=True)
    judge, fallback = make_judge(server, tmp_path, rubric)
    state = tmp_path / "state.json"

    def fail_on_first_poll(_s):
        _fail(server, json.loads(state.read_text())["batch_id"])

    run = batch_run(judge, fallback, rubric, items, state, sleep=fail_on_first_poll)
    err = capsys.readouterr().err
    assert "failed" in err and "Enqueued token limit reached." in err
    assert [r["flags"] for r in run.results] == [["fallback_offline:batch_failed"]] * 2 + [["empty_output"]]
    assert all(r["judge"] == "offline" for r in run.results)
    assert run.summary["batch"]["status"] == "failed" and run.summary["fallbacks"] == 2 and not state.exists()

    # Cancelled through the real API (a Ctrl-C elsewhere, the dashboard...): nothing came back.
    judge, fallback = make_judge(server, tmp_path / "2", rubric)
    state = tmp_path / "state2.json"

    def cancel_on_first_poll(_s):
        if server.batches[json.loads(state.read_text())["batch_id"]]["status"] == "in_progress":
            judge.client.sdk.batches.cancel(json.loads(state.read_text())["batch_id"])

    run = batch_run(judge, fallback, rubric, items, state, sleep=cancel_on_first_poll)
    assert run.summary["batch"]["status"] == "cancelled"
    assert [r["flags"] for r in run.results][:2] == [["fallback_offline:batch_incomplete"]] * 2
    assert "cancelled" in capsys.readouterr().err


def test_expired_batch_keeps_what_came_back(server, tmp_path, rubric, capsys):
    items = samples(3)
    server.script(Valid(scores=SCORES), Valid(scores=OTHER), Valid(scores=SCORES))
    judge, fallback = make_judge(server, tmp_path, rubric)
    state = tmp_path / "state.json"

    def expire_with_partial_output(_s):
        with server._batch_lock:  # the fake cannot script an expired batch: finish it, drop s1's line, expire it
            b = server.batches[json.loads(state.read_text())["batch_id"]]
            server._complete_batch(b)
            out = server.files[b["output_file_id"]]
            out["data"] = b"".join(ln + b"\n" for ln in out["data"].splitlines() if b'"1-' not in ln)
            b.update(status="expired", expired_at=int(time.time()),
                     request_counts={"total": 3, "completed": 2, "failed": 0})

    run = batch_run(judge, fallback, rubric, items, state, sleep=expire_with_partial_output)
    assert [(r["judge"], r["flags"]) for r in run.results] == [
        (LLM, []), ("offline", ["fallback_offline:batch_incomplete"]), (LLM, [])]
    assert [run.results[0]["scores"], run.results[2]["scores"]] == [SCORES, SCORES]
    assert "expired; 1 of 3 sample(s) without a result" in capsys.readouterr().err and not state.exists()


def test_budget_too_small_for_the_batch_submits_nothing(server, tmp_path, rubric, capsys):
    judge, fallback = make_judge(server, tmp_path, rubric, budget=1e-6)
    run = batch_run(judge, fallback, rubric, samples(2), tmp_path / "state.json")
    assert actions(server, "files.create", "batches.create") == [] and server.chat_calls() == []
    assert [r["flags"] for r in run.results] == [["fallback_offline:budget_exhausted"]] * 2
    assert run.summary["api"]["stopped"] and "batch not submitted" in capsys.readouterr().err


def test_poll_timeout_keeps_the_state_so_a_rerun_collects_the_batch(server, tmp_path, rubric):
    items = samples(2)
    state = tmp_path / "state.json"
    judge, fallback = make_judge(server, tmp_path, rubric)
    run = batch_run(judge, fallback, rubric, items, state, max_wait_s=0)
    assert [r["flags"] for r in run.results] == [["fallback_offline:batch_timeout"]] * 2 and state.exists()
    judge, fallback = make_judge(server, tmp_path, rubric)
    run = batch_run(judge, fallback, rubric, items, state)
    assert all(r["judge"] == LLM for r in run.results) and not state.exists()
    assert actions(server, "batches.create") == ["batches.create"]


def test_run_py_batch_end_to_end(server, tmp_path, samples_file):
    server.script(Valid(scores=SCORES, usage=(500, 30)), Valid(scores=OTHER, usage=(500, 30)))
    out = tmp_path / "results.json"
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(tmp_path / "rubric.json"),
                      "--output", str(out), "--cache", str(tmp_path / "cache.sqlite"), "--judge", "llm",
                      "--batch", "--poll-interval", "0.05",
                      env={"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.url}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert [(r["id"], r["judge"], r["scores"], r["flags"]) for r in results] == [
        ("a", LLM, SCORES, []), ("b", LLM, OTHER, []), ("c", "offline", {"clarity": 1, "accuracy": 1, "tone": 1},
                                                        ["empty_output"])]
    summary = json.loads((tmp_path / "results.summary.json").read_text())
    assert summary["batch"]["status"] == "completed" and summary["batch"]["request_counts"]["total"] == 2
    assert summary["api"]["spent_usd"] == round(2 * cost_usd("gpt-4o-mini", 500, 30, batch=True), 6)
    assert actions(server, "files.create", "batches.create") == ["files.create", "batches.create"]
    assert server.chat_calls() == [] and not (tmp_path / "results.batch.json").exists()
    assert "batch: submitted" in proc.stderr


def test_a_batch_created_despite_a_client_timeout_is_found_by_its_job_tag(server, tmp_path, rubric):
    items = samples(3)
    server.batch_create_delay_s = 1.0  # the batch exists before the answer, which the client stops waiting for
    judge, fallback = make_judge(server, tmp_path, rubric)
    judge.client.sdk = judge.client.sdk.with_options(timeout=0.3)
    state = tmp_path / "state.json"
    run = batch_run(judge, fallback, rubric, items, state)
    server.batch_create_delay_s = 0.0
    judge, fallback = make_judge(server, tmp_path, rubric)  # and a re-run
    again = batch_run(judge, fallback, rubric, items, state)
    assert len(server.batches) == 1  # paid once
    assert len(server.billed()) == 3
    assert all(r["judge"] == LLM for r in run.results) and all(r["judge"] == LLM for r in again.results)


def test_rerun_with_a_sample_added_collects_the_old_batch_and_submits_only_the_rest(server, tmp_path, rubric):
    state = tmp_path / "state.json"
    judge, fallback = make_judge(server, tmp_path, rubric)

    def interrupt(_s):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch_run(judge, fallback, rubric, samples(3), state, sleep=interrupt)
    old_id = json.loads(state.read_text())["batch_id"]

    judge, fallback = make_judge(server, tmp_path, rubric)  # started again, one sample added
    run = batch_run(judge, fallback, rubric, samples(4), state)
    assert all(r["judge"] == LLM for r in run.results)
    assert server.batches[old_id]["status"] in ("completed", "cancelled")  # not left running unseen
    new = [b for b in server.batches.values() if b["id"] != old_id]
    assert len(new) == 1 and new[0]["request_counts"]["total"] == 1  # only the sample the old batch did not cover
    assert len(server.billed()) == 4  # every sample paid once
    assert run.summary["batch"]["previous_batch"] == {"batch_id": old_id, "status": "completed", "reused": 3}
    assert not state.exists()


def test_an_old_batch_that_does_not_end_in_time_is_cancelled_not_left_running(server, tmp_path, rubric):
    state = tmp_path / "state.json"
    judge, fallback = make_judge(server, tmp_path, rubric)

    def interrupt(_s):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch_run(judge, fallback, rubric, samples(3), state, sleep=interrupt)
    old_id = json.loads(state.read_text())["batch_id"]
    server.batch_polls_to_complete = 10 ** 6  # the old batch would run for hours

    def poll(_s):
        if server.batches[old_id]["status"] == "cancelled":
            server.batch_polls_to_complete = 1  # the new one completes at its first poll

    judge, fallback = make_judge(server, tmp_path, rubric)
    run = batch_run(judge, fallback, rubric, samples(4), state, sleep=poll, max_wait_s=0.005)
    assert server.batches[old_id]["status"] == "cancelled"
    assert run.summary["batch"]["previous_batch"] == {"batch_id": old_id, "status": "cancelled", "reused": 0}
    [new] = [b for b in server.batches.values() if b["id"] != old_id]
    assert new["request_counts"]["total"] == 4 and all(r["judge"] == LLM for r in run.results)
