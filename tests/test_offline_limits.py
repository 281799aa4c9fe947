"""The offline judge knows what it cannot judge (flagged, said, never a clean top score), penalises degenerate text,
counts words in any script, and writes rationales an author can act on."""
from __future__ import annotations

import json
import re

import pytest

from grader.grading import grade
from grader.judges.offline import OfflineJudge
from grader.judges.offline.facts import words
from grader.judges.offline.text import quote, quote_list
from grader.rubric import load_rubric, parse_rubric
from grader.types import Sample
from tests.conftest import GOOD_NOTE, ROOT, TICKET

RN = ROOT / "rubric" / "release_notes.json"


@pytest.fixture(scope="module")
def rn() -> OfflineJudge:
    return OfflineJudge(load_rubric(RN))


def judge(j: OfflineJudge, output: str, source: str = TICKET):
    return j.judge(Sample("t", source, output))


def test_a_spec_without_offline_mapping_gives_no_silent_top_scores():
    spec = json.loads(RN.read_text())
    del spec["offline"]
    rubric = parse_rubric(spec)
    off = OfflineJudge(rubric)
    samples = [Sample(f"s{i}", TICKET, GOOD_NOTE) for i in range(3)]
    run = grade(samples, rubric, off, off, progress=False)
    for r in run.results:
        assert r["scores"] == {"clarity": 3, "accuracy": 3, "tone": 3}  # the midpoint placeholder, not 5/5/5
        assert "No problems found" not in r["rationale"] and "Not judged: clarity, accuracy, tone" in r["rationale"]
    assert run.summary["flags"] == {f"offline_dimension_unchecked:{k}": 3 for k in ("accuracy", "clarity", "tone")}


@pytest.mark.parametrize("text,script", [
    ("تم إصلاح خطأ في استرداد الأموال عبر POST /v1/refunds. يتم الآن تقريب المبالغ إلى منزلتين عشريتين.", "Arabic"),
    ("תיקנו שגיאה בהחזרים דרך POST /v1/refunds. הסכומים מעוגלים כעת לשתי ספרות אחרי הנקודה.", "Hebrew"),
    ("返金APIで小数点以下3桁の金額がエラーになる問題を修正しました。金額は小数点以下2桁に丸められます。", "CJK"),
])
def test_non_latin_scripts_are_flagged_not_graded_as_one_word(rn, text, script):
    j = judge(rn, text)
    assert j.flags == ["offline_unsupported_script"]
    assert j.scores == {"clarity": 3, "accuracy": 3, "tone": 3}
    assert script in j.rationale and "word" not in j.rationale.lower()


def test_latin_text_that_is_not_english_is_flagged(rn):
    fr = ("Les remboursements via POST /v1/refunds ne renvoient plus d'erreur serveur lorsque le montant comporte "
          "trois décimales. Les montants sont désormais arrondis à deux décimales, sinon une erreur 422 est renvoyée.")
    assert "offline_unsupported_language" in judge(rn, fr).flags
    assert judge(rn, GOOD_NOTE).flags == []


def test_word_counting_is_unicode_aware():
    assert words("Café naïve Zürich déjà-vu") == ["Café", "naïve", "Zürich", "déjà-vu"]
    assert len(words("Доступно в версии v2.14.0 для всех клиентов")) == 7


def test_a_huge_repeated_note_is_flagged_and_penalised(rn):
    note = (GOOD_NOTE + "\n") * (5_000_000 // len(GOOD_NOTE))
    j = judge(rn, note)
    assert "offline_out_of_range" in j.flags
    assert j.scores["clarity"] <= 3 and max(j.scores.values()) <= 4
    assert "repeats the sentence" in j.rationale and "[clarity -" in j.rationale


def test_heavy_repetition_and_extreme_length_cost_clarity(rn):
    assert judge(rn, GOOD_NOTE).scores["clarity"] == 5
    repeated = judge(rn, " ".join([GOOD_NOTE] * 4))
    assert repeated.scores["clarity"] <= 3 and "repeats the sentence" in repeated.rationale
    long_text = " ".join(f"Sentence {i} explains part {i} of the refunds change in plain words." for i in range(80))
    j = judge(rn, long_text)
    assert "words in all" in j.rationale and j.scores["clarity"] < 5


def test_quotes_end_on_word_boundaries_and_lists_are_complete():
    q = quote("The refunds endpoint no longer fails with a server error when amounts have three decimals", 40)
    assert q.endswith("…") and len(q) <= 40
    assert "The refunds endpoint no longer fails with a server error".startswith(q[:-1])
    assert quote_list([f"item{i}" for i in range(9)]).count("'item") == 9


def test_every_finding_is_listed_with_the_dimension_it_cost(rn):
    note = ("Refunds are now faster and better thanks to various improvements. POST /v1/refunds returns 422 for "
            "amounts with more than 2 decimals. TODO: confirm version. PAY-4421")
    j = judge(rn, note)
    body = j.rationale
    assert "more)" not in body
    # every check that cost points is there, each with its dimension(s) in brackets
    for piece in re.findall(r"\[([^\]]+)\]", body):
        assert re.fullmatch(r"(?:(?:clarity|accuracy|tone)(?: -\d+\.\d)?(?:, )?)+", piece), piece
    assert "PAY-4421" in body and "[tone -" in body and "v2.14.0" in body


def test_findings_below_the_rounding_threshold_are_mentioned_as_minor(rn):
    j = judge(rn, GOOD_NOTE)  # drops the ticket's '500': a real, small problem that rounds away
    assert j.scores == {"clarity": 5, "accuracy": 5, "tone": 5}
    assert "No problems found" not in j.rationale
    assert j.rationale.startswith("Minor (too small to lose a point):") and "'500'" in j.rationale
