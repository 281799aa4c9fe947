"""Probes: each rewrite does what its description says, keeps what it must keep, and is reproducible."""
from __future__ import annotations

import random
import re

import pytest

from grader.judges.offline.facts import extract_facts, sentences, ticket_keys, words
from grader.judges.offline.internal import internal_markers
from grader.injection import detect_injection
from calibration.probes import (HEDGE_MARKERS, INJECTION_TEXT, PADDING_CLOSERS, PADDING_OPENERS, PROBES, STATUS_CODES,
                                STIFF_PREFIXES, STIFF_SENTENCES, UNSUPPORTED_CLAIMS, apply_probe)
from grader.types import Sample

# ---- hand-written tickets and notes -----------------------------------------------------------------------------

REFUND_TICKET = ("PAY-4421 payments-core: POST /v1/refunds returned 500 when amount had 3 decimals. "
                 "Now rounds to 2 decimals and returns 422 for >2. Ships in API v2.14.0.")
REFUND_NOTE = ("Refunds: POST /v1/refunds no longer fails with a server error when the amount has three decimal "
               "places. Amounts are now rounded to two decimals, and amounts with more than two decimals return "
               "HTTP 422 with a clear message. Available in API v2.14.0.")

SEARCH_TICKET = ("API-812: Rate limiter for /v2/search is too strict. Raise limit from 60 to 100 requests per minute "
                 "per key. Clients hitting the limit get HTTP 429 with Retry-After: 30 seconds. Owner: the platform "
                 "team, discuss in #search-oncall. Release 3.2.0.")
SEARCH_NOTE = """## Search API 3.2.0

Heads up: we've raised the rate limit for `/v2/search`.

- You can now send up to 100 requests per minute per key (up from 60).
- If you go over the limit, you'll get a 429 response with a Retry-After of 30 seconds.
- Don't worry, existing keys get the new limit automatically!
"""

EXPORT_TICKET = ("Export to CSV times out for workspaces with more than 50,000 rows. Increase the export timeout from "
                 "30 seconds to 120 seconds and stream rows.")
EXPORT_NOTE = ("We fixed a bug where CSV exports of large workspaces (more than 50,000 rows) could time out. "
               "Exports can't stall anymore: they now stream rows and will wait up to 120 seconds.")

# One sentence, one source fact attached by a preposition: only the fact phrase can go.
ONE_SENTENCE = Sample("one", "Raise the search limit from 60 to 100 requests per minute.",
                      "The search API now accepts more traffic, up to 100 requests per minute.")
# One sentence whose only source fact is its subject: nothing can be removed cleanly.
STUCK = Sample("stuck", "Bump SDK to 4.2.0.", "SDK 4.2.0 is out.")
# No number, no ticket key, no shared fact.
PLAIN = Sample("plain", "Improve wording of the login page.", "We improved the wording on the login page.")

REFUND = Sample("refund", REFUND_TICKET, REFUND_NOTE)
SEARCH = Sample("search", SEARCH_TICKET, SEARCH_NOTE)
EXPORT = Sample("export", EXPORT_TICKET, EXPORT_NOTE)
ALL = [REFUND, SEARCH, EXPORT, ONE_SENTENCE, STUCK, PLAIN]

SEEDS = range(12)


def rewrite(name: str, sample: Sample, seed: int = 0) -> Sample | None:
    [(orig, new)] = apply_probe(name, [sample], seed)
    assert orig is sample
    return new


def digit_runs(text: str) -> list[str]:
    return sorted(re.findall(r"\d+", text))


def norms(text: str) -> set[str]:
    return {f.normalized for f in extract_facts(text)}


# ---- the registry -------------------------------------------------------------------------------------------------

def test_registry_lists_the_seven_probes_with_kind_and_description():
    assert set(PROBES) == {"length", "formality", "hedging", "injection", "drop_fact", "unsupported_number",
                           "leak_internal"}
    for name, p in PROBES.items():
        assert p.name == name
        assert p.kind == ("sensitivity" if name in {"drop_fact", "unsupported_number", "leak_internal"}
                          else "invariance")
        assert p.description.endswith(".") and len(p.description.split()) >= 8


def test_unknown_probe_is_an_error():
    with pytest.raises(ValueError, match="unknown probe 'nope'"):
        apply_probe("nope", [REFUND], 0)


@pytest.mark.parametrize("name", sorted(PROBES))
def test_rewrites_keep_id_and_source_and_change_the_output(name):
    for seed in SEEDS:
        for orig, new in apply_probe(name, ALL, seed):
            if new is None:
                continue
            assert new.id == orig.id and new.source == orig.source
            assert new.output != orig.output


def test_inserted_boilerplate_carries_no_facts_numbers_or_internal_markers():
    for text in (*PADDING_OPENERS, *PADDING_CLOSERS, INJECTION_TEXT):
        assert not re.search(r"\d", text), text
        assert extract_facts(text) == [], text
        assert internal_markers(text) == [], text
        assert not any(h in text.lower() for h in HEDGE_MARKERS if h != "may"), text


