"""grader.judges.offline.facts: sentences, words, fact extraction with normalisation, ticket keys, internal markers."""
from __future__ import annotations

import pytest

from grader.judges.offline.facts import (Fact, extract_facts, fact_spans, number_noun, number_parts, sentences,
                                         ticket_keys, words)
from grader.judges.offline.internal import internal_markers


def norms(text: str, kind: str | None = None) -> list[str]:
    return [f.normalized for f in extract_facts(text) if kind is None or f.kind == kind]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in extract_facts(text)]


# ---- sentences and words ----------------------------------------------------------------------------------------

def test_sentences_split_on_end_punctuation_lines_and_bullets():
    text = "Hello world. This is e.g. a test! Next one?\n- bullet one\n* bullet two\n\n1. numbered"
    assert sentences(text) == ["Hello world.", "This is e.g. a test!", "Next one?", "bullet one", "bullet two",
                               "numbered"]


def test_sentences_keep_versions_and_tokenized_text():
    assert sentences("Upgrade to v2.3.1 now. Done.") == ["Upgrade to v2.3.1 now.", "Done."]
    assert sentences("the team 's win . he said so .") == ["the team 's win .", "he said so ."]
    assert sentences("") == [] and sentences("   \n ") == []


def test_words_keep_inner_apostrophes_hyphens_and_dots():
    assert words("Don't rate-limit v2.3, ok?") == ["Don't", "rate-limit", "v2.3", "ok"]


# ---- numbers ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("30 seconds", "30s"), ("30 sec", "30s"), ("30s", "30 secs"), ("10,000", "10000"), ("10k", "10,000"),
    ("2 MB", "2MB"), ("250 ms", "250ms"), ("99.9%", "99.9 percent"), ("24h", "24 hours"),
    ("100 requests per minute", "100 req/min"), ("100 requests/min", "100 Requests Per Minute"),
    ("1.5 million", "1,500,000"), ("five retries", "5 retries"),
])
def test_number_normalisation_makes_variants_equal(a, b):
    assert norms(a, "number") == norms(b, "number") != []


def test_numbers_with_units_and_values():
    assert norms("Upload up to 2 MB, 99.9% uptime, $10,000 max, 30 seconds, 5 GB/day", "number") == [
        "2mb", "99.9%", "$10000", "30s", "5gb/d"]


def test_numbers_are_not_taken_from_names_codes_or_enumerations():
    assert norms("2FA, p95, SHA-256 and UTF-8", "number") == []
    assert norms("(1) login (2) push (3) min iOS raised 15 -> 16", "number") == ["15", "16"]
    assert norms("1-30 days", "number") == ["1", "30d"]  # a range keeps both ends


def test_number_parts_and_noun():
    assert number_parts("30s") == (30.0, "s") and number_parts("100/min") == (100.0, "/min")
    assert number_noun(Fact("number", "5 retries", "5")) == "retry"
    assert number_noun(Fact("number", "30 seconds", "30s")) == "second"


# ---- status codes -----------------------------------------------------------------------------------------------

def test_status_codes_in_http_context():
    text = "The API returns HTTP 429 Too Many Requests; 5xx errors are retried. Clients got 503s. A 500 error."
    assert norms(text, "status_code") == ["429", "5xx", "503", "500"]
    assert norms("Larger uploads -> 413 file_too_large (error)", "status_code") == ["413"]


def test_quantities_are_not_status_codes():
    assert norms("Search returns 100 items and 250 ms latency", "status_code") == []
    assert norms("Max 500 chars per note", "status_code") == []


# ---- versions, identifiers, endpoints, dates, ticket keys --------------------------------------------------------

def test_versions_normalise_the_v():
    assert norms("v2.3", "version") == norms("version 2.3", "version") == ["2.3"]
    assert norms("Upgrade to v2.3.1 or SDK 5.2.0; Python 3.11; version 4.10", "version") == [
        "2.3.1", "5.2.0", "3.11", "4.10"]
    assert norms("uptime 99.95 percent", "version") == []


def test_identifiers():
    text = ("Set retry_count, maxRetries, payments.retry_count, --dry-run, FOO_BAR and `client.charges.create()` "
            "in Settings > Security; PaymentIntent, e.g. this.")
    assert [f.value for f in extract_facts(text) if f.kind == "identifier"] == [
        "retry_count", "maxRetries", "payments.retry_count", "--dry-run", "FOO_BAR", "client.charges.create()",
        "Settings > Security", "PaymentIntent"]
    assert norms("iOS and macOS apps", "identifier") == []


def test_endpoints_normalise_parameters():
    assert norms("GET /v1/payments/{id}", "endpoint") == norms("/v1/payments/:payment_id", "endpoint") == [
        "/v1/payments/{}"]
    assert kinds("Call GET /users.") == [("endpoint", "GET /users")]
    assert norms("and/or 24/7 w/ b/c", "endpoint") == []


def test_dates():
    text = "Ships 2026-03-01, March 3, 3 March 2026, Q3 2026, May 2026 and API 2024-05."
    assert norms(text, "date") == ["2026-03-01", "03-03", "2026-03-03", "2026-q3", "2026-05", "2024-05"]
    assert norms("4 November 2024", "date") == norms("2024-11-04", "date")


def test_ticket_keys():
    assert ticket_keys("Fixes PAY-1234 and pay-9, UTF-8, SHA-256, CVE-2024-1234; see PAY-1234 and WEB-7") == [
        "PAY-1234", "WEB-7"]
    assert norms("PAY-1234", "ticket_key") == ["PAY-1234"]


def test_spans_point_into_the_text():
    text = "Limit 100 req/s on POST /v1/messages from 2024-11-04."
    for start, end, fact in fact_spans(text):
        assert text[start:end] == fact.value


# ---- internal markers -------------------------------------------------------------------------------------------

def test_internal_markers_found():
    text = ("TODO: ask the platform team in #payments-oncall; ledger-svc on db1.corp threw NullPointerException at "
            "com.foo.Bar(Bar.java:12). on-call paged. Reported by Acme Corp. Impl in mailer-core. FIXME later.")
    found = internal_markers(text)
    for expected in ("TODO", "platform team", "#payments-oncall", "ledger-svc", "db1.corp", "Bar.java:12", "on-call",
                     "Reported by Acme Corp", "mailer-core", "FIXME"):
        assert any(expected in m for m in found), (expected, found)


def test_internal_markers_quiet_on_customer_text():
    text = ("You can now export reports as CSV from Reports > Export. Contact the support team if you need help. "
            "acme-cli 3.4.0 adds `acme deploy --dry-run`. Requests over the limit receive HTTP 429.")
    assert internal_markers(text) == []
