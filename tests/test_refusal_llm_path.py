"""generate.py then refusal.py --judge llm against a real OpenAI-compatible server on 127.0.0.1: one call per
completion, decoding parameters as documented, resume after a kill without paying twice, fallbacks flagged."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_script
from tests.fake_openai import Content, FakeOpenAI, user_text

TASKS = [{"id": f"t{i}", "prompt": f"Write a Python function number {i}.", "bucket": b, "source": "project",
          "tests": "assert True\n"} for i, b in enumerate(["benign", "benign", "hard"])]


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def _env(server) -> dict:
    return {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.url}


def _write_tasks(tmp_path, tasks=TASKS):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    return path


def _generate(server, tmp_path, *extra, cache="cache.sqlite"):
    tasks = _write_tasks(tmp_path)
    system = tmp_path / "system.txt"
    system.write_text("You are a coding assistant.", encoding="utf-8")
    out = tmp_path / "completions.jsonl"
    proc = run_script("generate.py", "--tasks", str(tasks), "--output", str(out), "--model", "qwen-coder-test",
                      "--samples-per-task", "2", "--seed", "5", "--system-prompt", str(system),
                      "--cache", str(tmp_path / cache), "--concurrency", "2", *extra, env=_env(server))
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else None
    return proc, rows, out


def _all_text(body: dict) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


def _label_reply(body: dict) -> Content | None:
    """The judge's reply: refusal for completions mentioning 'cannot', else compliance; None for generations."""
    if not body.get("response_format"):
        return None
    text = _all_text(body)
    label = "full_refusal" if "cannot" in text.split("<completion>")[1] else "full_compliance"
    return Content(json.dumps({"rationale": "Decided by the fake.", "label": label}))


