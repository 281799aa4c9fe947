"""Sensitivity probes: rewrites that damage the output (drop a fact, change a number, leak internal matter)."""
from __future__ import annotations

import random
import re
from dataclasses import replace

from grader.judges.offline.facts import ticket_keys, words
from grader.judges.offline.internal import internal_markers
from grader.types import Sample

from .spans import (BULLET_PREFIX, CONTENT_KINDS, HEADING, NUM_TOKEN, NUMERIC_KINDS, Span, content_norms,
                    insert_before_end, is_heading, located_facts, remove_spans, tidy, unit_spans)




# unsupported_number: when the output has no number the source supports, one of these is added ({n} from rng).
UNSUPPORTED_CLAIMS = (
    ("Requests now complete up to {n}% faster.", (25, 30, 35, 40, 45, 60)),
    ("Average response times drop by {n} ms.", (20, 35, 50, 80, 120)),
    ("This release also resolves {n} other reported issues.", (3, 4, 6, 7, 9, 12)),
)
# Status codes a changed code is drawn from (only ever used to replace a status code).
STATUS_CODES = (400, 401, 403, 404, 408, 409, 410, 413, 422, 429, 500, 502, 503, 504)
# Multipliers tried, in rng order, to turn a supported number into a different plausible one (30 -> 45).
NUMBER_FACTORS = (1.5, 2.0, 0.5, 3.0, 0.75)

# leak_internal: the tracker prefix used when the source has no ticket key, and the line that carries a marker.
FALLBACK_TICKET_PREFIX = "INT"
INTERNAL_LINE = "Internal: {marker}."


# =================================================================================================================
# Sensitivity probes
# =================================================================================================================

_ATTACHED_BEFORE = re.compile(
    r"(?:\s*,)?\s+(?:up\s+to|as\s+of|starting\s+(?:with|in|on)|to|from|in|at|of|on|by|with|for|after|before|"
    r"since|until|within|under|over|than|via)"
    r"(?:\s+(?:the|a|an))?(?:\s+(?:version|release|HTTP|status(?:\s+code)?|code|error|endpoint|limit\s+of))?\s*"
    r"[\"'`(]?$", re.IGNORECASE)
_DANGLING_END = re.compile(r"(?:\b(?:to|from|in|at|of|on|by|with|for|as|the|a|an|and|or|than|is|are|was|were|be)|"
                           r"\b(?:is|are|was|were|be)\s+now|[,;:(])\s*[.!?]?$", re.IGNORECASE)


def _drop_fact_token(text: str, sent: Span, fact_span: Span) -> str | None:
    """Remove a fact with the words attached to it, if the sentence stays readable: a short aside in parentheses
    ("(up from 60)"), else the preposition phrase that carries it ("... to 100 requests per minute")."""
    head = text[sent.start:fact_span.start]
    tail = text[fact_span.end:sent.end]
    open_i, close_i = head.rfind("("), tail.find(")")
    new_sentence = None
    if open_i > head.rfind(")") and close_i >= 0 and "(" not in tail[:close_i]:
        if len(words(head[open_i:] + fact_span.text + tail[:close_i + 1])) <= 6:
            new_sentence = head[:open_i].rstrip() + tail[close_i + 1:]
    if new_sentence is None:
        m = _ATTACHED_BEFORE.search(head)
        if not m:
            return None
        new_sentence = head[:m.start()] + re.sub(r"^[\"'`)]", "", tail)
    new_sentence = tidy(new_sentence)
    ends_ok = not re.search(r"[.!?]$", sent.text) or re.search(r"[.!?]$", new_sentence)
    if len(words(new_sentence)) < 4 or _DANGLING_END.search(new_sentence) or not ends_ok:
        return None
    return tidy(text[:sent.start] + new_sentence + text[sent.end:])


def drop_fact(sample: Sample, rng: random.Random) -> Sample | None:
    """Delete the sentence or bullet carrying a fact shared with the source (or, in a one-sentence output, just the
    fact and its preposition); None when no shared fact can be removed cleanly."""
    text, source_norms = sample.output, content_norms(sample.source)
    located = [(sp, f) for sp, f in located_facts(text) if f.kind in CONTENT_KINDS and f.normalized in source_norms]
    if not located:
        return None
    units = unit_spans(text)
    body_units = [u for u in units if not is_heading(u)]
    shared = sorted({f.normalized for _, f in located})
    rng.shuffle(shared)

    def holders(norm: str) -> list[Span]:
        return [u for u in units if any(u.start <= sp.start and sp.end <= u.end
                                        for sp, f in located if f.normalized == norm)]

    # whole sentences first: the fact needing the fewest deletions (ideally one sentence), rng breaks ties
    for norm in sorted(shared, key=lambda n: len(holders(n))):
        hs = holders(norm)
        if not hs or any(is_heading(u) for u in hs) or len(body_units) - len(hs) < 1:
            continue
        new = remove_spans(text, hs)
        if norm not in content_norms(new):
            return replace(sample, output=new)
    # a single-sentence output (or a fact in every sentence): remove only the fact token and its attached words
    for norm in shared:
        hits = [(sp, u) for sp, f in located if f.normalized == norm for u in units if u.start <= sp.start <= u.end]
        if len(hits) != 1:
            continue
        new = _drop_fact_token(text, hits[0][1], hits[0][0])
        if new and norm not in content_norms(new):
            return replace(sample, output=new)
    return None


def _format_like(old: str, value: float) -> str:
    """Write ``value`` the way ``old`` is written: thousands separators and decimal places kept."""
    decimals = len(old.split(".")[1]) if "." in old else 0
    s = f"{value:,.{decimals}f}" if "," in old else f"{value:.{decimals}f}"
    return s