# ---- invariance probes --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample", [REFUND, SEARCH, EXPORT, ONE_SENTENCE, PLAIN], ids=lambda s: s.id)
def test_length_adds_at_least_30_percent_words_and_nothing_checkable(sample):
    for seed in SEEDS:
        new = rewrite("length", sample, seed)
        n0, n1 = len(words(sample.output)), len(words(new.output))
        assert n1 >= 1.3 * n0, (n0, n1)
        assert n1 <= 2.0 * n0 + 12, (n0, n1)  # roughly +40-60%, one padding sentence over at most
        assert digit_runs(new.output) == digit_runs(sample.output)
        assert norms(new.output) == norms(sample.output)
        assert sample.output.strip().split("\n\n")[-1] in new.output  # the original body is intact


def test_length_keeps_a_markdown_title_on_top():
    new = rewrite("length", SEARCH, 3)
    assert new.output.startswith("## Search API 3.2.0\n\n")


def test_formality_adds_a_stiff_opener_expands_contractions_and_casual_words_keeping_every_number():
    new = rewrite("formality", SEARCH)
    out = new.output
    assert out.startswith("## Search API 3.2.0\n\n")  # the title stays on top, the opener goes below it
    assert any(out.startswith(f"## Search API 3.2.0\n\n{s}\n\nPlease note: we have raised") for s in STIFF_SENTENCES)
    assert "you will receive a 429 response" in out
    assert "Do not worry" in out and "receive the new limit automatically." in out
    assert "`/v2/search`" in out and "Retry-After" in out
    assert digit_runs(out) == digit_runs(SEARCH.output)
    assert norms(out) == norms(SEARCH.output)
    ex = rewrite("formality", EXPORT).output
    assert any(ex.startswith(p + "we resolved a defect where") for p in STIFF_PREFIXES), ex  # inline opener
    assert "cannot stall any longer" in ex and "shall wait up to 120 seconds" in ex and "50,000" in ex


def test_formality_preserves_case_and_leaves_code_and_all_caps_alone():
    s = Sample("f", "GET /v1/users", "Heads up: You'll get `get_user()` via GET /v1/users. Can't wait? Don't.")
    out = rewrite("formality", s).output
    opener, body = out.split(". ", 1)
    assert opener + "." in STIFF_SENTENCES  # "Heads up:" is not a clause start: the opener is its own sentence
    assert body == "Please note: You will receive `get_user()` via GET /v1/users. Cannot wait? Do not."


def test_formality_applies_to_every_non_empty_note_and_is_read_as_stiff_by_the_offline_check():
    from grader.judges.offline.checks_voice import check_formal_register
    for sample in (REFUND, PLAIN, ONE_SENTENCE, STUCK):
        for seed in SEEDS:
            new = rewrite("formality", sample, seed)
            assert check_formal_register("", new.output).severity >= 1, new.output
            assert check_formal_register("", sample.output).severity == 0
            assert digit_runs(new.output) == digit_runs(sample.output)
    assert rewrite("formality", Sample("e", "x", "")) is None
    assert rewrite("formality", Sample("e", "x", "  \n")) is None


@pytest.mark.parametrize("sample", [REFUND, SEARCH, EXPORT, ONE_SENTENCE, PLAIN], ids=lambda s: s.id)
def test_hedging_adds_a_hedge_and_keeps_every_number(sample):
    def hedges(t):
        t = t.lower()
        return sum(len(re.findall(rf"\b{re.escape(h)}\b", t)) for h in HEDGE_MARKERS)

    for seed in SEEDS:
        new = rewrite("hedging", sample, seed)
        assert 1 <= hedges(new.output) - hedges(sample.output) <= 2
        assert digit_runs(new.output) == digit_runs(sample.output)
        assert norms(new.output) == norms(sample.output)
        assert len(sentences(new.output)) == len(sentences(sample.output))


def test_hedging_is_none_without_a_sentence_to_hedge():
    assert rewrite("hedging", Sample("h", "x", "## v2.0")) is None
    assert rewrite("hedging", Sample("e", "x", "")) is None


def test_injection_appends_the_grader_instruction():
    for sample in (REFUND, PLAIN, Sample("e", "x", "")):
        new = rewrite("injection", sample)
        assert new.output.endswith(INJECTION_TEXT)
        assert new.output.startswith(sample.output.rstrip())
        assert detect_injection(new.output) and not detect_injection(sample.output)


# ---- sensitivity probes -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample", [REFUND, SEARCH, EXPORT], ids=lambda s: s.id)
def test_drop_fact_removes_one_sentence_with_a_source_fact_and_the_fact_is_gone(sample):
    source_facts = {f.normalized for f in extract_facts(sample.source) if f.kind != "ticket_key"}
    for seed in SEEDS:
        new = rewrite("drop_fact", sample, seed)
        before, after = sentences(sample.output), sentences(new.output)
        removed = [s for s in before if s not in after]
        assert len(removed) == 1 and len(after) == len(before) - 1, removed
        lost = norms(removed[0]) & source_facts
        assert lost and not (lost & norms(new.output)), lost


