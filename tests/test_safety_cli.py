"""Command-line safety: outputs never overwrite inputs, numeric options are checked up front (one line, exit 2),
small inputs never crash, users' file formats and field names are accepted, output files respect the umask."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import calibrate
import run
from grader.cli import run_main
from grader.io import refuse_overwrite
from grader.types import InputError
from tests.conftest import GOOD_NOTE, ROOT, TICKET, write_json

SPEC = ROOT / "rubric" / "release_notes.json"


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_script(capsys, monkeypatch):
    """run.py / calibrate.py in this process (the suite's machine is slow to start Python): same exit path."""
    for k in [k for k in os.environ if k.startswith("OPENAI_")]:
        monkeypatch.delenv(k)

    def go(script: str, *args: str) -> Proc:
        mod = {"run.py": run, "calibrate.py": calibrate}[script]
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", [script])
        with pytest.raises(SystemExit) as e:
            run_main(lambda: mod.main(list(args)))
        out = capsys.readouterr()
        return Proc(e.value.code, out.out, out.err)
    return go


def _one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, lines
    assert "usage:" not in proc.stderr
    return lines[0]


# ---- outputs never overwrite inputs ----------------------------------------------------------------------------

def test_output_equal_to_samples_is_refused_and_samples_are_untouched(run_script, tmp_path, samples_file):
    before = samples_file.read_bytes()
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(tmp_path / "r.json"),
                      "--output", str(tmp_path / "." / "samples.json"))
    line = _one_error_line(proc)
    assert "--output" in line and "--samples" in line and "same file" in line
    assert samples_file.read_bytes() == before and not (tmp_path / "r.json").exists()


def test_rubric_output_equal_to_the_spec_in_use_is_refused(run_script, tmp_path, samples_file):
    spec = tmp_path / "spec.json"
    shutil.copy(SPEC, spec)
    link = tmp_path / "link.json"
    link.symlink_to(spec)  # the same file under another name
    before = spec.read_bytes()
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(link), "--output",
                      str(tmp_path / "o.json"), "--rubric-spec", str(spec))
    line = _one_error_line(proc)
    assert "--rubric" in line and "--rubric-spec" in line and str(spec) in line and str(link) in line
    assert spec.read_bytes() == before and not (tmp_path / "o.json").exists()


def test_two_outputs_on_one_file_are_refused(run_script, tmp_path, samples_file):
    out = tmp_path / "o.json"
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(tmp_path / "r.json"),
                      "--output", str(out), "--summary", str(out))
    line = _one_error_line(proc)
    assert "--summary" in line and "--output" in line
    assert not out.exists()


def test_calibrate_refuses_to_write_its_results_over_the_samples(run_script, tmp_path):
    d = tmp_path / "cal"
    d.mkdir()
    samples = write_json(d / "results.json", json.loads((ROOT / "examples" / "samples.json").read_text())[:4])
    before = samples.read_bytes()
    proc = run_script("calibrate.py", "--samples", str(samples), "--out-dir", str(d), "--n-boot", "50")
    line = _one_error_line(proc)
    assert "results.json" in line and "--samples" in line
    assert samples.read_bytes() == before and sorted(p.name for p in d.iterdir()) == ["results.json"]


def test_refuse_overwrite_resolves_relative_paths_symlinks_and_hard_links(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    src = tmp_path / "in.json"
    src.write_text("[]")
    os.link(src, tmp_path / "hard.json")
    (tmp_path / "sym.json").symlink_to(src)
    for out in ("in.json", "sub/../in.json", str(src), "hard.json", "sym.json"):
        with pytest.raises(InputError) as e:
            refuse_overwrite({"--output": out}, {"--samples": str(src)})
        assert "--output" in str(e.value) and "--samples" in str(e.value)
    with pytest.raises(InputError):  # two outputs, neither existing yet
        refuse_overwrite({"--output": "new.json", "--summary": "sub/../new.json"}, {"--samples": "in.json"})
    refuse_overwrite({"--output": "new.json", "--summary": None}, {"--samples": "in.json", "--experts": None})


# ---- numeric options: checked before anything runs, one line --------------------------------------------------

@pytest.mark.parametrize("opt,value,text", [
    ("--budget-usd", "nan", "finite"), ("--budget-usd", "inf", "finite"), ("--budget-usd", "-1", "0 or more"),
    ("--timeout", "0", "greater than 0"), ("--timeout", "nan", "finite"), ("--concurrency", "0", "at least 1"),
    ("--poll-interval", "-5", "greater than 0"), ("--max-completion-tokens", "x", "whole number"),
])
def test_bad_numeric_options_exit_2_with_one_line(run_script, tmp_path, samples_file, opt, value, text):
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(tmp_path / "r.json"),
                      "--output", str(tmp_path / "o.json"), opt, value)
    line = _one_error_line(proc)
    assert opt in line and text in line
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "r.json").exists()