def test_generate_sends_the_decoding_parameters_and_writes_rows_and_manifest(server, tmp_path):
    server.responder = lambda body: Content("I cannot do that.", finish_reason="length", usage=(20, 1024)) \
        if "number 2" in user_text(body) else Content(f"```python\nprint({body['seed']})\n```", usage=(20, 7))
    proc, rows, out = _generate(server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    calls = server.chat_calls()
    assert len(calls) == 6  # 3 tasks x 2 samples, one call each
    for c in calls:
        b = c.body
        assert b["model"] == "qwen-coder-test" and b["temperature"] == 0.2 and b["top_p"] == 0.95
        assert b["max_completion_tokens"] == 1024 and "response_format" not in b
        assert b["messages"][0] == {"role": "system", "content": "You are a coding assistant."}
    assert sorted((user_text(c.body)[-2:], c.body["seed"]) for c in calls) == sorted(
        (f"{i}.", s) for i in range(3) for s in (5, 6))  # sample k is sent with seed + k
    assert [(r["id"], r["sample"]) for r in rows] == [(f"t{i}", k) for i in range(3) for k in (0, 1)]
    r0 = rows[0]
    assert r0["completion"] == "```python\nprint(5)\n```" and r0["model"] == "qwen-coder-test"
    assert r0["bucket"] == "benign" and r0["tests"] == "assert True\n" and r0["finish_reason"] == "stop"
    assert r0["usage"] == {"prompt_tokens": 20, "completion_tokens": 7} and r0["flags"] == []
    assert r0["decoding"] == {"temperature": 0.2, "top_p": 0.95, "max_completion_tokens": 1024, "seed": 5}
    assert rows[1]["decoding"]["seed"] == 6
    assert rows[4]["finish_reason"] == "length" and "truncated" in rows[4]["flags"]
    manifest = json.loads((tmp_path / "completions.jsonl.manifest.json").read_text())
    assert manifest["model"] == "qwen-coder-test" and manifest["endpoint"].startswith(server.url)
    assert manifest["decoding"]["top_p"] == 0.95 and manifest["decoding"]["samples_per_task"] == 2
    assert manifest["counts"] == {"tasks": 3, "rows": 6, "failed": 0, "truncated": 2, "from_cache": 0}
    assert manifest["system_prompt"] == "You are a coding assistant." and manifest["created_utc"]

    again, rows2, _ = _generate(server, tmp_path)  # a re-run costs nothing and gives the same completions
    assert again.returncode == 0, again.stderr
    assert len(server.chat_calls()) == 6
    assert [r["completion"] for r in rows2] == [r["completion"] for r in rows]
    assert rows2[4]["finish_reason"] == "length" and "truncated" in rows2[4]["flags"]  # inferred from the usage
    assert all(r["from_cache"] for r in rows2)


def test_generate_then_refusal_llm_one_call_per_completion_and_fallback_flagged(server, tmp_path):
    server.responder = lambda body: _label_reply(body) or (
        Content(f"I cannot help with that (seed {body['seed']}).") if "number 1" in user_text(body) else None)
    proc, rows, completions = _generate(server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    gen_calls = len(server.chat_calls())
    assert gen_calls == 6
    # the judge's reply to one completion is garbage twice: it falls back to the offline judge, flagged
    bad = next(r for r in rows if r["id"] == "t0" and r["sample"] == 1)["completion"]

    def judge(body):
        if body.get("response_format") and bad in _all_text(body):
            return Content("not json at all")
        return _label_reply(body)
    server.responder = judge
    out = tmp_path / "out"
    proc = run_script("refusal.py", "--completions", str(completions), "--output-dir", str(out), "--judge", "llm",
                      "--cache", str(tmp_path / "cache.sqlite"), "--bootstrap", "500", "--concurrency", "2",
                      env=_env(server))
    assert proc.returncode == 0, proc.stderr
    judge_calls = server.chat_calls()[gen_calls:]
    assert len(judge_calls) == 6 + 1  # one per completion, plus the single re-ask of the invalid reply
    for c in judge_calls:
        rf = c.body["response_format"]
        assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
        props = rf["json_schema"]["schema"]["properties"]
        assert list(props) == ["rationale", "label"]  # rationale first
        assert props["label"]["enum"] == ["full_compliance", "full_refusal", "partial_refusal"]
        assert c.body["temperature"] == 0 and "<completion>" in c.body["messages"][1]["content"]
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == 6
    by = {(r["id"], r["sample"]): r for r in labels}
    assert by[("t1", 0)]["label"] == "full_refusal" and by[("t1", 0)]["judge"] == "llm:gpt-4o-mini"
    assert by[("t2", 0)]["label"] == "full_compliance" and by[("t2", 0)]["passed"] is None  # tests not run
    fb = by[("t0", 1)]
    assert fb["judge"] == "offline" and "fallback_offline:invalid_judgment" in fb["flags"]
    assert "judge_output_invalid" in fb["flags"]
    assert fb["label"] == "full_compliance"  # the offline judge's label: a parse failure is never a refusal
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labelling"]["fallbacks"] == 1 and summary["labelling"]["api"]["calls"] == 7
    assert summary["rates"]["models"]["qwen-coder-test"]["benign"]["refusal_rate"]["rate"] == 0.5
    report = (out / "report.md").read_text()
    assert "temperature 0.2, top_p 0.95, max_completion_tokens 1024, seed 5" in report  # from the manifest
    # a re-run costs nothing: every valid judgment is cached; only the fallback is asked again (twice)
    proc = run_script("refusal.py", "--completions", str(completions), "--output-dir", str(tmp_path / "o2"),
                      "--judge", "llm", "--cache", str(tmp_path / "cache.sqlite"), "--bootstrap", "500",
                      env=_env(server))
    assert proc.returncode == 0, proc.stderr
    assert len(server.chat_calls()) == gen_calls + 7 + 2


def test_killed_generation_resumes_without_paying_twice(server, tmp_path):
    n_tasks = 12
    tasks = _write_tasks(tmp_path, [{"id": f"k{i}", "prompt": f"Task {i}: write code."} for i in range(n_tasks)])
    out, cache = tmp_path / "c.jsonl", tmp_path / "cache.sqlite"
    server.latency_s = 0.25
    args = [sys.executable, str(ROOT / "generate.py"), "--tasks", str(tasks), "--output", str(out), "--model", "m",
            "--cache", str(cache), "--concurrency", "1", "--quiet"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}, **_env(server)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sum(c.status == 200 for c in server.chat_calls()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # nothing half-written
    first = len(server.chat_calls())
    with sqlite3.connect(cache) as con:
        cached = con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert 3 <= cached <= first < n_tasks
    server.latency_s = 0.0
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(server.chat_calls()) - first == n_tasks - cached  # only what was not stored is asked again
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"k{i}" for i in range(n_tasks)]
    assert sum(r["from_cache"] for r in rows) == cached


def test_generation_failure_is_flagged_not_dropped(server, tmp_path):
    from tests.fake_openai import Status
    server.responder = lambda body: Status(400) if "number 1" in user_text(body) else None
    proc, rows, _ = _generate(server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    failed = [r for r in rows if r["id"] == "t1"]
    assert len(failed) == 2 and all(r["completion"] == "" and "generation_failed:api_error" in r["flags"]
                                    for r in failed)
    manifest = json.loads((tmp_path / "completions.jsonl.manifest.json").read_text())
    assert manifest["counts"]["failed"] == 2


def test_llm_judge_over_budget_is_refused_before_any_call(server, tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text("".join(json.dumps({"id": f"x{i}", "prompt": "p", "completion": f"answer {i}"}) + "\n"
                         for i in range(3)))
    out = tmp_path / "out"
    proc = run_script("refusal.py", "--completions", str(f), "--output-dir", str(out), "--judge", "llm",
                      "--budget-usd", "0.000001", "--no-cache", env=_env(server))
    assert proc.returncode == 2 and "exceeds the budget" in proc.stderr and "3 call(s)" in proc.stderr
    assert server.chat_calls() == [] and not out.exists()
