"""Register is part of tone, as the experts grade it: a stiff, official register costs tone in proportion (the brief's
one expert grade: clear and accurate, "slightly too formal for changelog voice" -> clarity 4, accuracy 5, tone 3),
and plain notes are never "too formal". Both judges: the offline one for real, the LLM one for the prompt only."""
from __future__ import annotations

import json

import pytest

from grader.judges.offline import OfflineJudge
from grader.judges.offline.checks_voice import check_formal_register
from grader.rubric import load_rubric
from grader.types import Sample
from tests.conftest import ROOT, run_script, write_json
from tests.fake_openai import FakeOpenAI, Valid

SPEC = ROOT / "rubric" / "release_notes.json"
SAMPLES = ROOT / "examples" / "samples.json"
EXPERTS = ROOT / "examples" / "expert_grades.json"
FORMAL_IDS = ("rn-29", "rn-30", "rn-31", "rn-32")

TICKET = ("SDK-702 python sdk 4.2.1: `timeout` arg on Client() ignored for file uploads (always 30s). "
          "Fixed, uploads honour it now. No API change.")
PLAIN = ("Python SDK 4.2.1: file uploads now respect the `timeout` you pass to `Client()`; previously they always "
         "used 30 seconds.")
ONE_FORMULA = "Please be advised that p" + PLAIN[1:]
SLIGHTLY = ("We wish to inform you that Python SDK 4.2.1 file uploads now respect the `timeout` you pass to "
            "`Client()`; prior to this release they always used 30 seconds.")
NOTICE = ("It is hereby noted that, with effect from Python SDK 4.2.1, file uploads shall respect the `timeout` "
          "passed to `Client()`. It has been decided that the previous fixed value of 30 seconds shall no longer "
          "apply. Should you require assistance, do not hesitate to contact us.")

# Plain notes an editor would publish as they are: neutral wording, no contractions, "please", ordinary passives.
PLAIN_NOTES = [
    PLAIN,
    "Please note that failed deliveries are retried up to 8 times. You do not need to change anything.",
    "Requests over the limit are rejected with HTTP 429. Please make sure your integration handles 429 responses.",
    "Versions prior to 3.0 are no longer supported.",  # one "prior to" alone is a trace, not a register
    "The export will be emailed to you. It is now available to all admins, and it is recommended for large files.",
    "You shall not pass: this error is now reported as HTTP 403 instead of 500.",
    "Charts are rendered as SVG. The crash on export was reported last week and it has been resolved in 2.3.1.",
]


@pytest.fixture(scope="module")
def judge() -> OfflineJudge:
    return OfflineJudge(load_rubric(SPEC))


def grade(judge, source, output):
    return judge.judge(Sample("t", source, output)).scores


def test_stiff_register_costs_tone_in_proportion_and_never_accuracy(judge):
    assert grade(judge, TICKET, PLAIN) == {"clarity": 5, "accuracy": 5, "tone": 5}
    assert grade(judge, TICKET, ONE_FORMULA) == {"clarity": 5, "accuracy": 5, "tone": 4}  # a trace
    assert grade(judge, TICKET, SLIGHTLY) == {"clarity": 4, "accuracy": 5, "tone": 3}  # the brief's example
    notice = grade(judge, TICKET, NOTICE)
    assert notice["tone"] == 2 and notice["accuracy"] == 5 and notice["clarity"] == 4  # an official notice


def test_the_finding_quotes_the_stiff_phrases_and_says_what_to_write():
    r = check_formal_register(TICKET, SLIGHTLY)
    assert r.severity == pytest.approx(1.25)
    assert "'We wish to inform'" in r.findings[0] and "'prior to'" in r.findings[0]
    assert "plain changelog entry" in r.findings[0]


@pytest.mark.parametrize("note", PLAIN_NOTES)
def test_plain_notes_are_not_too_formal(note):
    assert check_formal_register("", note).severity == 0