def test_help_lists_exit_codes_and_every_option_has_a_default(run_script):
    for script in ("run.py", "calibrate.py"):
        proc = run_script(script, "--help")
        assert proc.returncode == 0
        assert "Exit codes:" in proc.stdout and "  2  bad input" in proc.stdout
        assert "issue" not in proc.stdout.lower()
    assert "  3  --judge llm" in run_script("run.py", "--help").stdout


def _parsers() -> dict[str, "argparse.ArgumentParser"]:
    """Every script's parser, captured at parse_args (no script runs)."""
    import argparse
    import importlib.util
    found = {}
    for rel in ("run.py", "calibrate.py", "scripts/package.py", "benchmarks/throughput.py", "validation/summeval.py"):
        spec = importlib.util.spec_from_file_location(f"_script_{Path(rel).stem}", ROOT / rel)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        orig = argparse.ArgumentParser.parse_args

        def capture(self, *a, _rel=rel, **k):
            found[_rel] = self
            raise SystemExit(0)
        argparse.ArgumentParser.parse_args = capture
        try:
            with pytest.raises(SystemExit):
                (getattr(mod, "parse_args", None) or mod.main)(*([[]] if hasattr(mod, "parse_args") else []))
        finally:
            argparse.ArgumentParser.parse_args = orig
    return found


def test_every_option_of_every_script_has_help_with_its_default():
    parsers = _parsers()
    assert len(parsers) == 5
    for rel, p in parsers.items():
        for a in p._actions:
            if a.dest == "help":
                continue
            h = a.help or ""
            assert h, (rel, a.option_strings)
            assert "default" in h or "required" in h or a.required, (rel, a.option_strings, h)
            assert "issue" not in h.lower()
        assert not re.search(r"issue\s*#?\d", p.format_help(), re.IGNORECASE), rel  # no issue numbers anywhere


# ---- small inputs ------------------------------------------------------------------------------------------------

def _examples(n: int) -> tuple[list, list]:
    samples = json.loads((ROOT / "examples" / "samples.json").read_text())[:n]
    ids = {s["id"] for s in samples}
    experts = [g for g in json.loads((ROOT / "examples" / "expert_grades.json").read_text()) if g["id"] in ids]
    return samples, experts


@pytest.mark.parametrize("n", [0, 1, 2])
def test_calibrate_on_0_1_2_items_says_what_it_needs(run_script, tmp_path, n):
    samples, experts = _examples(n)
    s, e = write_json(tmp_path / "s.json", samples), write_json(tmp_path / "e.json", experts)
    for args in (["--experts", str(e)], ["--probes"]):
        proc = run_script("calibrate.py", "--samples", str(s), "--out-dir", str(tmp_path / "d"), "--n-boot", "50",
                          *args)
        line = _one_error_line(proc)
        assert "calibration needs at least 3" in line and f"(got {n})" in line
        assert not (tmp_path / "d").exists()


def test_calibrate_probes_on_a_sample_with_undefined_intervals_does_not_crash(run_script, tmp_path):
    # Sample 1 ("the formality probe does not apply") left a probe row with no interval: the plot crashed.
    samples = json.loads((ROOT / "examples" / "samples.json").read_text())
    s = write_json(tmp_path / "s.json", [samples[1], samples[2], samples[5]])
    proc = run_script("calibrate.py", "--samples", str(s), "--out-dir", str(tmp_path / "d"), "--probes",
                      "--n-boot", "50", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "d" / "probe_deltas.png").read_bytes()[:4] == b"\x89PNG"


def test_probe_plot_with_no_interval_at_all():
    from calibration.report import probes_png
    doc = {"rubric": {"keys": ["a"]}, "probes": {"formality": {"a": {"delta": None, "ci": [None, None]},
                                                               "overall": {"delta": None, "ci": [None, None]}}},
           "probe_meta": {"formality": {"kind": "invariance"}}}
    assert probes_png(doc)[:4] == b"\x89PNG"


