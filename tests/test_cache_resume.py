"""Response cache and resume: re-runs cost nothing, kills lose nothing, changes invalidate exactly what they affect."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import GOOD_NOTE, ROOT, TICKET, run_script, write_json
from tests.fake_openai import Content, FakeOpenAI

ENV_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL")


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def samples(n, tag=""):
    return [{"id": f"s{i}", "input_ticket": TICKET, "model_output": f"{GOOD_NOTE} {tag}(item {i})"} for i in range(n)]


def run(server, tmp_path, sample_list, *extra, name="results"):
    sfile = write_json(tmp_path / f"{name}.samples.json", sample_list)
    out = tmp_path / f"{name}.json"
    proc = run_script("run.py", "--samples", str(sfile), "--rubric", str(tmp_path / f"{name}.rubric.json"),
                      "--output", str(out), "--cache", str(tmp_path / "cache.sqlite"), *extra,
                      env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.url})
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def strip_latency(results):
    return [{k: v for k, v in r.items() if k != "latency_ms"} for r in results]


def test_rerun_makes_zero_calls_and_returns_identical_results(server, tmp_path):
    first = run(server, tmp_path, samples(12))
    assert len(server.chat_calls()) == 12
    second = run(server, tmp_path, samples(12), name="again")
    assert len(server.chat_calls()) == 12  # not one more
    assert strip_latency(second) == strip_latency(first)
    summary = json.loads((tmp_path / "again.summary.json").read_text())
    assert summary["api"]["calls"] == 0 and summary["api"]["cache_hits"] == 12


def test_changes_invalidate_exactly_the_affected_entries(server, tmp_path):
    base = samples(6)
    run(server, tmp_path, base)
    assert len(server.chat_calls()) == 6
    edited = [dict(s) for s in base]
    edited[2]["model_output"] += " Also faster."
    run(server, tmp_path, edited, name="one_edit")
    assert len(server.chat_calls()) == 7  # only the edited sample
    run(server, tmp_path, base, "--model", "gpt-4.1-mini", name="model")
    assert len(server.chat_calls()) == 13
    run(server, tmp_path, base, "--max-completion-tokens", "300", name="decoding")
    assert len(server.chat_calls()) == 19
    run(server, tmp_path, base, "--seed", "1", name="seed")
    assert len(server.chat_calls()) == 25
    spec = json.loads((ROOT / "rubric" / "release_notes.json").read_text())
    spec["dimensions"][0]["levels"]["3"] += " (edited)"
    spec_path = write_json(tmp_path / "spec.json", spec)
    run(server, tmp_path, base, "--rubric-spec", str(spec_path), name="rubric")
    assert len(server.chat_calls()) == 31
    run(server, tmp_path, base, name="base_again")  # everything original is still cached
    assert len(server.chat_calls()) == 31


def test_invalid_judgments_are_never_cached(server, tmp_path):
    server.script(Content("nope"), Content("nope"))
    first = run(server, tmp_path, samples(1))
    assert first[0]["judge"] == "offline"
    second = run(server, tmp_path, samples(1), name="again")
    assert len(server.chat_calls()) == 3  # asked again: the fallback was not cached
    assert second[0]["judge"] == "llm:gpt-4o-mini"


def test_killed_run_resumes_without_recalling_judged_samples(server, tmp_path):
    n = 120
    server.latency_s = 0.03
    sfile = write_json(tmp_path / "samples.json", samples(n))
    cache = tmp_path / "cache.sqlite"
    args = [sys.executable, str(ROOT / "run.py"), "--samples", str(sfile), "--rubric", str(tmp_path / "r.json"),
            "--output", str(tmp_path / "o.json"), "--cache", str(cache), "--concurrency", "4"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
           "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.url}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(server.chat_calls()) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "o.json").exists()  # nothing half-written
    first_calls = len(server.chat_calls())
    with sqlite3.connect(cache) as con:
        cached = con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert 30 <= cached <= first_calls < n
    server.latency_s = 0.0
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    second = server.chat_calls()[first_calls:]
    assert len(second) == n - cached  # every cached sample skipped, every other one called once
    firsts = {c.body["messages"][1]["content"] for c in server.chat_calls()[:first_calls]}
    seconds = [c.body["messages"][1]["content"] for c in second]
    assert len(set(seconds)) == len(seconds)
    assert len(firsts & set(seconds)) == first_calls - cached  # only calls killed before their answer was stored
    results = json.loads((tmp_path / "o.json").read_text())
    assert len(results) == n and all(r["judge"] == "llm:gpt-4o-mini" for r in results)


@pytest.mark.slow
def test_ten_thousand_samples_at_concurrency_64_with_bounded_memory(server, tmp_path):
    def peak_rss_mb(n):
        sfile = write_json(tmp_path / f"s{n}.json",
                           [{"id": f"s{i}", "input_ticket": TICKET, "model_output": f"Refunds fixed, case {i}."}
                            for i in range(n)])
        code = ("import resource, sys, run; sys.argv = ['run.py', '--samples', %r, '--rubric', %r, '--output', %r, "
                "'--no-cache', '--concurrency', '64', '--quiet', '--budget-usd', '100']\ntry:\n    run.main()\nfinally:\n"
                "    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
                % (str(sfile), str(tmp_path / "r.json"), str(tmp_path / f"o{n}.json")))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
               "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.url}
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        results = json.loads((tmp_path / f"o{n}.json").read_text())
        assert [r["id"] for r in results] == [f"s{i}" for i in range(n)]
        assert all(r["judge"] == "llm:gpt-4o-mini" and r["flags"] == [] for r in results)
        return int(proc.stdout.split("PEAK")[-1])

    small = peak_rss_mb(500)
    calls_before = len(server.chat_calls())
    large = peak_rss_mb(10_000)
    assert len(server.chat_calls()) - calls_before == 10_000
    # 20x the samples may only add what 10,000 small result entries take, not per-call garbage that piles up
    assert large - small < 80, (small, large)


def test_two_processes_share_one_cache_safely(server, tmp_path):
    server.latency_s = 0.01
    cache = tmp_path / "cache.sqlite"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
           "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.url}
    procs = []
    for name, part in (("a", samples(60)[:40]), ("b", samples(60)[20:])):  # 20 samples in common
        sfile = write_json(tmp_path / f"{name}.json", part)
        procs.append(subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--samples", str(sfile), "--rubric", str(tmp_path / f"{name}.r.json"),
             "--output", str(tmp_path / f"{name}.o.json"), "--cache", str(cache), "--concurrency", "8"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert 60 <= len(server.chat_calls()) <= 80  # shared samples are judged once or, if both raced, twice
    for name in "ab":
        results = json.loads((tmp_path / f"{name}.o.json").read_text())
        assert len(results) == 40 and all(r["judge"] == "llm:gpt-4o-mini" for r in results)
    with sqlite3.connect(cache) as con:
        assert con.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 60
    calls = len(server.chat_calls())
    run(server, tmp_path, samples(60), name="all")  # everything either process judged is cached for both
    assert len(server.chat_calls()) == calls
