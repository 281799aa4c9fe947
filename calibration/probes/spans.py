"""Text spans and small rewriting helpers the probes share: locating facts, sentences and units, tidy removal."""
from __future__ import annotations

import re
from dataclasses import dataclass

from grader.judges.offline.facts import Fact, extract_facts, sentences




# Fact kinds that carry information a customer-facing output should keep (a ticket key is not one of them).
CONTENT_KINDS = frozenset({"number", "status_code", "version", "identifier", "endpoint", "date"})
NUMERIC_KINDS = frozenset({"number", "status_code", "version"})

# =================================================================================================================
# Small text helpers
# =================================================================================================================

NUM_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)*")
HEADING = re.compile(r"^\s*#")
BULLET_PREFIX = re.compile(r"^[ \t]*(?:[-*•·]+|\d{1,3}[.)])[ \t]+")
CODE_LIKE = re.compile(r"`[^`\n]*`|https?://\S+|\S*[/_@#=]\S*|\b\w+(?:\.\w+)+\b|\b[A-Z][A-Z0-9]+\b")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def locate_all(text: str, pieces: list[str]) -> list[Span]:
    """Find each piece in ``text`` in order (each after the previous), tolerating whitespace differences."""
    out, cursor = [], 0
    for piece in pieces:
        i = text.find(piece, cursor)
        if i >= 0:
            out.append(Span(i, i + len(piece), piece))
            cursor = i + len(piece)
            continue
        rx = re.compile(r"\s+".join(re.escape(w) for w in piece.split()))
        m = rx.search(text, cursor)
        if m:
            out.append(Span(m.start(), m.end(), m.group(0)))
            cursor = m.end()
    return out


def located_facts(text: str) -> list[tuple[Span, Fact]]:
    """Facts of ``text`` with their character spans (``extract_facts`` returns them in order of appearance)."""
    facts = extract_facts(text)
    spans = locate_all(text, [f.value for f in facts])
    if len(spans) != len(facts):  # a value could not be found: fall back to locating facts one by one
        out, cursor = [], 0
        for f in facts:
            i = text.find(f.value, cursor)
            if i >= 0:
                out.append((Span(i, i + len(f.value), f.value), f))
                cursor = i + len(f.value)
        return out
    return list(zip(spans, facts))


def unit_spans(text: str) -> list[Span]:
    """Sentences and bullet/heading lines (``facts.sentences``) with their spans in ``text``."""
    return locate_all(text, sentences(text))


def content_norms(text: str, kinds: frozenset[str] = CONTENT_KINDS) -> set[str]:
    return {f.normalized for f in extract_facts(text) if f.kind in kinds}


def match_case(template: str, replacement: str) -> str:
    if len(template) > 1 and template.isupper():
        return replacement.upper()
    if template[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def tidy(text: str) -> str:
    """Collapse the gaps a removal leaves: doubled spaces, space before punctuation, runs of blank lines."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+([.,;:!?)])", r"\1", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def is_heading(unit: Span) -> bool:
    return bool(HEADING.match(unit.text))


def remove_spans(text: str, spans: list[Span]) -> str:
    """Delete each span; a span that is a whole line's content (bullet marker aside) takes the line with it."""
    for sp in sorted(spans, key=lambda s: s.start, reverse=True):
        line_start = text.rfind("\n", 0, sp.start) + 1
        line_end = text.find("\n", sp.end)
        line_end = len(text) if line_end < 0 else line_end
        before = text[line_start:sp.start]
        after = text[sp.end:line_end]
        if (not before.strip() or BULLET_PREFIX.fullmatch(before)) and not after.strip():
            text = text[:line_start] + text[line_end + 1:]
        else:
            end = sp.end
            while end < len(text) and text[end] in " \t":
                end += 1
            text = text[:sp.start] + text[end:]
    return tidy(text)


def insert_before_end(sentence_text: str, insert: str) -> str:
    """Insert text before a sentence's terminal punctuation (or at its end when it has none)."""
    m = re.search(r"([.!?…]+[\"'”’)\]]*)$", sentence_text)
    if m:
        return sentence_text[:m.start()] + insert + sentence_text[m.start():]
    return sentence_text + insert


