"""Structure checks: walls of text, notes that state no change, too short, raw ticket text, off topic."""
from __future__ import annotations

import re
from collections import Counter

from .text import OK, CheckResult, doc_of, quote

LONG_WORDS = 400  # words: about four times a long release note or news summary
_AND_JOIN = re.compile(r"\b(?:and|, and|; and)\b")


def check_wall_of_text(source: str, output: str) -> CheckResult:
    """Very long sentences, several changes run together, or a long unbroken paragraph."""
    out = doc_of(output)
    sev, found = 0.0, []
    longest = ""
    for s in out.sents:
        n = len(s.split())
        if n > 35:
            sev += (n - 35) / 25.0
            if len(s) > len(longest):
                longest = s
            if len(_AND_JOIN.findall(s)) >= 3:
                sev += 0.5
    if longest:
        found.append(f"sentence of {len(longest.split())} words ('{quote(longest, 50)}') — split it and lead with the "
                     "change")
    for para in re.split(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)", out.text):
        n = len(para.split())
        if n > 120 and "\n" not in para.strip():
            sev += 0.5
            found.append(f"one unbroken paragraph of {n} words — use a short lead sentence and a list")
            break
    n_words = len(out.words)
    if n_words > LONG_WORDS:  # degenerate length: a note or a summary is read in seconds, not minutes
        sev += min(2.0, (n_words - LONG_WORDS) / LONG_WORDS)
        found.append(f"{n_words:,} words in all — far too long to read; keep only what changed")
    norm = [" ".join(s.lower().split()) for s in out.sents]
    if len(norm) >= 4:
        top, k = Counter(norm).most_common(1)[0]
        if k >= 3 and k / len(norm) >= 0.3:  # degenerate repetition: the same sentence again and again
            sev += min(2.0, 2.0 * k / len(norm) + 0.5)
            found.append(f"repeats the sentence '{quote(out.sents[norm.index(top)], 45)}' {k} times — say it once")
    if sev <= 0:
        return OK
    return CheckResult(min(2.0, sev), found)



_GENERIC = frozenset("improvement improv fix bug updat chang issu enhanc stuff thing various minor some problem "
                     "better work general".split())


def check_no_change_stated(source: str, output: str) -> CheckResult:
    """The output never says concretely what changed: no fact and almost no ticket content."""
    out, src = doc_of(output), doc_of(source)
    n_facts = sum(1 for f in out.facts if f.kind != "ticket_key")
    shared = (out.stems & src.stems) - _GENERIC
    concrete = n_facts + len(shared)
    if concrete >= 4:
        return OK
    sev = 2.0 if concrete < 2 else 1.0
    return CheckResult(sev, ["does not say concretely what changed — name the feature, the change and who it "
                             "affects"])


def check_too_short(source: str, output: str) -> CheckResult:
    """Too short to be a note or a summary (fewer than 4 words)."""
    n = len(doc_of(output).words)
    if n >= 4:
        return OK
    return CheckResult(3.0 if n <= 1 else 2.0, [f"only {n} word{'s' if n != 1 else ''} — write a full sentence"])


def ngrams(ws: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(ws[i:] for i in range(n))))


def check_raw_source(source: str, output: str) -> CheckResult:
    """The output is (mostly) the source copied verbatim: raw ticket text is not a release note."""
    out, src = doc_of(output), doc_of(source)
    og = ngrams(out.words, 4)
    if len(og) < 5:
        return OK
    sg = set(ngrams(src.words, 4))
    share = sum(1 for g in og if g in sg) / len(og)
    if share < 0.6:
        return OK
    return CheckResult(2.0 if share >= 0.8 else 1.0,
                       [f"copies {share:.0%} of the source verbatim — rewrite it for customers"])


def check_off_topic(source: str, output: str) -> CheckResult:
    """The output is about something else: almost none of its content words come from the source."""
    out, src = doc_of(output), doc_of(source)
    if len(out.stems) < 6:
        return OK
    share = len(out.stems & src.stems) / len(out.stems)
    if share >= 0.15:
        return OK
    return CheckResult(2.0, [f"only {share:.0%} of its content words appear in the source — it seems to be about "
                             "something else"])


