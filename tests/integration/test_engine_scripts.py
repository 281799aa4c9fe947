"""Each script's LLM path end to end against the real engine: real generations, real HTTP, our negotiation.

Asserted: every item is judged by the LLM (no fallback), usage and latency are recorded, the negotiated response
format is stated in the summary and rubric.json, a re-run costs zero calls. Not asserted: whether the grades are good.
"""
from __future__ import annotations

import json
import time

import pytest

from grader.formats import MODES
from tests.conftest import ROOT, write_json


def read(path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def graded(engine, example_samples, tmp_path_factory, engine_report):
    """run.py --judge llm on a few example samples, once for the module (a CPU engine takes minutes)."""
    tmp = tmp_path_factory.mktemp("run")
    samples = write_json(tmp / "samples.json", example_samples)
    args = ["--samples", str(samples), "--rubric", str(tmp / "rubric.json"), "--output", str(tmp / "results.json"),
            *engine.judge_args(tmp)]
    t0 = time.perf_counter()
    proc = engine.run("run.py", *args)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    results, summary = read(tmp / "results.json"), read(tmp / "results.summary.json")
    engine_report("run.py", summary["api"], results, elapsed)
    return {"tmp": tmp, "args": args, "proc": proc, "results": results, "summary": summary,
            "rubric": read(tmp / "rubric.json")}


def test_run_grades_every_sample_with_the_llm(engine, graded, example_samples):
    results, summary = graded["results"], graded["summary"]
    judge = f"llm:{engine.model}"
    assert [r["id"] for r in results] == [s["id"] for s in example_samples]
    assert summary["judged_by"] == {judge: len(example_samples)} and summary["fallbacks"] == 0
    for r in results:
        assert r["judge"] == judge and not any(f.startswith("fallback") for f in r["flags"]), r
        assert r["latency_ms"] > 0 and r["tokens_used"] > 0
        assert r["rationale"].strip()
    api = summary["api"]
    assert api["calls"] >= len(example_samples) and api["prompt_tokens"] > 0 and api["completion_tokens"] > 0
    assert api["stopped"] is None


def test_run_states_the_negotiated_format(graded):
    negotiated = graded["summary"]["api"]["response_format"]
    assert negotiated["mode"] in MODES
    assert graded["rubric"]["decoding"]["response_format_negotiated"] == negotiated
    if negotiated["mode"] != negotiated["started_as"]:
        # the switch was made once, for the run, on the endpoint's own words, and said once on stderr
        assert len(negotiated["switches"]) == MODES.index(negotiated["mode"]) and negotiated["switches"][0]["why"]
        assert graded["proc"].stderr.count("note: the endpoint rejected response format") == len(negotiated["switches"])
        # a rejected mode is not retried: at most one doomed call per worker in flight, never six per sample
        assert graded["summary"]["api"]["retries"] == 0


def test_a_rerun_costs_zero_calls(engine, graded):
    proc = engine.run("run.py", *graded["args"])
    assert proc.returncode == 0, proc.stderr
    again = read(graded["tmp"] / "results.summary.json")
    assert again["api"]["calls"] == 0 and again["api"]["cache_hits"] == len(graded["results"])
    assert again["api"]["response_format"]["mode"] == graded["summary"]["api"]["response_format"]["mode"]
    assert [r["scores"] for r in read(graded["tmp"] / "results.json")] == [r["scores"] for r in graded["results"]]


def test_calibrate_probes_the_same_judge(engine, graded, example_samples, tmp_path, engine_report):
    ids = {s["id"] for s in example_samples}
    experts = [e for e in read(ROOT / "examples" / "expert_grades.json") if e["id"] in ids]
    out = tmp_path / "calibration"
    t0 = time.perf_counter()
    proc = engine.run("calibrate.py", "--samples", str(graded["tmp"] / "samples.json"),
                      "--experts", str(write_json(tmp_path / "experts.json", experts)),
                      "--results", str(graded["tmp"] / "results.json"), "--out-dir", str(out), "--probes",
                      "--n-boot", "500", *engine.judge_args(graded["tmp"]))
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    doc = read(out / "calibration.json")
    judge = f"llm:{engine.model}"
    assert doc["judge"] == judge and doc["probe_judge"] == judge
    graded_rewrites = fallbacks = 0
    for name, meta in doc["probe_meta"].items():
        # Every rewrite reaches the LLM. A 135M model sometimes rambles past the reply cap twice in a row; such a
        # rewrite falls back flagged invalid_judgment (the model's answer), never for a transport or format error.
        assert set(meta["fallback_reasons"]) <= {"invalid_judgment"}, (name, meta)
        assert sum(meta["fallback_reasons"].values()) == meta["fallbacks"], (name, meta)
        assert set(meta["judged_by"]) <= {judge, "offline"}, (name, meta)
        graded_rewrites += meta["judged_by"].get(judge, 0)
        fallbacks += meta["fallbacks"]
    assert graded_rewrites > 0 and fallbacks <= graded_rewrites // 4, (graded_rewrites, fallbacks)
    api = doc["api"]
    assert api["calls"] >= graded_rewrites and api["stopped"] is None
    assert api["response_format"]["mode"] == graded["summary"]["api"]["response_format"]["mode"]
    assert (out / "report.md").exists()
    rewrites = [{"judge": judge}] * graded_rewrites + [{"judge": "offline"}] * fallbacks
    engine_report("calibrate.py --probes", api, rewrites, elapsed)
