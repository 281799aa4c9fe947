"""Expert grades in the shapes people have them: nested {"id", "scores"} rows, flat rows, or an object keyed by id
(with or without rater and overall). The same grades in any shape give the same calibration, figure for figure."""
from __future__ import annotations

import json
import sys

import pytest

from grader.io import expert_shapes, load_expert_grades
from grader.types import InputError
from tests.conftest import ROOT, run_script, write_json

sys.path.insert(0, str(ROOT))
import calibrate  # noqa: E402  (the scripts, driven in-process for speed)
import run  # noqa: E402

SAMPLES = ROOT / "examples" / "samples.json"
EXPERTS = ROOT / "examples" / "expert_grades.json"
KEYS = ["clarity", "accuracy", "tone"]


def nested_rows() -> list[dict]:
    return json.loads(EXPERTS.read_text())  # [{"id", "rater", "scores", "overall"}]


def flat_rows(with_rater=True) -> list[dict]:
    return [{"id": g["id"], **({"rater": g["rater"]} if with_rater else {}), **g["scores"]} for g in nested_rows()]


def keyed_by_id() -> dict:
    out: dict[str, list] = {}
    for g in nested_rows():
        out.setdefault(g["id"], []).append({"rater": g["rater"], **g["scores"]})
    return out


def load(path):
    return load_expert_grades(path, KEYS, (1, 5))


def test_every_shape_loads_to_the_same_rows(tmp_path):
    ref = load(EXPERTS)
    assert len(ref) == 2 * len(json.loads(SAMPLES.read_text())) and {r["rater"] for r in ref} == {"A", "B"}
    no_overall = [{k: v for k, v in g.items() if k != "overall"} for g in nested_rows()]
    variants = {
        "nested, no overall": no_overall,
        "flat with rater": flat_rows(),
        "flat with rater and overall": [{**f, "overall": g["overall"]} for f, g in zip(flat_rows(), nested_rows())],
        "keyed by id, a list per rater": keyed_by_id(),
        "keyed by id, nested scores": {i: [{"rater": e["rater"], "scores": {k: e[k] for k in KEYS}} for e in v]
                                       for i, v in keyed_by_id().items()},
    }
    for name, data in variants.items():
        assert load(write_json(tmp_path / "e.json", data)) == ref, name


def test_one_rater_without_a_rater_field_in_every_shape(tmp_path):
    a = [g for g in nested_rows() if g["rater"] == "A"]
    shapes = {
        "nested": [{"id": g["id"], "scores": g["scores"]} for g in a],
        "flat": [{"id": g["id"], **g["scores"]} for g in a],
        "keyed": {g["id"]: g["scores"] for g in a},
        "keyed, nested scores": {g["id"]: {"scores": g["scores"], "overall": g["overall"]} for g in a},
    }
    loaded = {name: load(write_json(tmp_path / f"{i}.json", d)) for i, (name, d) in enumerate(shapes.items())}
    first = loaded["nested"]
    assert [r["rater"] for r in first] == ["expert"] * len(a)
    assert [r["scores"] for r in first] == [{k: float(v) for k, v in g["scores"].items()} for g in a]
    assert all(rows == first for rows in loaded.values())


@pytest.mark.parametrize("data, needle", [
    ("grades", "got a JSON str"),
    ([4, 5, 3], "entry is a int, not an object"),
    ([{"clarity": 4, "accuracy": 5, "tone": 3}], "'id' must be a non-empty string"),
    ([{"id": "rn-01", "clarity": 4, "accuracy": 5}], "the entry has no score for 'tone'"),
    ([{"id": "rn-01", "scores": {"clarity": 4, "tone": 3}}], "'scores' has no score for 'accuracy'"),
    ([{"id": "rn-01", "scores": [4, 5, 3]}], "'scores' must be an object, got list"),
    ({"rn-01": 4}, "grades for id 'rn-01' are a int"),
    ({"rn-01": {"id": "rn-02", "clarity": 4, "accuracy": 5, "tone": 3}}, "key 'rn-01' holds grades for id 'rn-02'"),
    ({}, "no expert grades"),
])
def test_a_wrong_shape_names_the_shapes_expected(tmp_path, data, needle):
    with pytest.raises(InputError) as err:
        load(write_json(tmp_path / "e.json", data))
    msg = str(err.value)
    assert needle in msg and "e.json" in msg, msg
    if needle not in ("key 'rn-01' holds grades for id 'rn-02'",):
        assert expert_shapes(KEYS) in msg, msg


def test_errors_still_name_the_item_and_check_the_values(tmp_path):
    rows = flat_rows()
    rows[3] = {**rows[3], "tone": 6}
    with pytest.raises(InputError, match=r"item 3 \(id 'rn-02'\) score 'tone' must be a number from 1 to 5, got 6"):
        load(write_json(tmp_path / "e.json", rows))
    with pytest.raises(InputError, match=r"id not found in the samples"):
        load_expert_grades(write_json(tmp_path / "k.json", {"zz": {"clarity": 4, "accuracy": 5, "tone": 3}}), KEYS,
                           (1, 5), known_ids={"rn-01"})
    with pytest.raises(InputError, match=r"duplicate grade for rater 'A'"):
        load(write_json(tmp_path / "d.json", {"rn-01": [{"rater": "A", **rows[0]}, {"rater": "A", **rows[0]}]}))


def test_calibrate_gives_identical_figures_on_all_three_shapes(tmp_path):
    # samples whose entries carry extra fields, as a challenge package's may
    samples = [{**s, "category": "release_note", "expert_scores": None} for s in json.loads(SAMPLES.read_text())]
    sfile = write_json(tmp_path / "samples.json", samples)
    results = tmp_path / "results.json"  # graded once, so measured latencies are the same in every calibration
    assert run.main(["--samples", str(sfile), "--rubric", str(tmp_path / "rubric.json"), "--output", str(results),
                     "--judge", "offline", "--quiet"]) == 0
    files = {"nested": EXPERTS, "flat": write_json(tmp_path / "flat.json", flat_rows()),
             "keyed": write_json(tmp_path / "keyed.json", keyed_by_id())}
    docs, reports = {}, {}
    for name, efile in files.items():
        out = tmp_path / name
        assert calibrate.main(["--samples", str(sfile), "--experts", str(efile), "--out-dir", str(out),
                               "--results", str(results), "--n-boot", "200", "--judge", "offline"]) == 0
        doc = json.loads((out / "calibration.json").read_text())
        assert doc.pop("inputs")["experts"] == str(efile)
        docs[name], reports[name] = doc, (out / "report.md").read_text()
    assert docs["nested"]["n_items"] == len(samples) and docs["nested"]["raters"] == ["A", "B"]
    assert docs["flat"] == docs["nested"] and docs["keyed"] == docs["nested"]
    assert reports["flat"] == reports["nested"] and reports["keyed"] == reports["nested"]


def test_calibrate_cli_rejects_a_wrong_shape_with_one_line_and_exit_2(tmp_path):
    bad = write_json(tmp_path / "e.json", {"rn-01": "4/5/3"})
    out = tmp_path / "cal"
    proc = run_script("calibrate.py", "--samples", str(SAMPLES), "--experts", str(bad), "--out-dir", str(out),
                      "--judge", "offline")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "e.json" in lines[0] and "object keyed by id" in lines[0]
    assert not out.exists()
