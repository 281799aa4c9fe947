"""With a real (local) OpenAI-compatible server: paid judgments survive a crash after grading, slow calls are
reported on stderr, rubric.json records what each judge graded, and an explicit --judge llm that the LLM could not
serve does not exit 0."""
from __future__ import annotations

import json
import sys

import pytest

import run
from grader.cli import run_main
from tests.conftest import GOOD_NOTE, TICKET, write_json
from tests.fake_openai import FakeOpenAI, Slow, Status, Valid

SCORES = {"clarity": 4, "accuracy": 2, "tone": 5}


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def _samples(n):
    return [{"id": f"s{i}", "input_ticket": TICKET, "model_output": f"{GOOD_NOTE} (item {i})"} for i in range(n)]


def _run(tmp_path, server, monkeypatch, capsys, samples, *extra):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setattr(sys, "argv", ["run.py"])
    sfile = write_json(tmp_path / "samples.json", samples)
    args = ["--samples", str(sfile), "--rubric", str(tmp_path / "rubric.json"), "--output",
            str(tmp_path / "results.json"), "--cache", str(tmp_path / "cache.sqlite"), "--quiet", *extra]
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run_main(lambda: run.main(args))
    return e.value.code, capsys.readouterr().err


def test_an_error_after_grading_loses_no_paid_judgment(tmp_path, server, monkeypatch, capsys):
    server.script(*[Valid(scores=SCORES) for _ in range(3)])
    real = run.write_json_atomic

    def failing(path, obj):
        raise ValueError("Out of range float values are not JSON compliant")
    monkeypatch.setattr(run, "write_json_atomic", failing)
    code, err = _run(tmp_path, server, monkeypatch, capsys, _samples(3), "--concurrency", "1")
    assert code == 1 and len(server.chat_calls()) == 3
    line = err.strip().splitlines()[-1]
    assert "re-running the same command makes no new call" in line and str(tmp_path / "cache.sqlite") in line
    monkeypatch.setattr(run, "write_json_atomic", real)
    code, err = _run(tmp_path, server, monkeypatch, capsys, _samples(3), "--concurrency", "1")
    assert code == 0, err
    assert len(server.chat_calls()) == 3  # the re-run was free: every judgment came from the cache
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["scores"] for r in results] == [SCORES] * 3 and all(r["judge"] == "llm:gpt-4o-mini" for r in results)


def test_slow_calls_show_a_heartbeat_on_stderr(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_HEARTBEAT_S", "0.3")
    server.script(Slow(1.5, Valid(scores=SCORES)))
    code, err = _run(tmp_path, server, monkeypatch, capsys, _samples(1), "--concurrency", "1")
    assert code == 0, err
    beats = [ln for ln in err.splitlines() if "still waiting for the LLM" in ln]
    assert beats and "0/1 sample(s) graded" in beats[0] and "call(s)" in beats[0]


@pytest.mark.parametrize("judge,code", [("llm", 3), ("auto", 0)])
def test_llm_that_graded_nothing_is_recorded_and_fails_an_explicit_llm_run(tmp_path, server, monkeypatch, capsys,
                                                                              judge, code):
    server.responder = lambda body: Status(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
    samples = _samples(3) + [{"id": "e", "input_ticket": TICKET, "model_output": ""}]
    got, err = _run(tmp_path, server, monkeypatch, capsys, samples, "--judge", judge)
    assert got == code, err
    results = json.loads((tmp_path / "results.json").read_text())  # results are written either way
    assert [r["judge"] for r in results] == ["offline"] * 4
    dec = json.loads((tmp_path / "rubric.json").read_text())["decoding"]
    assert dec["llm_requested"] is True and dec["llm_used"] is False and dec["samples_graded_by"] == {"offline": 4}
    if judge == "llm":
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: --judge llm") and "graded none of the 3" in last and "HTTP 401" in last


def test_rubric_json_counts_llm_and_fallback_samples(tmp_path, server, monkeypatch, capsys):
    server.script(Valid(scores=SCORES), Status(400, {"error": {"message": "too long", "type": "invalid_request_error"}}))
    code, err = _run(tmp_path, server, monkeypatch, capsys, _samples(2), "--judge", "llm", "--concurrency", "1")
    assert code == 0, err
    dec = json.loads((tmp_path / "rubric.json").read_text())["decoding"]
    assert dec["llm_used"] is True and dec["samples_graded_by"] == {"llm:gpt-4o-mini": 1, "offline": 1}
