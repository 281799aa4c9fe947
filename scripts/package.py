#!/usr/bin/env python3
"""Build the submission zip and validate it.

    python scripts/package.py [--out dist/submission.zip]

The zip holds run.py and README.md at its root with the code, rubrics, examples and requirements; caches, virtual
environments, tests' scratch files and any local data are left out. Validation: the size limit, the required files
at the root, no excluded matter inside, and a real run of the unpacked run.py on the example data with the offline
judge (each sample present in the results).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ["run.py", "calibrate.py", "generate.py", "refusal.py", "README.md", "requirements.txt", "Dockerfile", "grader", "calibration", "rubric", "examples"]
EXCLUDE_PARTS = {"__pycache__", ".pytest_cache", ".venv", ".cache", "out", "dist", ".git"}
EXCLUDE_SUFFIXES = {".pyc", ".pyo", ".sqlite", ".sqlite-wal", ".sqlite-shm", ".tmp"}
MAX_BYTES = 20 * 1024 * 1024
REQUIRED_AT_ROOT = {"run.py", "README.md"}


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
            zf.writestr(info, (ROOT / rel).read_bytes())
    os.replace(tmp, out)
    return out


def validate(zip_path: Path) -> list[str]:
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
        if problems:
            return problems
        with tempfile.TemporaryDirectory() as d:
            zf.extractall(d)
            env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
            proc = subprocess.run([sys.executable, "run.py", "--samples", "examples/samples.json",
                                   "--rubric", f"{d}/rubric.out.json", "--output", f"{d}/results.out.json"],
                                  cwd=d, capture_output=True, text=True, env=env, timeout=300)
            if proc.returncode != 0:
                problems.append(f"unpacked run.py exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
            else:
                n_in = len(json.loads(Path(d, "examples/samples.json").read_text()))
                n_out = len(json.loads(Path(d, "results.out.json").read_text()))
                if n_in != n_out:
                    problems.append(f"unpacked run graded {n_out} of {n_in} samples")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "dist" / "submission.zip"))
    args = p.parse_args()
    zip_path = build(Path(args.out))
    problems = validate(zip_path)
    if problems:
        for line in problems:
            print(f"package invalid: {line}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(zip_path) as zf:
        n = len(zf.namelist())
    print(f"{zip_path}: {n} files, {zip_path.stat().st_size / 1024:.0f} KiB, validated (unpacked run.py graded the "
          "examples offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