def _number_candidates(old: str, kind: str, rng: random.Random, is_pct: bool) -> list[str]:
    """Different plausible values for a supported number, best first (rng order)."""
    if kind == "status_code":
        codes = [str(c) for c in STATUS_CODES if str(c) != old]
        rng.shuffle(codes)
        return codes
    if kind == "version":
        parts = old.split(".")
        out = []
        for step in (1, 2, 3):
            if len(parts) >= 2:
                bumped = parts[:1] + [str(int(parts[1]) + step)] + ["0"] * (len(parts) - 2)
            else:
                bumped = [str(int(parts[0]) + step)]
            out.append(".".join(bumped))
        return out
    x = float(old.replace(",", ""))
    factors = list(NUMBER_FACTORS)
    rng.shuffle(factors)
    if 1900 <= x <= 2100 and "." not in old:  # a year: move it by a year or two
        raw = [x + d for d in (1, -1, 2)]
    elif x == 0:
        raw = [float(rng.choice((1, 2, 5)))]
    else:
        raw = [x * f for f in factors]
    out = []
    for v in raw:
        if is_pct and v > 100:
            continue
        s = _format_like(old, v if "." in old else max(1, round(v)))
        if s != old and s not in out:
            out.append(s)
    if not out:
        out.append(_format_like(old, x + 1))
    return out


def _source_numbers(source: str) -> set[str]:
    return {t.replace(",", "") for t in NUM_TOKEN.findall(source)}


def _add_unsupported_claim(sample: Sample, rng: random.Random) -> Sample:
    """Add one sentence with a specific number the source does not contain, after the last bullet or paragraph."""
    known = _source_numbers(sample.source)
    templates = list(UNSUPPORTED_CLAIMS)
    rng.shuffle(templates)
    for template, values in templates:
        fresh = [v for v in values if str(v) not in known]
        if fresh:
            claim = template.format(n=rng.choice(fresh))
            break
    else:  # every listed value appears in the source: pick one that does not
        n = next(k for k in range(41, 10_000) if str(k) not in known)
        claim = UNSUPPORTED_CLAIMS[0][0].format(n=n)
    text = sample.output.rstrip()
    if not text:
        return replace(sample, output=claim)
    lines = text.split("\n")
    bullets = [i for i, line in enumerate(lines) if BULLET_PREFIX.match(line)]
    if bullets:
        last = bullets[-1]
        marker = BULLET_PREFIX.match(lines[last]).group(0)
        lines.insert(last + 1, marker + claim)
        return replace(sample, output="\n".join(lines))
    paragraphs = text.split("\n\n")
    i = next((k for k, p in enumerate(paragraphs) if not HEADING.match(p)), None)
    if i is None or not re.search(r"[.!?][\"'”’)\]]*$", paragraphs[i].rstrip()):  # no sentence to continue
        return replace(sample, output=f"{text}\n\n{claim}")
    paragraphs[i] = paragraphs[i].rstrip() + " " + claim
    return replace(sample, output="\n\n".join(paragraphs))


def unsupported_number(sample: Sample, rng: random.Random) -> Sample | None:
    """Change a number, version or status code the source supports to a different plausible value (30 -> 45,
    2.3.1 -> 2.4.0, 429 -> 503); with none, add a sentence with a specific number the source lacks."""
    text, source_norms = sample.output, content_norms(sample.source)
    known = _source_numbers(sample.source)
    located = [(sp, f) for sp, f in located_facts(text)
               if f.kind in NUMERIC_KINDS and f.normalized in source_norms and NUM_TOKEN.search(f.value)
               and not re.fullmatch(r"[1-5][xX]{2}", f.value)]
    targets = sorted({(f.kind, f.normalized) for _, f in located})
    rng.shuffle(targets)
    before = content_norms(text, frozenset(NUMERIC_KINDS))
    for kind, norm in targets:
        spans = [sp for sp, f in located if (f.kind, f.normalized) == (kind, norm)]
        first = NUM_TOKEN.search(spans[0].text)
        is_pct = "%" in spans[0].text or "percent" in spans[0].text.lower()
        for new_num in _number_candidates(first.group(0), kind, rng, is_pct):
            if new_num.replace(",", "") in known:
                continue
            out = text
            for sp in sorted(spans, key=lambda s: s.start, reverse=True):
                m = NUM_TOKEN.search(sp.text)
                out = out[:sp.start + m.start()] + new_num + out[sp.start + m.end():]
            if content_norms(out, frozenset(NUMERIC_KINDS)) - source_norms - before:
                return replace(sample, output=out)
    return _add_unsupported_claim(sample, rng)


def leak_internal(sample: Sample, rng: random.Random) -> Sample | None:
    """Append the source's ticket key (or an invented INT-nnnn) to the first sentence and, when the source has an
    internal marker (team, channel, service, TODO...), add an "Internal: <marker>." line."""
    keys = ticket_keys(sample.source)
    key = rng.choice(keys) if keys else f"{FALLBACK_TICKET_PREFIX}-{rng.randint(1000, 9999)}"
    text = sample.output.rstrip()
    first = next((u for u in unit_spans(text) if not is_heading(u)), None)
    if first is None:
        text = f"{text}\n\n{key}".strip()
    else:
        text = text[:first.start] + insert_before_end(first.text, f" ({key})") + text[first.end:]
    markers = internal_markers(sample.source)
    if markers:
        marker = rng.choice(markers).rstrip(".;:, ")
        text += "\n\n" + INTERNAL_LINE.format(marker=marker)
    return replace(sample, output=text)