def test_no_original_example_note_is_too_formal():
    for s in json.loads(SAMPLES.read_text()):
        if s["id"] not in FORMAL_IDS:
            assert check_formal_register(s["input_ticket"], s["model_output"]).severity == 0, s["id"]


def test_the_too_formal_examples_are_graded_like_the_raters(judge):
    samples = {s["id"]: s for s in json.loads(SAMPLES.read_text())}
    grades: dict[str, list[dict]] = {}
    for g in json.loads(EXPERTS.read_text()):
        grades.setdefault(g["id"], []).append(g["scores"])
    for sid in FORMAL_IDS:
        s = samples[sid]
        raters = grades[sid]
        assert len(raters) == 2 and all(r["accuracy"] == 5 and r["tone"] <= 3 for r in raters), sid
        got = grade(judge, s["input_ticket"], s["model_output"])
        assert got == {"clarity": 4, "accuracy": 5, "tone": 3}, (sid, got)
        for dim, v in got.items():  # within the raters' range on every dimension
            assert min(r[dim] for r in raters) <= v <= max(r[dim] for r in raters), (sid, dim)


def test_the_spec_grades_register_and_has_the_too_formal_anchor():
    spec = json.loads(SPEC.read_text())
    tone = next(d for d in spec["dimensions"] if d["key"] == "tone")
    assert "We wish to inform you that" in tone["description"] and "slightly too formal" in tone["levels"]["3"]
    assert not any("punish the formality" in rule for rule in spec["instructions"])
    [anchor] = [a for a in spec["anchors"] if a["scores"] == {"clarity": 4, "accuracy": 5, "tone": 3}]
    assert "too formal" in anchor["rationale"]
    assert spec["offline"]["tone"]["formal_register"] < spec["offline"]["tone"]["hype"]  # a modest weight
    j = OfflineJudge(load_rubric(SPEC))
    assert grade(j, anchor["input"], anchor["output"]) == anchor["scores"]


def test_llm_judge_is_sent_the_register_descriptors_and_the_anchor(tmp_path):
    """Prompt and schema only: what a real model grades cannot be measured against a local server."""
    spec = json.loads(SPEC.read_text())
    tone = next(d for d in spec["dimensions"] if d["key"] == "tone")
    rule = next(r for r in spec["instructions"] if r.startswith("Register is part of tone"))
    anchor = next(a for a in spec["anchors"] if a["scores"] == {"clarity": 4, "accuracy": 5, "tone": 3})
    samples = [s for s in json.loads(SAMPLES.read_text()) if s["id"] in FORMAL_IDS]
    brief = {"clarity": 4, "accuracy": 5, "tone": 3}
    with FakeOpenAI() as server:
        server.script(*[Valid(scores=brief, rationale="Clear and accurate; slightly too formal.") for _ in samples])
        out = tmp_path / "results.json"
        proc = run_script("run.py", "--samples", str(write_json(tmp_path / "s.json", samples)), "--rubric",
                          str(tmp_path / "rubric.json"), "--output", str(out), "--no-cache", "--concurrency", "1",
                          env={"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.url})
        calls = server.chat_calls()
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == len(samples) == 4
    system = calls[0].body["messages"][0]["content"]
    assert tone["description"] in system and rule in system
    for lvl in ("5", "4", "3", "2"):
        assert f"- {lvl}: {tone['levels'][lvl]}" in system
    assert anchor["output"] in system and json.dumps(anchor["rationale"], ensure_ascii=False) in system
    assert "Do not reward or punish the formality" not in system
    schema = calls[0].body["response_format"]["json_schema"]["schema"]["properties"]["scores"]["properties"]
    assert set(schema) == {"clarity", "accuracy", "tone"}
    assert all(s["model_output"] in c.body["messages"][1]["content"] for s, c in zip(samples, calls))
    results = json.loads(out.read_text())
    assert [r["scores"] for r in results] == [brief] * 4 and all(r["judge"].startswith("llm:") for r in results)