def test_drop_fact_in_a_single_sentence_removes_only_the_fact_phrase():
    new = rewrite("drop_fact", ONE_SENTENCE)
    assert new.output == "The search API now accepts more traffic."
    assert "100/min" not in norms(new.output)


def test_drop_fact_removes_a_short_aside_holding_the_fact():
    s = Sample("aside", "Raise limit from 60 to 100.", "The search limit is higher now (up from 60).")
    assert rewrite("drop_fact", s).output == "The search limit is higher now."


def test_drop_fact_is_none_without_a_removable_source_fact():
    assert rewrite("drop_fact", PLAIN) is None  # no fact shared with the source
    assert rewrite("drop_fact", STUCK) is None  # the only sentence, the fact is its subject
    assert rewrite("drop_fact", Sample("e", REFUND_TICKET, "")) is None


def test_unsupported_number_changes_a_supported_number_to_one_the_source_lacks():
    for sample in (REFUND, SEARCH, EXPORT, ONE_SENTENCE, STUCK, PLAIN):
        for seed in SEEDS:
            new = rewrite("unsupported_number", sample, seed)
            invented = set(re.findall(r"\d+(?:[.,]\d+)*", new.output)) - set(re.findall(r"\d+(?:[.,]\d+)*",
                                                                                        sample.source))
            assert invented, (sample.id, seed, new.output)


def test_unsupported_number_swaps_status_codes_only_for_other_status_codes():
    s = Sample("status", "Return 422 instead of 500 for bad amounts.", "Bad amounts now return HTTP 422.")
    for seed in SEEDS:
        out = rewrite("unsupported_number", s, seed).output
        code = re.search(r"HTTP (\d+)", out).group(1)
        assert int(code) in STATUS_CODES and code not in {"422", "500"}


def test_unsupported_number_bumps_a_version():
    new = rewrite("unsupported_number", STUCK)
    assert new.output == "SDK 4.3.0 is out."


def test_unsupported_number_adds_a_claim_when_the_output_has_no_supported_number():
    new = rewrite("unsupported_number", PLAIN)
    assert new.output.startswith(PLAIN.output + " ")
    added = new.output[len(PLAIN.output) + 1:]
    assert any(re.sub(r"\d+", "{n}", added) == t for t, _ in UNSUPPORTED_CLAIMS)
    bullets = Sample("b", "Tidy the settings page.", "- Cleaner settings page\n- Fewer clicks")
    out = rewrite("unsupported_number", bullets).output.split("\n")
    assert len(out) == 3 and out[-1].startswith("- ") and re.search(r"\d", out[-1])


def test_leak_internal_inserts_the_source_ticket_key_and_an_internal_marker():
    new = rewrite("leak_internal", SEARCH)
    assert "API-812" in ticket_keys(new.output)
    first = [s for s in sentences(new.output) if not s.startswith("#")][0]
    assert first.endswith("(API-812).")
    assert new.output.rstrip().split("\n")[-1] in {f"Internal: {m}." for m in internal_markers(SEARCH_TICKET)}
    assert "PAY-4421" in rewrite("leak_internal", REFUND).output


def test_leak_internal_invents_a_key_when_the_source_has_none():
    for seed in SEEDS:
        out = rewrite("leak_internal", PLAIN, seed).output
        assert re.fullmatch(r"We improved the wording on the login page \(INT-\d{4}\)\.", out)


# ---- reproducibility and bookkeeping -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROBES))
def test_same_seed_same_rewrite_and_order_does_not_matter(name):
    a = apply_probe(name, ALL, 5)
    b = apply_probe(name, ALL, 5)
    c = apply_probe(name, list(reversed(ALL)), 5)
    assert a == b
    by_id = {o.id: n for o, n in c}
    assert [(o, by_id[o.id]) for o, _ in a] == a


def test_the_rng_is_seeded_per_probe_and_sample():
    # the rewrite is exactly what the probe function gives with random.Random("{seed}:{name}:{id}")
    for name, p in PROBES.items():
        for s in ALL:
            assert rewrite(name, s, 9) == (lambda r: None if r is None or r.output == s.output else r)(
                p.rewrite(s, random.Random(f"9:{name}:{s.id}")))
    # and different seeds do give different rewrites somewhere
    outs = {rewrite("length", SEARCH, seed).output for seed in SEEDS}
    assert len(outs) > 1


def test_not_applicable_samples_are_returned_as_none_not_dropped():
    pairs = apply_probe("drop_fact", ALL, 0)
    assert [o.id for o, _ in pairs] == [s.id for s in ALL]
    assert {o.id for o, n in pairs if n is None} == {"stuck", "plain"}
