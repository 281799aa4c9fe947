"""audit.py end to end on the committed example and on damaged copies of it: outputs, reported problems, exit 2."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import audit as audit_script
from grader.cli import run_main
from tests.conftest import ROOT, run_script

EXAMPLE = ROOT / "examples" / "audit"
KEYS = {"metric", "n_items", "models", "delta", "ci", "p_value", "p_method", "p_holm", "max_drop_verdict",
        "excluded_items", "mitigations"}


ARGS = ("--base", "base", "--candidate", "finetune", "--bootstrap", "2000")


def audit(runs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """audit.py in this process (as the script runs it: run_main's exit codes, stderr captured)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        run_main(lambda: audit_script.main(["--runs", str(runs), "--output-dir", str(out), *ARGS, *extra]))
    return subprocess.CompletedProcess([], e.value.code, "", err.getvalue())


@pytest.fixture(scope="module")
def example_out(tmp_path_factory) -> Path:
    """The committed example, run as a user runs it (a separate process)."""
    out = tmp_path_factory.mktemp("audit") / "out"
    r = run_script("audit.py", "--runs", str(EXAMPLE / "runs.csv"), "--output-dir", str(out), *ARGS,
                   "--mitigation", "replay")
    assert r.returncode == 0, r.stderr
    assert "largest regression: gsm8k" in r.stderr
    return out


def strict_scores(model: str, seed: int) -> np.ndarray:
    f = next((EXAMPLE / "lm_eval" / model / f"seed{seed}").glob("samples_gsm8k_*.jsonl"))
    rows = [json.loads(line) for line in f.read_text().splitlines()]
    rows = sorted(rows, key=lambda r: r["doc_id"])
    return np.array([r["exact_match"] for r in rows if r["filter"] == "strict-match"])


def test_example_end_to_end(example_out: Path):
    rec = json.loads((example_out / "audit.json").read_text())
    assert set(rec["tasks"]) == {"mmlu", "gsm8k", "ifeval", "house_if"}
    for e in rec["tasks"].values():
        assert set(e) == KEYS and set(e["models"]) == {"base", "finetune", "replay"}
        assert set(e["mitigations"]["replay"]) >= {"gap_closed", "ci"}
    g = rec["tasks"]["gsm8k"]
    # figures recomputed here from the raw sample logs (strict-match rows)
    base = np.vstack([strict_scores("base", s) for s in (0, 1, 2)])
    cand = np.vstack([strict_scores("finetune", s) for s in (0, 1, 2)])
    assert g["metric"] == "exact_match,strict-match" and g["n_items"] == 50
    assert g["models"]["base"]["mean"] == pytest.approx(100 * base.mean())
    assert g["models"]["base"]["seed_sd"] == pytest.approx(100 * base.mean(axis=1).std(ddof=1))
    assert g["delta"] == pytest.approx(100 * (cand.mean() - base.mean()))
    assert g["models"]["replay"]["n_seeds"] == 2
    # the planted regression is found and breaks the rule
    lr = rec["largest_regression"]
    assert lr["task"] == "gsm8k" and lr["delta"] == g["delta"] and lr["p_largest"] > 0.5
    assert g["max_drop_verdict"] == "exceeds" and g["p_holm"] < 0.05 and g["ci"][1] < -2
    assert g["mitigations"]["replay"]["gap_closed"] > 0.3
    ps = sorted(e["p_value"] for e in rec["tasks"].values())
    assert max(e["p_holm"] for e in rec["tasks"].values()) >= ps[-1]
    assert rec["method"]["seed"] == 0 and rec["method"]["bootstrap"] == 2000
    assert len(rec["inputs"]["runs_read"]) == 8 and rec["skipped_tasks"] == [] and rec["flags"] == []
    memo = (example_out / "memo.md").read_text()
    assert "broken** on gsm8k" in memo and "Does replay close the gap?" in memo
    assert (example_out / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_example_regenerates_identically(tmp_path: Path):
    r = run_script("scripts/make_audit_example.py", "--out", str(tmp_path / "ex"))
    assert r.returncode == 0, r.stderr
    made = sorted(p.relative_to(tmp_path / "ex") for p in (tmp_path / "ex").rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*") if p.is_file())
    assert all((tmp_path / "ex" / p).read_bytes() == (EXAMPLE / p).read_bytes() for p in made)


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "ex")
    return tmp_path / "ex"


def test_mismatched_documents_are_left_out_and_reported(example_copy: Path, tmp_path: Path):
    f = next((example_copy / "lm_eval" / "finetune" / "seed1").glob("samples_gsm8k_*.jsonl"))
    rows = [json.loads(x) for x in f.read_text().splitlines()]
    for r in rows:
        if r["doc_id"] in (3, 7, 9):
            r["doc_hash"] = "0" * 64  # a different document under the same doc_id
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = audit(example_copy / "runs.csv", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "task gsm8k: 3 documents with a different doc_hash" in r.stderr
    g = json.loads((tmp_path / "out" / "audit.json").read_text())["tasks"]["gsm8k"]
    assert g["n_items"] == 47 and g["excluded_items"]["doc_hash_mismatch"] == 3
    assert set(g["excluded_items"]["examples"]) == {"3", "7", "9"}
    assert "3 questions differed between runs" in (tmp_path / "out" / "memo.md").read_text()


def test_task_missing_from_one_run_is_reported(example_copy: Path, tmp_path: Path):
    run_dir = example_copy / "lm_eval" / "finetune" / "seed2"
    next(run_dir.glob("samples_ifeval_*.jsonl")).unlink()
    r = audit(example_copy / "runs.csv", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "task ifeval not compared: no per-item scores in finetune seed 2 (no samples_<task>" in r.stderr
    rec = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert "ifeval" not in rec["tasks"] and rec["skipped_tasks"][0]["task"] == "ifeval"
    assert "--log_samples" in rec["skipped_tasks"][0]["reason"]
    assert "Not compared: ifeval" in (tmp_path / "out" / "memo.md").read_text()


def test_mitigation_missing_a_task_is_reported(example_copy: Path, tmp_path: Path):
    runs = example_copy / "runs.csv"
    runs.write_text("\n".join(x for x in runs.read_text().splitlines() if x != "replay,1,house_if/replay_seed1.csv"))
    r = audit(runs, tmp_path / "out", "--mitigation", "replay")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "out" / "audit.json").read_text())["tasks"]["house_if"]["mitigations"]["replay"]
    assert m["gap_closed"] is None and m["note"] == "missing from replay seed 1"
    assert "task house_if: replay not compared (missing from replay seed 1)" in r.stderr


@pytest.mark.parametrize("extra, message", [
    (["--mitigation", "merged"], "no runs for model 'merged' (models in the file: base, finetune, replay)"),
    (["--mitigation", "base"], "each model may appear once"),
    (["--max-drop", "0"], "--max-drop: must be positive"),
])
def test_bad_arguments_exit_2(tmp_path: Path, extra, message):
    r = audit(EXAMPLE / "runs.csv", tmp_path / "out", *extra)
    assert r.returncode == 2 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_bad_inputs_exit_2_and_write_nothing(tmp_path: Path, example_copy: Path):
    runs = tmp_path / "runs.csv"
    runs.write_text("model,seed,path\nbase,0,nowhere\nfinetune,0,nowhere2\n")
    r = audit(runs, tmp_path / "out")
    assert r.returncode == 2 and "runs.csv: item 0 (id 'base seed 0') path 'nowhere' not found" in r.stderr
    runs.write_text("model,seed,path\n")
    assert "no runs" in audit(runs, tmp_path / "out").stderr
    # no task shared by base and candidate
    (tmp_path / "a.csv").write_text("task,item_id,score\nx,1,1\n")
    (tmp_path / "b.csv").write_text("task,item_id,score\ny,1,1\n")
    runs.write_text("model,seed,path\nbase,0,a.csv\nfinetune,0,b.csv\n")
    r = audit(runs, tmp_path / "out")
    assert r.returncode == 2 and "no task can be compared (x: missing from finetune seed 0" in r.stderr
    # an output that would overwrite an input
    (tmp_path / "memo.md").write_text("task,item_id,score\nx,1,1\n")
    runs.write_text("model,seed,path\nbase,0,memo.md\nfinetune,0,a.csv\n")
    r = audit(runs, tmp_path)
    assert r.returncode == 2 and "would overwrite an input file" in r.stderr
    assert not (tmp_path / "audit.json").exists()


def test_one_seed_one_item(tmp_path: Path):
    (tmp_path / "a.csv").write_text("task,item_id,score\nx,1,1\n")
    (tmp_path / "b.csv").write_text("task,item_id,score\nx,1,0\n")
    (tmp_path / "runs.csv").write_text("model,seed,path\nbase,0,a.csv\nfinetune,0,b.csv\n")
    r = audit(tmp_path / "runs.csv", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    x = json.loads((tmp_path / "out" / "audit.json").read_text())["tasks"]["x"]
    assert x["delta"] == -100.0 and x["ci"] == [-100.0, -100.0] and x["p_value"] == 1.0
    assert x["models"]["base"]["seed_sd"] is None and x["max_drop_verdict"] == "exceeds"


def test_sample_log_disagreeing_with_its_results_file_is_flagged(example_copy: Path, tmp_path: Path):
    f = next((example_copy / "lm_eval" / "base" / "seed1").glob("results_*.json"))
    data = json.loads(f.read_text())
    data["results"]["gsm8k"]["exact_match,strict-match"] = 0.99
    f.write_text(json.dumps(data))
    r = audit(example_copy / "runs.csv", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "aggregate mismatch: base seed 1, gsm8k: per-item mean" in r.stderr
    assert "reports exact_match,strict-match = 0.9900" in r.stderr


def test_corpus_level_metric_is_reported_for_every_run(tmp_path: Path):
    lines = ["model,seed,path"]
    for model in ("base", "finetune"):
        for seed in (0, 1):
            d = tmp_path / model / str(seed)
            d.mkdir(parents=True)
            (d / "samples_wmt_2026-01-01T00-00-00.0.jsonl").write_text(
                json.dumps({"doc_id": 0, "filter": "none", "doc_hash": "h", "bleu": [["a"], ["b"]]}) + "\n")
            (d / "results_2026-01-01T00-00-00.0.json").write_text(json.dumps({"results": {"wmt": {"bleu,none": 9.0}}}))
            (d / "items.csv").write_text("task,item_id,score\nkept,1,1\nkept,2,0\n")
            lines += [f"{model},{seed},{model}/{seed}", f"{model},{seed},{model}/{seed}/items.csv"]
    (tmp_path / "runs.csv").write_text("\n".join(lines) + "\n")
    r = audit(tmp_path / "runs.csv", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    skipped = json.loads((tmp_path / "out" / "audit.json").read_text())["skipped_tasks"]
    assert skipped == [{"task": "wmt", "reason": "no per-item scores in base seed 0, base seed 1, finetune seed 0, "
                        "finetune seed 1 (no per-item metric in [0, 1] (bleu,none: not a per-item metric (its "
                        "sample values are aggregated at the corpus level)))"}]
