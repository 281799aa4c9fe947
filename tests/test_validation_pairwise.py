"""validation/pairwise.py on LLMBar and PandaLM when ../shared/datasets is present; skips cleanly otherwise."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_script

DATA = ROOT.parent / "shared" / "datasets"
if not (DATA / "llmbar").is_dir():
    DATA = ROOT.parent.parent / "shared" / "datasets"  # a git worktree one level deeper


@pytest.mark.skipif(not (DATA / "llmbar" / "Dataset").is_dir() or not (DATA / "pandalm").is_dir(),
                    reason="the shared datasets are not mounted")
def test_pairwise_validation_reproduces_the_stored_figures(tmp_path):
    out = tmp_path / "v.json"
    proc = run_script("validation/pairwise.py", "--data", str(DATA), "--out", str(out), "--n-boot", "300",
                      timeout=300)
    assert proc.returncode == 0, proc.stderr
    v = json.loads(out.read_text())
    natural = v["llmbar"][0]
    assert natural["set"] == "LLMBar Natural" and natural["n"] == 100
    assert natural["stored"]["GPT-4"] == {"accuracy": 0.935, "positional_agreement": 0.97}  # SOURCE.md's table
    assert all(r["positional_agreement"] == 1.0 for r in v["llmbar"])  # the offline judge ignores order
    panda = v["pandalm"]
    assert panda["n"] == 999
    # SOURCE.md: GPT-3.5-turbo 0.698 and PandaLM-7B 0.668 accuracy against the majority label
    assert panda["stored"]["GPT-3.5-turbo"]["accuracy_with_ties"] == pytest.approx(0.698, abs=0.0005)
    assert panda["stored"]["PandaLM-7B"]["accuracy_with_ties"] == pytest.approx(0.668, abs=0.0005)
    assert "| LLMBar MT-Bench |" in proc.stdout


def test_missing_data_is_skipped_with_exit_0(tmp_path):
    proc = run_script("validation/pairwise.py", "--data", str(tmp_path / "absent"))
    assert proc.returncode == 0 and proc.stdout.startswith("skipped:")


@pytest.mark.skipif(not (DATA / "llmbar" / "Dataset").is_dir() or not (DATA / "pandalm").is_dir(),
                    reason="the shared datasets are not mounted")
def test_the_llm_path_runs_on_the_real_sets_against_the_local_server(tmp_path):
    """Path readiness only: a fake judge that always prefers the first position is caught as position-biased."""
    from tests.fake_openai import Content, FakeOpenAI
    with FakeOpenAI() as server:
        server.responder = lambda body: Content(json.dumps({"rationale": "first is better", "verdict": "A>B"}))
        out = tmp_path / "v.json"
        proc = run_script("validation/pairwise.py", "--data", str(DATA), "--out", str(out), "--limit", "2",
                          "--n-boot", "100", "--judge", "llm", "--cache", str(tmp_path / "c.sqlite"),
                          env={"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.url})
        assert proc.returncode == 0, proc.stderr
        v = json.loads(out.read_text())
        n_items = sum(r["n"] for r in v["llmbar"]) + v["pandalm"]["n"]
        assert len(server.chat_calls()) == 2 * n_items and v["judge"] == "llm:gpt-4o-mini"
        assert all(r["first_position_rate"] == 1.0 and r["positional_agreement"] == 0.0 for r in v["llmbar"])
        assert all(r["fallbacks"] == 0 for r in v["llmbar"]) and v["pandalm"]["offline"]["tie_rate"] == 1.0