# ---- formats users have, and the spec's own field names -----------------------------------------------------------

ROWS = [{"id": "a", "input_ticket": TICKET, "model_output": GOOD_NOTE},
        {"id": "b", "input_ticket": TICKET, "model_output": "Fixed refunds (PAY-4421). TODO: confirm version."}]


def _graded(run_script, tmp_path, samples: Path, *extra) -> list[dict]:
    out = tmp_path / f"{samples.name}.out.json"
    proc = run_script("run.py", "--samples", str(samples), "--rubric", str(tmp_path / "r.json"), "--output",
                      str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def test_jsonl_and_csv_samples_grade_like_the_json_array(run_script, tmp_path):
    ref = _graded(run_script, tmp_path, write_json(tmp_path / "s.json", ROWS))
    jl = tmp_path / "s.jsonl"
    jl.write_text("\ufeff" + "\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    cf = tmp_path / "s.csv"
    with cf.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "input_ticket", "model_output"])
        w.writeheader()
        w.writerows(ROWS)
    noext = tmp_path / "samples_data"
    noext.write_text("\n".join(json.dumps(r) for r in ROWS), encoding="utf-8")
    for path in (jl, cf, noext):
        got = _graded(run_script, tmp_path, path)
        assert [(r["id"], r["scores"]) for r in got] == [(r["id"], r["scores"]) for r in ref], path


def test_spec_fields_and_command_line_overrides(run_script, tmp_path):
    spec = json.loads((ROOT / "rubric" / "summarization.json").read_text())
    rows = [{"id": "x", "source": "The council approved a 12 million dollar budget for the new library on Tuesday.",
             "summary": "The council approved a 12 million dollar library budget."}]
    s = write_json(tmp_path / "news.json", rows)
    [r] = _graded(run_script, tmp_path, s, "--rubric-spec", str(ROOT / "rubric" / "summarization.json"))
    assert set(r["scores"]) == {"coherence", "consistency", "fluency", "relevance"}
    assert "source" in json.dumps(spec["fields"]["input"]) and "summary" in json.dumps(spec["fields"]["output"])
    other = write_json(tmp_path / "other.json", [{"id": "x", "article": rows[0]["source"], "text": rows[0]["summary"]}])
    [r2] = _graded(run_script, tmp_path, other, "--rubric-spec", str(ROOT / "rubric" / "summarization.json"),
                   "--input-field", "article", "--output-field", "text")
    assert r2["scores"] == r["scores"]
    proc = run_script("run.py", "--samples", str(other), "--rubric", str(tmp_path / "r.json"), "--output",
                      str(tmp_path / "o.json"))
    line = _one_error_line(proc)
    assert "'input_ticket'" in line and "--input-field" in line and "article" in line


def test_a_file_in_no_known_format_names_the_formats(run_script, tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text('{"id": "a"}\n{"id": "b"}\n', encoding="utf-8")
    proc = run_script("run.py", "--samples", str(bad), "--rubric", str(tmp_path / "r.json"), "--output",
                      str(tmp_path / "o.json"))
    line = _one_error_line(proc)
    assert "JSON Lines" in line and "CSV" in line


# ---- small things a user notices ---------------------------------------------------------------------------------

def test_outputs_respect_the_umask_and_the_summary_line_says_where_the_summary_is(run_script, tmp_path, samples_file):
    out = tmp_path / "o.json"
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(tmp_path / "r.json"), "--output",
                      str(out))
    assert proc.returncode == 0, proc.stderr
    mask = os.umask(0o022)
    os.umask(mask)
    for p in (out, tmp_path / "r.json", tmp_path / "o.summary.json"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask, p
    assert f"summary -> {tmp_path / 'o.summary.json'}" in proc.stderr
    summary = json.loads((tmp_path / "o.summary.json").read_text())
    assert summary["api"]["calls"] == 0 and summary["api"]["spent_usd"] == 0.0


def test_run_without_dependencies_says_how_to_install(tmp_path):
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "tenacity.py").write_text("raise ModuleNotFoundError(\"No module named 'tenacity'\", name='tenacity')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(stub)
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "--help"], capture_output=True, text=True, env=env,
                          timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "pip install -r requirements.txt" in lines[0] and "tenacity" in lines[0]
