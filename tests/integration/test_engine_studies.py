"""The studies' LLM paths against the real engine: generate.py produces completions from the real model, refusal.py
and winrate.py judge them with it. Outcomes only (who judged, calls, files), never quality."""
from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ROOT


def read(path):
    return json.loads(path.read_text())


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def generated(engine, tmp_path_factory, engine_report):
    """Two example tasks (one benign, one refusal-bait) completed by the real model, once for the module."""
    tmp = tmp_path_factory.mktemp("generate")
    tasks = jsonl(ROOT / "examples" / "refusal" / "tasks.jsonl")
    picked = [next(t for t in tasks if t["bucket"] == b) for b in ("benign", "refusal_bait")]
    (tmp / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in picked))
    args = ["--tasks", str(tmp / "tasks.jsonl"), "--output", str(tmp / "completions.jsonl"), "--model", engine.model,
            "--max-tokens", "48", "--temperature", "0.2", "--seed", "0", "--cache", str(tmp / "cache.sqlite"),
            "--price-per-mtok", "0,0", "--timeout", "600", "--concurrency", "2", "--quiet"]
    t0 = time.perf_counter()
    proc = engine.run("generate.py", *args)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    rows = jsonl(tmp / "completions.jsonl")
    manifest = read(tmp / "completions.jsonl.manifest.json")
    engine_report("generate.py", manifest["api"], [{"judge": f"llm:{engine.model}"}] * len(rows), elapsed)
    return {"tmp": tmp, "args": args, "rows": rows, "manifest": manifest, "tasks": picked}


def test_generate_writes_one_real_completion_per_task(generated, engine):
    rows, manifest = generated["rows"], generated["manifest"]
    assert [r["id"] for r in rows] == [t["id"] for t in generated["tasks"]]
    for r in rows:
        assert isinstance(r["completion"], str) and r["completion"].strip(), r
        assert r["model"] == engine.model and r["sample"] == 0
        assert r["finish_reason"] in ("stop", "length")
        assert ("truncated" in " ".join(r.get("flags", []))) == (r["finish_reason"] == "length")
    assert json.dumps(manifest).count("48") >= 1 and engine.url in json.dumps(manifest)


def test_generate_rerun_costs_nothing(generated, engine):
    before = generated["rows"]
    proc = engine.run("generate.py", *generated["args"])
    assert proc.returncode == 0, proc.stderr
    again = jsonl(generated["tmp"] / "completions.jsonl")
    assert [r["completion"] for r in again] == [r["completion"] for r in before]
    manifest = read(generated["tmp"] / "completions.jsonl.manifest.json")
    assert manifest["api"]["calls"] == 0 and manifest["api"]["cache_hits"] == len(before), manifest["api"]


def test_refusal_labels_every_real_completion_with_the_llm(generated, engine, tmp_path, engine_report):
    out = tmp_path / "refusal"
    t0 = time.perf_counter()
    proc = engine.run("refusal.py", "--completions", str(generated["tmp"] / "completions.jsonl"), "--output-dir",
                      str(out), "--bootstrap", "200", *engine.judge_args(tmp_path))
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    labels = jsonl(out / "labels.jsonl")
    summary = read(out / "summary.json")
    judge = f"llm:{engine.model}"
    assert len(labels) == len(generated["rows"])
    for r in labels:
        assert r["judge"] == judge and r["label"] in ("full_compliance", "full_refusal", "partial_refusal"), r
        assert not any(f.startswith("fallback") for f in r["flags"]), r
    assert summary["labelling"]["fallbacks"] == 0
    assert (out / "report.html").exists()
    engine_report("refusal.py --judge llm", summary.get("api") or summary["labelling"].get("api") or {}, labels,
                  elapsed)


def test_winrate_judges_a_pair_in_both_orders_with_the_llm(engine, tmp_path, engine_report):
    pair = jsonl(ROOT / "examples" / "winrate" / "pairs.jsonl")[0]
    (tmp_path / "pairs.jsonl").write_text(json.dumps(pair) + "\n")
    args = [a for a in engine.judge_args(tmp_path) if a != "--quiet"]
    t0 = time.perf_counter()
    proc = engine.run("winrate.py", "judge", "--pairs", str(tmp_path / "pairs.jsonl"), "--output-dir",
                      str(tmp_path / "wr"), "--bootstrap", "200", *args)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    (verdict,) = jsonl(tmp_path / "wr" / "verdicts.jsonl")
    summary = read(tmp_path / "wr" / "summary.json")
    assert verdict["judge"] == f"llm:{engine.model}" and not verdict["flags"], verdict
    assert len(verdict["orders"]) == 2 and verdict["outcome"] in ("candidate", "baseline", "tie")
    assert summary["api"]["calls"] >= 2 and summary["fallbacks"] == 0
    engine_report("winrate.py judge", summary["api"], [verdict], elapsed)
