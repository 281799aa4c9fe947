"""run.py end to end with the offline judge: the output contract, and every kind of bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, TICKET, run_script, write_json


def test_offline_run_writes_results_rubric_and_summary(tmp_path, samples_file):
    out, rub = tmp_path / "results.json", tmp_path / "rubric.json"
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(rub), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "judge: offline" in proc.stderr and "OPENAI_API_KEY is not set" in proc.stderr
    results = json.loads(out.read_text())
    assert [r["id"] for r in results] == ["a", "b", "c"]
    for r in results:
        assert set(r) >= {"id", "scores", "overall", "rationale", "latency_ms", "tokens_used", "judge", "flags"}
        assert set(r["scores"]) == {"clarity", "accuracy", "tone"}
        assert all(isinstance(v, int) and 1 <= v <= 5 for v in r["scores"].values())
        expected = round(0.4 * r["scores"]["clarity"] + 0.4 * r["scores"]["accuracy"] + 0.2 * r["scores"]["tone"], 2)
        assert r["overall"] == expected
        assert r["judge"] == "offline" and r["tokens_used"] == 0
    good, leaky, empty = results
    assert good["overall"] > leaky["overall"]
    assert leaky["scores"]["tone"] < good["scores"]["tone"] and "PAY-4421" in leaky["rationale"]
    assert empty["scores"] == {"clarity": 1, "accuracy": 1, "tone": 1} and "empty_output" in empty["flags"]
    rubric = json.loads(rub.read_text())
    assert rubric["name"] == "release_notes"
    assert rubric["weights"] == {"clarity": 0.4, "accuracy": 0.4, "tone": 0.2}
    assert all(set(d["levels"]) == {"1", "2", "3", "4", "5"} for d in rubric["dimensions"])
    assert "length" in rubric["grading_prompt"] and len(rubric["anchors"]) >= 3
    dec = rubric["decoding"]
    assert dec["llm_used"] is False and dec["model"] == "gpt-4o-mini" and dec["temperature"] == 0
    assert dec["response_format"]["json_schema"]["strict"] is True and dec["max_completion_tokens"] == 350
    summary = json.loads((tmp_path / "results.summary.json").read_text())
    assert summary["n_samples"] == 3 and summary["flags"]["empty_output"] == 1
    assert summary["judged_by"] == {"offline": 3}


def test_summarization_spec_is_task_agnostic(tmp_path):
    samples = write_json(tmp_path / "s.json", [{"id": "x", "input_ticket": "The council approved a 12 million "
                         "dollar budget for the new library on Tuesday, after a vote of 7 to 2.",
                         "model_output": "The council approved a 12 million dollar library budget by 7 votes to 2."}])
    out, rub = tmp_path / "r.json", tmp_path / "rub.json"
    proc = run_script("run.py", "--samples", str(samples), "--rubric", str(rub), "--output", str(out),
                      "--rubric-spec", str(ROOT / "rubric" / "summarization.json"))
    assert proc.returncode == 0, proc.stderr
    [res] = json.loads(out.read_text())
    assert set(res["scores"]) == {"coherence", "consistency", "fluency", "relevance"}
    assert json.loads(rub.read_text())["weights"] == {k: 0.25 for k in res["scores"]}


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (extra CLI args, text the one-line error must contain)."""
    ok = {"id": "a", "input_ticket": TICKET, "model_output": "x"}
    def sf(name, obj):
        return write_json(tmp / f"{name}.json", obj)
    (tmp / "notjson.json").write_text("[{", encoding="utf-8")
    (tmp / "badutf8.json").write_bytes(b'[{"id": "a", "input_ticket": "\xff\xfe", "model_output": ""}]')
    (tmp / "badspec.json").write_text('{"name": "x", "task": "t", "dimensions": []}', encoding="utf-8")
    return {
        "missing file": (["--samples", str(tmp / "nope.json")], "not found"),
        "not json": (["--samples", str(tmp / "notjson.json")], "not valid JSON"),
        "not an array": (["--samples", str(sf("obj", {"id": "a"}))], "expected a JSON array"),
        "non-object entry": (["--samples", str(sf("nonobj", [ok, 3]))], "item 1"),
        "missing id": (["--samples", str(sf("noid", [{"input_ticket": "t", "model_output": "o"}]))], "missing field 'id'"),
        "non-string id": (["--samples", str(sf("intid", [{**ok, "id": 7}]))], "'id' must be a non-empty string"),
        "missing ticket": (["--samples", str(sf("noticket", [{"id": "a", "model_output": "o"}]))], "'input_ticket'"),
        "non-string output": (["--samples", str(sf("intout", [{**ok, "model_output": None}]))], "'model_output'"),
        "duplicate ids": (["--samples", str(sf("dup", [ok, ok]))], "duplicate id"),
        "invalid utf-8": (["--samples", str(tmp / "badutf8.json")], "not valid UTF-8"),
        "missing rubric spec": (["--rubric-spec", str(tmp / "nospec.json")], "rubric spec not found"),
        "invalid rubric spec": (["--rubric-spec", str(tmp / "badspec.json")], "'dimensions' must be a non-empty array"),
        "output dir missing": (["--output", str(tmp / "no" / "such" / "dir" / "r.json")], "does not exist"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs(Path("/tmp")).keys()))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, case):
    extra, must_contain = _bad_inputs(tmp_path)[case]
    good = write_json(tmp_path / "good.json", [{"id": "a", "input_ticket": TICKET, "model_output": "x"}])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = {"--samples": str(good), "--rubric": str(out_dir / "rubric.json"), "--output": str(out_dir / "results.json")}
    for flag, value in zip(extra[::2], extra[1::2]):
        args[flag] = value
    proc = run_script("run.py", *[x for kv in args.items() for x in kv])
    assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and must_contain in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert list(out_dir.iterdir()) == []  # nothing created, not even a temp file


def test_bad_sample_error_names_file_index_and_id(tmp_path):
    samples = write_json(tmp_path / "s.json", [{"id": "a", "input_ticket": "t", "model_output": "o"},
                                               {"id": "b", "input_ticket": 5, "model_output": "o"}])
    proc = run_script("run.py", "--samples", str(samples), "--rubric", str(tmp_path / "r.json"),
                      "--output", str(tmp_path / "o.json"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {samples}: item 1 (id 'b') 'input_ticket' must be a string, got int"


@pytest.mark.parametrize("n", [0, 1, 2, 20])
def test_any_sample_count(tmp_path, n):
    samples = write_json(tmp_path / "s.json", [{"id": f"s{i}", "input_ticket": TICKET, "model_output": f"Note {i}."}
                                               for i in range(n)])
    out = tmp_path / "o.json"
    proc = run_script("run.py", "--samples", str(samples), "--rubric", str(tmp_path / "r.json"), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in json.loads(out.read_text())] == [f"s{i}" for i in range(n)]


def test_llm_judge_without_key_is_bad_input(tmp_path, samples_file):
    proc = run_script("run.py", "--samples", str(samples_file), "--rubric", str(tmp_path / "r.json"),
                      "--output", str(tmp_path / "o.json"), "--judge", "llm")
    assert proc.returncode == 2 and "OPENAI_API_KEY" in proc.stderr
    assert not (tmp_path / "o.json").exists()
