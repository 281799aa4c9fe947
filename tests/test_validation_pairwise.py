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
