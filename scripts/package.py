#!/usr/bin/env python3
"""Build the submission zip and validate it.

    python scripts/package.py [--out dist/submission.zip]

The zip holds run.py and a README.md written for the zip at its root, with the code, rubrics, examples and
requirements; the repository's README goes in as DOCUMENTATION.md (it describes make targets, tests and scripts that
stay in the repository). Caches, virtual environments, tests' scratch files and any local data are left out.
Validation: the size limit, the required files at the root, no excluded matter inside, and every command of the
zip's README run in an empty directory where the zip was unpacked (each must exit 0; run.py's results must hold
every sample).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ["run.py", "calibrate.py", "generate.py", "refusal.py", "winrate.py", "audit.py", "report.py", "README.md",
           "requirements.txt", "Dockerfile", "grader", "calibration", "rubric", "examples"]
EXCLUDE_PARTS = {"__pycache__", ".pytest_cache", ".venv", ".cache", "out", "dist", ".git"}
EXCLUDE_SUFFIXES = {".pyc", ".pyo", ".sqlite", ".sqlite-wal", ".sqlite-shm", ".tmp"}
MAX_BYTES = 20 * 1024 * 1024
REQUIRED_AT_ROOT = {"run.py", "README.md", "DOCUMENTATION.md"}

# The zip's README: only commands that work with what the zip contains (the packaging test runs each of them).
ZIP_README = """# Rubric grading harness (submission)

Grades free-form model outputs against a rubric with an LLM judge (when `OPENAI_API_KEY` is set) or a deterministic
offline judge, and measures how far the grades can be trusted against expert graders. `DOCUMENTATION.md` is the
full documentation (the repository's README); its `make` targets, `tests/`, `benchmarks/` and `validation/` live in
the repository and are not part of this zip.

## Set-up

Python 3.11 with the pinned dependencies:

```bash
python3 -m pip install -r requirements.txt
```

## Grade the examples

```bash
python3 run.py --samples examples/samples.json --rubric rubric.out.json --output results.json
```

`results.json` gets one entry per sample (scores per dimension, weighted overall, rationale, judge, flags);
`rubric.out.json` the rubric actually used; `results.summary.json` the run summary. Samples may be a JSON array,
JSON Lines or CSV. `python3 run.py --help` lists every option and the exit codes.

## Calibrate against the example grades

```bash
python3 calibrate.py --samples examples/samples.json --experts examples/expert_grades.json --results results.json --out-dir calibration
```

Writes `calibration/report.md`, `calibration/calibration.json` and plots. The example grades are illustrations
written for the project, not expert judgments. Rubric specs are in `rubric/`; see `DOCUMENTATION.md` for the
rubric format, the judges, the client's retries, budget and cache, and the limitations.
"""


def readme_commands(readme: str) -> list[list[str]]:
    """The commands in a README's ``bash`` blocks, as argument lists (pip installs excluded: no network here)."""
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line and " -m pip " not in f" {line} ":
                cmds.append(shlex.split(line))
    return cmds


def files_to_pack() -> list[Path]:
    out = []
    for name in INCLUDE:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in candidates:
            rel = p.relative_to(ROOT)
            if EXCLUDE_PARTS.intersection(rel.parts) or p.suffix in EXCLUDE_SUFFIXES or p.name.startswith("."):
                continue
            out.append(rel)
    return out


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in files_to_pack():
            info = zipfile.ZipInfo(str(rel), date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = (ROOT / rel).read_bytes()
            if str(rel) == "README.md":  # the repository's README describes files the zip does not hold
                info.filename = "DOCUMENTATION.md"
                zf.writestr(info, data)
                info = zipfile.ZipInfo("README.md", date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                data = ZIP_README.encode("utf-8")
            zf.writestr(info, data)
    os.replace(tmp, out)
    return out


def validate(zip_path: Path, run_commands: bool = True) -> list[str]:
    problems = []
    size = zip_path.stat().st_size
    if size > MAX_BYTES:
        problems.append(f"zip is {size} bytes, over the {MAX_BYTES} limit")
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        missing = REQUIRED_AT_ROOT - set(names)
        if missing:
            problems.append(f"missing at the root: {', '.join(sorted(missing))}")
        bad = [n for n in names if EXCLUDE_PARTS.intersection(Path(n).parts) or Path(n).suffix in EXCLUDE_SUFFIXES]
        if bad:
            problems.append(f"excluded matter inside: {bad[:5]}")
        if problems or not run_commands:
            return problems
        with tempfile.TemporaryDirectory() as d:
            zf.extractall(d)
            problems += run_readme_commands(Path(d))
    return problems


def run_readme_commands(unpacked: Path, timeout: float = 300) -> list[str]:
    """Run every command of the unpacked zip's README in that directory, as a user with no API key would."""
    problems = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    cmds = readme_commands((unpacked / "README.md").read_text(encoding="utf-8"))
    if not cmds:
        return ["the zip's README has no command to run"]
    for cmd in cmds:
        argv = [sys.executable, *cmd[1:]] if cmd[0] in ("python", "python3") else cmd
        proc = subprocess.run(argv, cwd=unpacked, capture_output=True, text=True, env=env, timeout=timeout)
        if proc.returncode != 0:
            problems.append(f"README command {' '.join(cmd)!r} exited {proc.returncode}: "
                            f"{proc.stderr.strip()[-300:]}")
            return problems
    if (unpacked / "results.json").exists():
        n_in = len(json.loads((unpacked / "examples" / "samples.json").read_text()))
        n_out = len(json.loads((unpacked / "results.json").read_text()))
        if n_in != n_out:
            problems.append(f"unpacked run graded {n_out} of {n_in} samples")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "dist" / "submission.zip"),
                   help="where to write the zip (default: dist/submission.zip)")
    args = p.parse_args()
    zip_path = build(Path(args.out))
    problems = validate(zip_path)
    if problems:
        for line in problems:
            print(f"package invalid: {line}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(zip_path) as zf:
        n = len(zf.namelist())
    print(f"{zip_path}: {n} files, {zip_path.stat().st_size / 1024:.0f} KiB, validated (every command of the zip's "
          "README ran in the unpacked zip, offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
