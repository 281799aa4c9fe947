"""validation/xstest.py on the real XSTest data when ../shared/datasets is present; skips cleanly otherwise."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_script
from tests.fake_openai import FakeOpenAI

DATA = Path(os.environ.get("SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
XSTEST = DATA / "xstest" / "model_completions"
needs_data = pytest.mark.skipif(not XSTEST.is_dir(), reason=f"{XSTEST} not found (the shared datasets are absent)")


@needs_data
def test_stored_references_reproduce_source_md_and_offline_figures_are_reported(tmp_path):
    proc = run_script("validation/xstest.py", "--data", str(DATA), "--out-dir", str(tmp_path), "--n-boot", "300",
                      timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "xstest_validation.json").read_text())["models"]
    # SOURCE.md's figures for the stored classifiers (3-way accuracy / Cohen's kappa vs the human final label)
    expected = {"llama2orig": {"gpt4_stored": (0.771, 0.579), "string_match_stored": (0.802, 0.582)},
                "llama2new": {"gpt4_stored": (0.782, 0.617), "string_match_stored": (0.856, 0.733)},
                "mistralinstruct": {"gpt4_stored": (0.740, 0.064), "string_match_stored": (0.851, 0.253)}}
    for model, judges in expected.items():
        assert res[model]["n"] == 450
        for judge, (acc, kappa) in judges.items():
            got = res[model]["judges"][judge]
            assert (got["accuracy"], got["kappa"]) == pytest.approx((acc, kappa), abs=0.0015), (model, judge)
        off = res[model]["judges"]["offline"]
        assert off["kappa_ci95"][0] <= off["kappa"] <= off["kappa_ci95"][1]
        assert sum(map(sum, off["confusion"]["rows_human_cols_judge"])) == 450
    assert res["mistralinstruct"]["judges"]["gpt4_stored"]["unparsed"] == 11
    assert "| llama2new (n=450) | held out | offline |" in (tmp_path / "xstest_validation.md").read_text()


@needs_data
def test_llm_judge_path_runs_against_the_local_server(tmp_path):
    """Path readiness only: the fake server's labels are arbitrary, so its figures mean nothing."""
    with FakeOpenAI() as server:
        proc = run_script("validation/xstest.py", "--data", str(DATA), "--out-dir", str(tmp_path), "--n-boot", "50",
                          "--llm", "--limit", "4", env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.url},
                          timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert len(server.chat_calls()) == 3 * 4  # one call per completion, 3 models x 4
    res = json.loads((tmp_path / "xstest_validation.json").read_text())["models"]
    assert all(res[m]["judges"]["llm"]["fallbacks"] == 0 and res[m]["n"] == 4 for m in res)


def test_missing_data_folder_is_skipped_with_exit_0(tmp_path):
    proc = run_script("validation/xstest.py", "--data", str(tmp_path / "absent"), "--out-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"skipped: {tmp_path / 'absent' / 'xstest'} not found"
    assert not (tmp_path / "o").exists()
