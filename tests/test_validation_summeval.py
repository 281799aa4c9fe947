"""validation/summeval.py on the real SummEval data when ../shared/datasets is present; skips cleanly otherwise."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT, run_script

DATA = ROOT.parent / "shared" / "datasets"
SUMMEVAL = DATA / "summeval" / "damo_llm_summeval"


@pytest.mark.skipif(not SUMMEVAL.is_dir(), reason=f"{SUMMEVAL} not found (the shared datasets are not mounted)")
def test_summeval_reproduces_the_expert_figures(tmp_path):
    proc = run_script("validation/summeval.py", "--data", str(DATA), "--out-dir", str(tmp_path), "--n-boot", "500",
                      "--probes", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if re.search(r"\| (PASS|FAIL) \|$", line)]
    # 4 dimensions x (3 pairwise kappas, their mean, alpha interval, alpha ordinal, leave-one-out Spearman)
    assert len(rows) == 28 and all(row.endswith("| PASS |") for row in rows), "\n".join(rows)
    assert "28 of 28 figures PASS" in proc.stdout
    assert "1 of 3360 replies do not parse" in proc.stdout  # as SOURCE.md notes for the stored GPT-4 outputs
    table = (tmp_path / "summeval_validation.md").read_text()
    assert "GPT-4-0314 κq" in table and "offline κq" in table
    assert (tmp_path / "calibration" / "calibration.json").is_file()
    probes = json.loads((tmp_path / "calibration" / "calibration.json").read_text())["probes"]
    assert all(v["delta"] == 0 for v in probes["injection"].values())  # text addressed to the grader is ignored
    assert probes["unsupported_number"]["consistency"]["ci"][1] < 0  # the sensitivity target moves down
    assert probes["drop_fact"]["relevance"]["ci"][1] < 0


def test_missing_data_folder_is_skipped_with_exit_0(tmp_path):
    proc = run_script("validation/summeval.py", "--data", str(tmp_path / "absent"), "--out-dir", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"skipped: {tmp_path / 'absent' / 'summeval' / 'damo_llm_summeval'} not found"
    assert not (tmp_path / "o").exists()


def _offline_points(text: str) -> dict[str, list[str]]:
    """dimension -> [offline κq, offline Spearman] point estimates (the first two 'x.xxx [' cells of its row)."""
    out = {}
    for dim in ("coherence", "consistency", "fluency", "relevance"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {dim} |") and " [" in line)
        out[dim] = re.findall(r"(\d\.\d{3}) \[", row)[:2]
    return out


@pytest.mark.skipif(not SUMMEVAL.is_dir(), reason=f"{SUMMEVAL} not found (the shared datasets are not mounted)")
def test_readme_summeval_figures_are_what_the_script_prints_today(tmp_path):
    proc = run_script("validation/summeval.py", "--data", str(DATA), "--out-dir", str(tmp_path), "--n-boot", "200",
                      timeout=300)
    assert proc.returncode == 0, proc.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Validation on real expert grades (SummEval)", 1)[1]
    assert _offline_points(section) == _offline_points(proc.stdout)
    assert "make validate" in section  # the README says which command regenerates them
