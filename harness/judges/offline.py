"""The offline judge: deterministic, no network, fast. Grades from the checks a careful editor would make.

Each named check in ``CHECKS`` looks at (source, output) and returns a ``CheckResult``: a ``severity`` (0 = fine,
about 1 per clear problem, capped) and human-readable ``findings`` that quote what was found and say what to change.
A rubric spec's ``"offline"`` key maps each dimension to ``{check_name: weight}``; a dimension's score is
``clip(round_half_up(max - sum(weight * severity)), min, max)``. A dimension with no checks scores the maximum.

Release-note checks compare the note with its ticket (facts dropped, contradicted or invented; internal matter
leaked; vague, hyped, blaming or internal voice). Summary checks are the source-grounded analogues (unsupported
numbers and names, coverage of the article's salient words, redundancy, disfluency, length). Text addressed to the
grader (``harness.injection``) is removed before grading and flagged, so it can never raise a score.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from .. import facts as F
from ..injection import detect_injection
from ..rubric import Rubric
from ..types import Judgment, Sample

__all__ = ["OfflineJudge", "CheckResult", "CHECKS", "run_checks", "CLEAN_RATIONALE"]

CLEAN_RATIONALE = "No problems found by the offline checks (facts kept, nothing unsupported, no internal matter)."


@dataclass(frozen=True)
class CheckResult:
    severity: float = 0.0  # 0 = fine; ~1 per clear problem, capped per check
    findings: list[str] = field(default_factory=list)


_OK = CheckResult()


def _dimin(total: float, cap: float) -> float:
    """Diminishing severity: the first unit counts in full, each further unit half, capped."""
    if total <= 1.0:
        return max(0.0, total)
    return min(cap, 1.0 + 0.5 * (total - 1.0))


def _q(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _list(items: list[str], n: int = 4) -> str:
    items = list(dict.fromkeys(items))
    shown = ", ".join(f"'{_q(i, 40)}'" for i in items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


# ---------------------------------------------------------------------------------------------------------------
# Text analysis, cached per distinct text (checks share it; sources repeat across outputs)
# ---------------------------------------------------------------------------------------------------------------

_STOP = frozenset("""a about above after again against all also am an and any are aren't as at be because been before
being below between both but by can cannot could couldn't did didn't do does doesn't doing don't down during each few
for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself
his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
not of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll she's should
shouldn't so some such than that that's the their theirs them themselves then there there's these they they'd they'll
they're they've this those through to too under until up very was wasn't we we'd we'll we're we've were weren't what
what's when when's where where's which while who who's whom why why's with won't would wouldn't you you'd you'll you're
you've your yours yourself yourselves said says say will just now new also one two three may might must get got
s t n't 's 'll 're 've 'd like well even still back since around told mr mrs ms year years time day week
though although however whereas whether either neither thus hence therefore unless despite within without upon
onto among amongst across along toward towards via per rather quite really already yet ever never always often
sometimes usually many much less least fewer several every another also instead thing things way""".split())

# SummEval-style tokenization artefacts, undone before analysis ("team 's" -> "team's", "-lrb-" -> "(").
_DETOK = [
    (re.compile(r"-lrb-|-LRB-"), "("), (re.compile(r"-rrb-|-RRB-"), ")"),
    (re.compile(r"-lsb-|-LSB-"), "["), (re.compile(r"-rsb-|-RSB-"), "]"),
    (re.compile(r"``|''"), '"'),
    (re.compile(r" (['’](?:s|re|ve|ll|d|m|t)\b|n['’]t\b)", re.IGNORECASE), r"\1"),
    (re.compile(r"\( "), "("), (re.compile(r" \)"), ")"),
    (re.compile(r" ([.,;:!?%])(?=\s|$)"), r"\1"),
]
_ALPHA = re.compile(r"[a-z]+")
_TOKENIZED = re.compile(r"-[lr][rsc]b-| (?:'s|n't|,|\.)(?:\s|$)", re.IGNORECASE)
_CONTENT_WORD = re.compile(r"[a-z][a-z'’-]*[a-z]|[a-z]")
_NUM_TOKEN = re.compile(r"\d(?<![\w.]\d)(?:\d{0,2}(?:,\d{3})+(?:\.\d+)?|\d*(?:\.\d+)?)")
_WORD_NUMS = {"zero": 0, "no": 0, "none": 0, "one": 1, "single": 1, "once": 1, "a": 1, "an": 1, "two": 2,
              "twice": 2, "double": 2, "three": 3, "thrice": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
              "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
              "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
              "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
              "hundred": 100, "thousand": 1000, "million": 1e6, "billion": 1e9, "dozen": 12, "half": 0.5,
              "first": 1, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
              "eighth": 8, "ninth": 9, "tenth": 10}
_SCALE_AFTER = re.compile(r"\s*(million|billion|thousand|m|bn|k)\b", re.IGNORECASE)  # used with .match(text, pos)
_MAX_FACTS = 300  # facts compared per text: bounds the pairwise comparisons on pathological inputs
_TIME_SECONDS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800}


@lru_cache(maxsize=131072)
def _stem(w: str) -> str:
    """A crude, fast English stemmer: enough to match 'charges'/'charge', 'retried'/'retry', 'votes'/'voted'."""
    w = w.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3:
        return w
    for suf, rep in (("ies", "y"), ("ied", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""),
                     ("ly", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            if suf == "s" and w.endswith(("ss", "us", "is")):
                continue
            w = w[: len(w) - len(suf)] + rep
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


class _Doc:
    """Everything the checks need about one text, computed once."""

    __slots__ = ("raw", "text", "lower", "tokenized", "all_lower", "spans", "facts", "sents", "words", "content",
                 "stems", "wordset", "alpha", "numvals", "markers", "keys")

    def __init__(self, raw: str):
        self.raw = raw
        self.tokenized = bool(_TOKENIZED.search(raw))
        text = raw
        if self.tokenized:
            for rx, rep in _DETOK:
                text = rx.sub(rep, text)
        self.text = text
        self.lower = text.lower()
        self.all_lower = text.islower()
        self.alpha = frozenset(_ALPHA.findall(self.lower))  # letter runs: the gate for the phrase patterns
        self.spans = F._fact_spans(text, self.lower, self.alpha)[:_MAX_FACTS]
        self.facts = [f for _, _, f in self.spans]
        self.sents = F.sentences(text)
        self.words = F.words(self.lower)
        self.wordset = frozenset(self.words)
        self.content = [w for w in self.words if w[0].isalpha() and w not in _STOP and len(w) > 1]
        self.stems = frozenset(map(_stem, set(self.content)))
        vals: set[float] = set()
        for m in _NUM_TOKEN.finditer(text):
            v = float(m.group(0).replace(",", ""))
            vals.add(v)
            sm = _SCALE_AFTER.match(text, m.end())
            if sm:
                vals.add(v * {"million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "thousand": 1e3, "k": 1e3}[
                    sm.group(1).lower()])
        for w in self.words:
            if w in _WORD_NUMS:
                vals.add(float(_WORD_NUMS[w]))
        for f in self.facts:
            if f.kind == "number":
                vals.add(F.number_parts(f.normalized.lstrip("$€£"))[0])
        self.numvals = frozenset(vals)
        self.markers = F._internal_markers(text, self.lower, self.alpha)
        self.keys = list(dict.fromkeys(f.normalized for f in self.facts if f.kind == "ticket_key"))


@lru_cache(maxsize=1024)  # ~50 KB per 1 KB text: a bounded cache, enough for sources shared by many outputs
def _doc(text: str) -> _Doc:
    return _Doc(text)


def _gate(words: str) -> frozenset:
    return frozenset(words.split())


class _Phrases:
    """A phrase pattern tried only where one of its possible first words starts.

    Built from parts ``(first_words, pattern, required_words)``: ``pattern`` can only match starting at one of
    ``first_words`` and only if one of ``required_words`` (when given) occurs in the text. Candidate positions are
    found with ``str.find`` and the combined pattern is matched there: the same matches as scanning the whole text
    with ``finditer`` (non-overlapping, leftmost first), at a fraction of the cost.
    """

    def __init__(self, parts: list[tuple], flags: int = re.IGNORECASE):
        self.parts = [(frozenset(p[0].split()), frozenset(p[2].split()) if len(p) > 2 and p[2] else None)
                      for p in parts]
        self.rx = re.compile(r"\b(?:" + "|".join(f"(?:{p[1]})" for p in parts) + ")", flags)

    def hits(self, doc: "_Doc") -> list[str]:
        return [g for _, _, g in self.spans(doc)]

    def spans(self, doc: "_Doc") -> list[tuple[int, int, str]]:
        words = doc.alpha
        cand: set[str] = set()
        for first, need in self.parts:
            if (need is None or not need.isdisjoint(words)) and not first.isdisjoint(words):
                cand |= first & words
        if not cand:
            return []
        text, low = doc.text, doc.lower
        if len(low) != len(text):  # lower-casing changed offsets (rare Unicode): scan the plain way
            return [(m.start(), m.end(), m.group(0)) for m in self.rx.finditer(text)]
        found: list[tuple[int, int, str]] = []
        for w in cand:
            n = len(w)
            i = low.find(w)
            while i >= 0:
                if (i == 0 or not low[i - 1].isalnum()) and not low[i + n:i + n + 1].isalpha():
                    m = self.rx.match(text, i)
                    if m:
                        found.append((i, m.end(), m.group(0)))
                i = low.find(w, i + n)
        if len(found) > 1:
            found.sort()
            keep, end = [], -1
            for a, b, g in found:
                if a >= end:
                    keep.append((a, b, g))
                    end = b
            found = keep
        return found


# ---------------------------------------------------------------------------------------------------------------
# Fact comparison (shared by dropped / contradicted / unsupported checks)
# ---------------------------------------------------------------------------------------------------------------

_NOUN_CANON = {"char": "character", "chr": "character", "req": "request", "msg": "message", "sec": "second",
               "try": "attempt", "tries": "attempt", "retry": "attempt", "retrie": "attempt", "time": "attempt",
               "row": "row", "item": "item", "result": "result", "entry": "item", "record": "row"}
# Lines/sentences of a ticket that are about the team's own work, not the customer's change.
_INTERNAL_LINE = re.compile(
    r"^\s*(?:owner|owners|impl(?:emented)?(?:\s+in)?|reason|root\s*cause|rca|backend|infra|cc|fe\s+guild|be|todo|"
    r"fixme|notes?\s+to\s+self|internal|debug|repro|workaround|context|why|assignee|reviewer|eng|qa|tested|"
    r"migration|rollout\s+plan|perf\s+data)\b[\s:(-]", re.IGNORECASE)
_G_INTERNAL_CTX = _gate("tenant tenants abuse triggered staged canary staging crash error workaround regression "
                        "hw owner impl call oncall slack")
_INTERNAL_CTX = re.compile(
    r"\b(?:tenants?|abuse|triggered\s+(?:this|by)|staged\s+rollout|canary|in\s+staging|p9[059]|crash\s+rate|"
    r"error\s+rate|workaround|regression\s+in|hw\s+accel|owner|impl\s+in|on-?call|slack)\b", re.IGNORECASE)
# "50MB -> 25MB", "100 → 25", "15 to 16": an old value changed to a new one.
_ARROW_GAP = re.compile(r"^\s*(?:->|-->|→|=>|⇒|to)\s*$", re.IGNORECASE)
# "30 min (was 24h)", "default 2, was hardcoded 3": the new value, then the old one.
_WAS_GAP = re.compile(r"^\s*[,;(]?\s*(?:was|previously|formerly|prev\.?|from|old|vs\.?)\b[\s\w]{0,20}?$",
                      re.IGNORECASE)
# In a note, an old value may be mentioned as old: "(was 10)", "previously three", "instead of a generic 500".
_OLD_MARK = re.compile(r"(?:\bwas|\bpreviously|\bformerly|\bfrom|\binstead\s+of|\bused\s+to(?:\s+be)?|\bno\s+longer|"
                       r"\bup\s+from|\bdown\s+from|\bold|\bbefore|\brather\s+than|\breplac\w*|\bbumped\s+from|"
                       r"\braised\s+from|\blowered\s+from)\b[^.;\n]{0,30}$", re.IGNORECASE)
# In a ticket, a value right after these words is the old behaviour ("returned 500 when...", "was 24h").
_SRC_OLD = re.compile(r"\b(?:was|were|previously|formerly|prev\.?|returned|used\s+to(?:\s+\w+)?|had\s+been|"
                      r"old(?:\s+\w+)?|before)\s+(?:an?\s+|the\s+)?[\"'`(]?$", re.IGNORECASE)
_PLATFORMS = _Phrases([("ios android windows macos linux web safari chrome firefox edge ipad tablet tablets mobile "
                        "desktop", r"(?:ios|android|windows|macos|linux|web(?:\s+app)?|safari|chrome|firefox|edge|ipad|"
                        r"tablets?|mobile|desktop)\b")])


def _unit_class(unit: str) -> str:
    u = unit.lstrip("/")
    if unit.startswith("/"):
        return "rate"
    if u in _TIME_SECONDS or u in ("mo", "yr"):
        return "time"
    if u in ("b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib"):
        return "size"
    return u


def _noun(f: F.Fact) -> str:
    n = F.number_noun(f)
    return _NOUN_CANON.get(n, n)


def _quantity(f: F.Fact) -> tuple[float, str, str]:
    """(value in base unit, unit class, noun) of a number fact."""
    return _quantity_of(f.normalized, f.value)


@lru_cache(maxsize=65536)
def _quantity_of(norm: str, value: str) -> tuple[float, str, str]:
    f = F.Fact("number", value, norm)
    cur = norm[0] if norm[:1] in ("$", "€", "£") else ""
    v, unit = F.number_parts(norm[1:] if cur else norm)
    base = unit.split("/")[0] if unit and not unit.startswith("/") else unit
    if base in _TIME_SECONDS and "/" not in unit:
        return v * _TIME_SECONDS[base], "time", _noun(f)
    if cur:
        return v, "money" + cur, _noun(f)
    return v, _unit_class(unit) if unit else "", _noun(f)


def _num_equal(a: F.Fact, b: F.Fact) -> bool:
    va, ca, na = _quantity(a)
    vb, cb, nb = _quantity(b)
    if not math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-9):
        # "24h" vs "1 day", handled by base units; otherwise unequal
        return False
    if ca and cb and ca != cb:
        return False
    return True


def _num_same_quantity(a: F.Fact, b: F.Fact) -> bool:
    """Do two numbers measure the same kind of thing (so different values contradict)?"""
    _, ca, na = _quantity(a)
    _, cb, nb = _quantity(b)
    if ca and cb:
        return ca == cb and (ca not in ("", "x") or (na and na == nb))
    if not ca and not cb:
        return bool(na) and na == nb
    return False


@dataclass
class _Comparison:
    dropped: list[tuple[F.Fact, float]]
    contradicted: list[tuple[F.Fact, F.Fact, str]]  # (output fact, source fact, how)
    unsupported: list[F.Fact]
    platforms_dropped: list[str]


def _internal_source_spans(src: _Doc) -> list[tuple[int, int]]:
    """Character ranges of the source that are internal: marker matches and internal lines/sentences."""
    spans: list[tuple[int, int]] = []
    text = src.text
    for mk in src.markers:
        i = text.find(mk)
        while i >= 0:
            spans.append((i, i + len(mk)))
            i = text.find(mk, i + 1)
    pos = 0
    ctx = not _G_INTERNAL_CTX.isdisjoint(src.alpha)
    for line in re.split(r"(?<=\n)|(?<=[.;])\s+", text):
        if not line:
            continue
        start = text.find(line, pos)
        if start < 0:
            continue
        pos = start + len(line)
        if _INTERNAL_LINE.match(line) or ctx and _INTERNAL_CTX.search(line):
            spans.append((start, start + len(line)))
    return spans


def _in_spans(spans: list[tuple[int, int]], a: int, b: int) -> bool:
    return any(a < e and s < b for s, e in spans)


def _in_parens(text: str, s: int, e: int) -> bool:
    """Is text[s:e] inside a short parenthetical ("(API 29)", "(Android System WebView 121 regression)")?"""
    o = text.rfind("(", max(0, s - 60), s)
    if o < 0 or ")" in text[o:s]:
        return False
    c = text.find(")", e, e + 60)
    return c >= 0 and "(" not in text[e:c]


def _change_pairs(src: _Doc) -> list[tuple[F.Fact, F.Fact]]:
    """(old, new) number pairs stated in the source: "50MB -> 25MB", "30 min (was 24h)"."""
    pairs = []
    nums = [(s, e, f) for s, e, f in src.spans if f.kind in ("number", "status_code", "version")]
    for (s1, e1, f1), (s2, e2, f2) in zip(nums, nums[1:]):
        gap = src.text[e1:s2]
        if len(gap) > 30:
            continue
        if f1.kind == "number" and f2.kind == "number":
            if not (_num_same_quantity(f1, f2) or (not _quantity(f1)[1] or not _quantity(f2)[1])):
                continue
            if _quantity(f1)[1] and _quantity(f2)[1] and _quantity(f1)[1] != _quantity(f2)[1]:
                continue
        elif f1.kind != f2.kind:
            continue
        if _ARROW_GAP.match(gap):
            pairs.append((f1, f2))
        elif _WAS_GAP.match(gap):
            pairs.append((f2, f1))
    return pairs


def _supported(f: F.Fact, src: _Doc) -> bool:
    if f.kind == "number":
        v, cls, _ = _quantity(f)
        for g in src.facts:
            if g.kind == "number" and _num_equal(f, g):
                return True
        if any(_num_same_quantity(f, g) for g in src.facts if g.kind == "number"):
            return False  # same quantity, different value: not supported
        if cls == "time":
            # a bare value that appears in the source with another time unit is not support ("30s" vs "30 min")
            return any(math.isclose(v, _quantity(g)[0]) for g in src.facts if g.kind == "number" and
                       _quantity(g)[1] == "time") or (F.number_parts(f.normalized)[0] in src.numvals and not any(
                           _quantity(g)[1] == "time" for g in src.facts if g.kind == "number"))
        raw_v = F.number_parts(f.normalized.lstrip("$€£"))[0]
        return raw_v in src.numvals or v in src.numvals
    if f.kind == "status_code":
        code = f.normalized
        if code.endswith("xx"):
            return any(g.kind == "status_code" and g.normalized[0] == code[0] for g in src.facts) or code in src.lower
        return float(code) in src.numvals
    if f.kind == "version":
        nv = f.normalized
        for g in src.facts:
            if g.kind in ("version", "number") and g.normalized:
                gn = g.normalized
                if gn == nv or gn.startswith(nv + ".") or nv.startswith(gn + ".") or gn == nv + ".0":
                    return True
        return nv in src.lower
    if f.kind == "date":
        nd = f.normalized
        for g in src.facts:
            if g.kind != "date":
                continue
            gd = g.normalized
            if gd == nd or gd.endswith("-" + nd) or nd.endswith("-" + gd) or gd.startswith(nd + "-") or \
                    nd.startswith(gd + "-") or gd[-5:] == nd[-5:] and len(gd) >= 5 and len(nd) >= 5 and gd[4] == "-" \
                    and nd[2] == "-":
                return True
        return False
    if f.kind == "endpoint":
        return any(g.kind == "endpoint" and (g.normalized == f.normalized or g.normalized.endswith(f.normalized))
                   for g in src.facts) or f.normalized in src.lower
    if f.kind == "identifier":
        if f.normalized in src.lower:
            return True
        parts = [p for p in re.split(r"[^a-z0-9]+", f.normalized) if p]
        return bool(parts) and all(p in src.wordset or p in src.lower for p in parts)
    return True


def _kept(f: F.Fact, out: _Doc) -> bool:
    """Is source fact ``f`` present in the output in some form?"""
    if f.kind == "number":
        v, cls, _ = _quantity(f)
        for g in out.facts:
            if g.kind == "number" and _num_equal(f, g):
                return True
        raw_v = F.number_parts(f.normalized.lstrip("$€£"))[0]
        if cls == "time":
            # "30 min" must not be "kept" by "30 seconds"
            if any(g.kind == "number" and _quantity(g)[1] == "time" and math.isclose(_quantity(g)[0], raw_v) and
                   not math.isclose(_quantity(g)[0], v) for g in out.facts):
                return False
        return raw_v in out.numvals or v in out.numvals
    if f.kind == "status_code":
        code = f.normalized
        if code.endswith("xx"):
            return code in out.lower or any(g.kind == "status_code" and g.normalized[0] == code[0] for g in out.facts)
        return float(code) in out.numvals
    if f.kind == "version":
        nv = f.normalized
        if nv in out.lower:
            return True
        return any(g.kind in ("version", "number") and (g.normalized == nv or nv == g.normalized + ".0" or
                                                        g.normalized == nv + ".0") for g in out.facts)
    if f.kind == "date":
        return any(g.kind == "date" and (g.normalized == f.normalized or g.normalized[-5:] == f.normalized[-5:])
                   for g in out.facts) or f.value.lower() in out.lower
    if f.kind == "endpoint":
        return any(g.kind == "endpoint" and g.normalized == f.normalized for g in out.facts) or \
            f.normalized in out.lower
    if f.kind == "identifier":
        if f.normalized in out.lower or f.value.lower() in out.lower:
            return True
        parts = [p for p in re.split(r"[^a-z0-9]+", f.normalized) if p]
        return bool(parts) and all(p in out.wordset for p in parts)
    return True


@lru_cache(maxsize=512)
def _compare(source: str, output: str) -> _Comparison:
    src, out = _doc(source), _doc(output)
    internal = _internal_source_spans(src)
    pairs = _change_pairs(src)
    old_ids = {id(o) for o, _ in pairs}
    src_old = old_ids | {id(f) for s, e, f in src.spans if _SRC_OLD.search(src.text, max(0, s - 24), s)}
    contradicted: list[tuple[F.Fact, F.Fact, str]] = []
    covered_src: set[int] = set()
    covered_out: set[int] = set()

    # 1) old value stated as current: ticket "50MB -> 25MB", note "up to 50 MB" (without "was"/"previously")
    for old, new in pairs:
        if _kept(new, out):
            continue
        # the old value also stands elsewhere in the source as a current value ("max stays 100"): not "old"
        if sum(1 for _, _, f in src.spans if f.kind == old.kind and f.normalized == old.normalized) > 1 or \
                sum(1 for _, _, f in src.spans if f.kind == "number" and old.kind == "number" and
                    _num_equal(f, old)) > 1:
            continue
        for s, e, g in out.spans:
            if g.kind != old.kind:
                continue
            same = _num_equal(g, old) if g.kind == "number" else g.normalized == old.normalized
            if same and not _OLD_MARK.search(out.text[max(0, s - 40):s]):
                contradicted.append((g, new, "old"))
                covered_src.add(id(new))
                covered_out.add(id(g))
                break

    # 2) output facts not supported by the source
    unsupported: list[F.Fact] = []
    for g in out.facts:
        if g.kind == "ticket_key" or id(g) in covered_out:
            continue
        if _supported(g, src):
            continue
        if g.kind == "identifier" and not re.search(r"[_.`(\-]|^[A-Z0-9_]+$|[a-z][A-Z]", g.value) and \
                not g.value.startswith("-"):
            continue  # plain PascalCase words: product names, not checkable specifics
        rivals = []
        for s, e, h in src.spans:
            if _in_spans(internal, s, e):
                continue
            if g.kind == "number" and h.kind == "number" and _num_same_quantity(g, h):
                rivals.append(h)
            elif g.kind == h.kind and g.kind in ("status_code", "version", "date", "endpoint"):
                if g.kind == "status_code" and g.normalized.endswith("xx"):
                    continue
                rivals.append(h)
        # the source fact it most likely replaced: a current value the output does not state
        rival = next((h for h in rivals if not _kept(h, out) and id(h) not in src_old), None) or next(
            (h for h in rivals if not _kept(h, out)), rivals[0] if rivals else None)
        if rival is not None and g.kind != "identifier":
            contradicted.append((g, rival, "value"))
            covered_src.add(id(rival))
        else:
            unsupported.append(g)

    # 3) source facts the output drops (customer-relevant only)
    dropped: list[tuple[F.Fact, float]] = []
    seen_norm: set[tuple[str, str]] = set()
    for s, e, f in src.spans:
        if f.kind == "ticket_key" or id(f) in covered_src or _in_spans(internal, s, e):
            continue
        key = (f.kind, f.normalized)
        if key in seen_norm:
            continue
        seen_norm.add(key)
        if _kept(f, out):
            continue
        w = 1.0
        if id(f) in src_old:
            w = 0.25  # the old value of a change: nice to have ("was 256")
        if _in_parens(src.text, s, e):
            w = min(w, 0.25)  # a parenthetical aside ("Android 10+ (API 29)")
        if f.kind == "identifier" and not re.search(r"[_.`(\-]|^[A-Z0-9_]+$|[a-z][A-Z]", f.value) and \
                not f.value.startswith("-"):
            w = min(w, 0.5)
        dropped.append((f, w))
    plats = []
    out_plats = {h.lower().split()[0] for h in _PLATFORMS.hits(out)}
    for a, b, h in _PLATFORMS.spans(src):
        p = h.lower().split()[0]
        if p not in out_plats and p not in plats and not _in_spans(internal, a, b):
            plats.append(p)
    return _Comparison(dropped, contradicted, unsupported, plats)


# ---------------------------------------------------------------------------------------------------------------
# Release-note checks
# ---------------------------------------------------------------------------------------------------------------

_KIND_NAME = {"number": "figure", "status_code": "HTTP status", "version": "version", "identifier": "name",
              "endpoint": "endpoint", "date": "date"}


def check_dropped_fact(source: str, output: str) -> CheckResult:
    """Customer-relevant ticket facts (numbers, codes, versions, names, endpoints, dates, platforms) missing."""
    cmp = _compare(source, output)
    items = cmp.dropped
    total = sum(w for _, w in items) + 0.5 * len(cmp.platforms_dropped)
    if total <= 0:
        return _OK
    items = sorted(items, key=lambda t: -t[1])
    names = [f"{_KIND_NAME[f.kind]} '{_q(f.value, 40)}'" for f, _ in items[:4]]
    names += [f"platform '{p}'" for p in cmp.platforms_dropped[:2]]
    more = len(items) + len(cmp.platforms_dropped) - len(names)
    n = len(names) + max(0, more)
    msg = (f"drops the source's {', '.join(names)}" + (f" (+{more} more)" if more > 0 else "")
           + (" — state them as the source gives them" if n > 1 else " — state it as the source gives it"))
    return CheckResult(_dimin(total, 1.5), [msg])


def check_contradicted_fact(source: str, output: str) -> CheckResult:
    """A fact of the same kind with a different value than the ticket's (ticket 30s, note 60s)."""
    cmp = _compare(source, output)
    if not cmp.contradicted:
        return _OK
    found = []
    for g, h, how in cmp.contradicted[:3]:
        if how == "old":
            found.append(f"states the old value '{_q(g.value, 30)}' as current; the ticket changes it to "
                         f"'{_q(h.value, 30)}' — use the new value")
        else:
            found.append(f"says '{_q(g.value, 30)}' where the source says '{_q(h.value, 30)}' — correct it")
    return CheckResult(_dimin(len(cmp.contradicted), 2.0), found)


def check_unsupported_specific(source: str, output: str) -> CheckResult:
    """Numbers, dates, percentages, versions, codes, endpoints or code names in the output the source lacks."""
    cmp = _compare(source, output)
    items = [f for f in cmp.unsupported if f.kind != "identifier"]
    ids = [f for f in cmp.unsupported if f.kind == "identifier"]
    total = len(items) + 0.5 * len(ids)
    if total <= 0:
        return _OK
    what = _list([f.value for f in items + ids])
    return CheckResult(_dimin(total, 2.0), [f"states {what}, not supported by the source — remove or correct it"])


_CLAIM = _Phrases([
    ("unlimited limitless everyone always guaranteed guarantee guarantees instant instantly",
     r"(?:unlimited|limitless|everyone|always|guaranteed?|guarantees|instant(?:ly)?)\b"),
    ("no", r"no\s+limits?\b", "limit limits"),
    ("every", r"every\s+(?:user|customer|plan|account)\b", "user customer plan account"),
    ("all", r"all\s+(?:users|customers|plans|accounts|regions)\b", "users customers plans accounts regions"),
    ("never", r"never\s+(?:again|fails?|lose)\b", "again fail fails lose"),
    ("zero", r"zero\s+(?:downtime|errors|latency)\b", "downtime errors latency"),
    ("real realtime", r"(?:real[- ]time|realtime)\b"),
    ("in", r"in\s+seconds\b", "seconds"),
    ("much far significantly dramatically", r"(?:much|far|significantly|dramatically)\s+(?:faster|quicker|smaller|"
     r"cheaper|better)\b", "faster quicker smaller cheaper better"),
    ("faster", r"faster\s+than\s+ever\b", "ever"),
    ("fully", r"fully\s+(?:secure|compliant|supported)\b", "secure compliant supported"),
    ("coming", r"coming\s+(?:soon|next\s+\w+)\b", "soon next"),
    ("next", r"next\s+(?:month|week|quarter|release)\b", "month week quarter release"),
    ("available", r"available\s+(?:to\s+everyone|today|now\s+for\s+all)\b", "everyone today all"),
])
# Numeric sweeping claims: "3x faster", "100% uptime".
_CLAIM_NUM = re.compile(r"\d(?<![\w.]\d)(?:\d*x\s+(?:faster|quicker|smaller|cheaper|better)|"
                        r"(?<=1)00%\s+(?:uptime|reliable|"
                        r"accurate))\b", re.IGNORECASE)


def check_unsupported_claim(source: str, output: str) -> CheckResult:
    """Sweeping or promissory claims ("unlimited", "everyone", "real-time", "coming next month") the source lacks."""
    out = _doc(output)
    src = _doc(source)
    bad = []
    for phrase in _CLAIM.hits(out) + [m.group(0) for m in _CLAIM_NUM.finditer(out.text)]:
        key = phrase.lower().split()[0]
        if key in src.lower or phrase.lower() in src.lower:
            continue
        bad.append(phrase)
    if not bad:
        return _OK
    return CheckResult(_dimin(len(set(b.lower() for b in bad)), 2.0),
                       [f"claims {_list(bad)} without support in the source — cut or qualify"])


# Names on a ticket's internal lines ("Owner: team-ledger", "Impl in charge-router", "Backend: session-store").
_OWNER_LINE = re.compile(r"\b(?:owner|owned\s+by|impl(?:emented)?\s+in|fixed\s+by|migration\s+by|backend|"
                         r"assignee|cc|team)\s*:?\s+((?:[a-z][\w]*-)+[\w]+|[a-z]+_[a-z_]+)", re.IGNORECASE)


_G_OWNER = frozenset("owner owned impl implemented fixed migration backend assignee cc team".split())


@lru_cache(maxsize=1024)
def _internal_names_cached(source: str) -> tuple[str, ...]:
    doc = _doc(source)
    if _G_OWNER.isdisjoint(doc.alpha):
        return ()
    return tuple(dict.fromkeys(m.group(1) for m in _OWNER_LINE.finditer(doc.text)))


def _internal_names(source: str) -> list[str]:
    return list(_internal_names_cached(source))


def check_internal_leak(source: str, output: str) -> CheckResult:
    """Ticket keys, TODO/FIXME, internal team/service/host names, stack traces or process talk in the output."""
    out, src = _doc(output), _doc(source)
    items: list[str] = list(out.keys)
    low = out.lower
    for mk in out.markers:
        items.append(mk)
    # internal names the ticket uses (service, team, host, owner) repeated in the output
    for mk in list(src.markers) + _internal_names(source):
        if mk.lower() in low and not any(mk.lower() in i.lower() or i.lower() in mk.lower() for i in items):
            items.append(mk)
    items = list(dict.fromkeys(items))
    if not items:
        return _OK
    return CheckResult(_dimin(len(items), 2.0),
                       [f"leaks internal matter {_list(items)} — remove ticket keys, TODOs and internal names"])


_VAGUE = _Phrases([
    ("various numerous several some miscellaneous misc minor general assorted other",
     r"(?:various|numerous|several|some|miscellaneous|misc|minor|general|assorted|other)\s+(?:improvements?|"
     r"enhancements?|fixes|bug\s*fixes|bugs|issues|changes|updates|tweaks|problems|stuff|things)\b"),
    ("bug", r"bug\s+fixes\s+and\s+(?:performance\s+)?improvements\b", "improvements"),
    ("improvements", r"improvements\s+and\s+(?:bug\s+)?fixes\b", "fixes"),
    ("fixed", r"fixed\s+(?:stuff|things|some\s+\w+|an?\s+issue|a\s+bug|bugs|issues)\b"),
    ("improved", r"improved\s+(?:stability|performance|reliability|things|the\s+experience)\b"),
    ("performance stability", r"(?:performance|stability)\s+improvements\b", "improvements"),
    ("updated", r"updated\s+some\s+\w+", "some"),
    ("some", r"some\s+(?:issues|cases|situations|users|settings|scenarios|behaviou?r)\b"),
    ("in", r"in\s+(?:some|certain)\s+(?:cases|situations|scenarios|circumstances)\b",
     "cases situations scenarios circumstances"),
    ("certain", r"certain\s+(?:cases|users|conditions|settings|scenarios)\b"),
    ("depending", r"depending\s+on\s+(?:your|the)\s+(?:settings|configuration|setup|situation)\b"),
    ("sooner later faster slower fewer more less", r"(?:sooner|later|faster|slower|fewer|more|less)\s+than\s+"
     r"before\b", "before"),
    ("and", r"and\s+(?:so\s+on|more)\b", "so more"),
    ("etc", r"etc\b\.?"),
    ("among", r"among\s+other\s+things\b", "things"),
    ("a", r"a\s+(?:number|variety)\s+of\s+(?:improvements|fixes|changes|issues)\b", "number variety"),
    ("under", r"under\s+the\s+hood\b", "hood"),
])


def check_vague_wording(source: str, output: str) -> CheckResult:
    """Vague phrases that hide what changed ("various improvements", "some issues", "etc.")."""
    hits = [h.strip() for h in _VAGUE.hits(_doc(output))]
    if not hits:
        return _OK
    return CheckResult(min(2.0, float(len(hits))),
                       [f"vague wording {_list(hits)} — say exactly what changed and for whom"])


_AND_JOIN = re.compile(r"\b(?:and|, and|; and)\b")


def check_wall_of_text(source: str, output: str) -> CheckResult:
    """Very long sentences, several changes run together, or a long unbroken paragraph."""
    out = _doc(output)
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
        found.append(f"sentence of {len(longest.split())} words ('{_q(longest, 50)}') — split it and lead with the "
                     "change")
    for para in re.split(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)", out.text):
        n = len(para.split())
        if n > 120 and "\n" not in para.strip():
            sev += 0.5
            found.append(f"one unbroken paragraph of {n} words — use a short lead sentence and a list")
            break
    if sev <= 0:
        return _OK
    return CheckResult(min(2.0, sev), found)


_HYPE_STRONG = _Phrases([
    ("revolutionary revolutionize revolutionise revolutionizes revolutionises revolutionized revolutionised "
     "revolutionizing revolutionising", r"revolutionary|revolutioni[sz](?:e|es|ed|ing)"),
    ("game gamechanging gamechanger", r"game[- ]?chang(?:ing|er)"),
    ("blazing blazingly lightning", r"(?:blazing(?:ly)?|lightning)[- ]fast", "fast"),
    ("mind", r"mind[- ]blowing", "blowing"),
    ("huge big", r"(?:huge|big)\s+news", "news"),
    ("this", r"this\s+changes\s+everything", "everything"),
    ("best world", r"best[- ]in[- ]class|world[- ]class", "class"),
    ("cutting", r"cutting[- ]edge", "edge"),
    ("next", r"next[- ]level", "level"),
    ("supercharge supercharged supercharges supercharging", r"supercharg\w*"),
    ("insanely unbelievable unbelievably", r"insanely|unbelievabl[ey]"),
    ("jaw", r"jaw[- ]dropping", "dropping"),
    ("ground groundbreaking", r"ground[- ]?breaking"),
    ("most", r"most\s+powerful", "powerful"),
    ("ever", r"ever\s+built", "built"),
    ("than", r"than\s+ever(?:\s+before)?", "ever"),
    ("say", r"say\s+hello\s+to", "hello"),
])
_HYPE_MILD = _Phrases([
    ("amazing awesome incredible fantastic stunning magical delightful thrilled",
     r"(?:amazing|awesome|incredible|fantastic|stunning|magical|delightful|thrilled)\b"),
    ("excited", r"excited\s+to\b"),
    ("we", r"(?:we['’]re|we\s+are)\s+(?:so\s+)?(?:excited|thrilled|happy|proud)\b", "excited thrilled happy proud"),
    ("great good", r"(?:great|good)\s+news\b", "news"),
    ("love", r"love\s+it\b", "it"),
    ("going", r"going\s+to\s+love\b", "love"),
    ("whole", r"whole\s+lot\b", "lot"),
    ("seamless seamlessly effortless effortlessly powerful smarter massive epic finally wow",
     r"(?:seamless(?:ly)?|effortless(?:ly)?|powerful|smarter|massive|epic|finally|wow)\b"),
    ("is are", r"(?:is|are)\s+here(?=!)", "here"),
    ("just", r"just\s+got\b", "got"),
])
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2728]")


def check_hype(source: str, output: str) -> CheckResult:
    """Marketing hype: superlatives, "game-changing", excitement, emoji, exclamation marks."""
    text = _doc(output).text
    doc = _doc(output)
    strong = _HYPE_STRONG.hits(doc)
    mild = _HYPE_MILD.hits(doc)
    emoji = [] if text.isascii() else _EMOJI.findall(text)
    bangs = text.count("!")
    multi = len(re.findall(r"!{2,}", text))
    sev = len(strong) + 0.5 * len(mild) + 1.0 * min(len(emoji), 2) + (0.5 if bangs else 0) + 0.25 * max(
        0, bangs - 1) + 0.5 * multi
    if sev <= 0:
        return _OK
    shown = strong + mild + emoji + (["!" * 2 if multi else "!"] if bangs else [])
    return CheckResult(min(2.5, sev), [f"hype {_list(shown)} — state the change plainly"])


_APOLOGY = _Phrases([
    ("we", r"(?:we\s+are|we['’]re)\s+(?:so\s+|very\s+|deeply\s+|truly\s+)?sorry\b", "sorry"),
    ("we", r"we\s+(?:sincerely\s+)?apologi[sz]e\b", "apologize apologise"),
    ("apologies", r"apologies\s+for\b"),
    ("sorry", r"sorry\s+for\s+(?:any|the)\s+inconvenience\b", "inconvenience"),
    ("for", r"for\s+any\s+inconvenience\b", "inconvenience"),
    ("we", r"we\s+(?:deeply\s+)?regret\b", "regret"),
])


def check_apology(source: str, output: str) -> CheckResult:
    """Gratuitous apology or drama ("we're so sorry for any inconvenience")."""
    hits = _APOLOGY.hits(_doc(output))
    if not hits:
        return _OK
    return CheckResult(1.0, [f"apologetic drama {_list(hits)} — drop it and state the change"])


_BLAME_OBJ = "bug fault mistake broken outage error bad"
_G_BLAME_OBJ = _gate(_BLAME_OBJ)
_BLAME = _Phrases([
    ("not", r"not\s+our\s+fault\b", "fault"),
    ("their", r"their\s+(?:bug|fault|mistake|broken|outage|error|bad|side|end)\b", _BLAME_OBJ + " side end"),
    ("the", r"the\s+(?:vendor|provider)['’]?s?\s+(?:bug|fault|mistake|broken|outage|error|bad)\b", _BLAME_OBJ),
    ("broken buggy faulty", r"(?:broken|buggy|faulty)\s+(?:(?-i:[A-Z])[\w ]{0,20}\s+)?(?:update|release|firmware|"
     r"library|sdk|api)\b", "update release firmware library sdk api"),
    ("caused", r"caused\s+by\s+(?:users?|customers?|you|your|a\s+third[- ]party|the\s+vendor|(?-i:[A-Z])\w+)"),
    ("user", r"user\s+error\b", "error"),
    ("users user customers customer you", r"(?:users?|customers?|you)\s+(?:were|was)\s+(?:using\s+it\s+wrong|"
     r"misusing|doing\s+it\s+wrong)\b", "wrong misusing"),
    ("if", r"if\s+you\s+had\s+(?:read|followed)\b", "read followed"),
    ("as", r"as\s+(?:clearly\s+)?documented\b", "documented"),
    ("you users customers", r"(?:you|users|customers)\s+(?:incorrectly|wrongly)\b", "incorrectly wrongly"),
    ("team", r"team\s+(?:broke|messed\s+up|screwed\s+up)\b", "broke messed screwed"),
    ("blame blamed blames", r"blame[sd]?\b"),
])
# A named party's fault: "Samsung's broken ...", "AWS's outage".
_BLAME_POSSESSIVE = re.compile(r"[A-Z](?<![\w][A-Z])\w+['’]s\s+(?:bug|fault|mistake|broken|outage|error|bad)\b")


def check_blame(source: str, output: str) -> CheckResult:
    """Blaming customers, vendors, other teams or named parties."""
    doc = _doc(output)
    hits = _BLAME.hits(doc)
    if not _G_BLAME_OBJ.isdisjoint(doc.alpha):
        hits += [m.group(0) for m in _BLAME_POSSESSIVE.finditer(doc.text)]
    if not hits:
        return _OK
    return CheckResult(_dimin(len(set(hits)), 2.0),
                       [f"blames others {_list(hits)} — describe the problem and the fix neutrally"])


_VOICE_STRONG = _Phrases([
    ("refactor refactored refactoring refactors", r"refactor(?:ed|ing|s)?\b"),
    ("repro reproduced repros", r"repro(?:duced|s)?\b"),
    ("hotfix hotfixed", r"hotfix(?:ed)?(?:\s+deployed)?\b"),
    ("deployed", r"deployed\s+to\b", "to"),
    ("we", r"we\s+hacked\b", "hacked"),
    ("hacked hacky", r"hack(?:ed|y)\b"),
    ("code codepath", r"code\s*path\b", "path codepath"),
    ("race", r"race(?:\s+condition)?\b"),
    ("distributed", r"distributed\s+lock\b", "lock"),
    ("null nullpointer", r"null\s*pointer\b", "pointer nullpointer"),
    ("bump bumped", r"bump(?:ed)?\s+(?:min|the|to|version)\b", "min the to version"),
    ("rolled", r"rolled\s+back\b", "back"),
    ("backfill backfilled", r"backfill(?:ed)?\b"),
    ("tech", r"tech\s+debt\b", "debt"),
    ("merged lgtm ctx impl prod", r"(?:merged|lgtm|ctx|impl|prod)\b"),
    ("my our", r"(?:my|our)\s+pr\b", "pr"),
    ("pr", r"pr\s*#?\d+"),
    ("monkey monkeypatch", r"monkey[- ]?patch\b"),
    ("stack stacktrace", r"stack\s*trace\b", "trace stacktrace"),
    ("root", r"root[- ]caus(?:e|ed)\b", "cause caused"),
    ("i we", r"(?:i|we)\s+(?:fixed|added|changed|refactored|bumped|patched|rewrote)\s+(?:the|a|an|our)\s+(?:\w+\s+)?"
     r"(?:handler|service|code|logic|function|method|class|module|query|job|worker|lock|cache)\b",
     "handler service code logic function method class module query job worker lock cache"),
])
_VOICE_MILD = _Phrases([
    ("deployed upstream downstream codebase config perf infra env superseded regression patched",
     r"(?:deployed|upstream|downstream|codebase|config|perf|infra|env|superseded|regression|patched)\b"),
    ("the", r"the\s+(?:service|backend)\b", "service backend"),
    ("our", r"our\s+(?:backend|servers?)\b", "backend server servers"),
    ("edge", r"edge\s+case\b", "case"),
    ("bump bumped", r"bumped?\b"),
    ("min", r"min\s+\w+\s+[\d.]*\d"),
    ("w", r"w/(?=[\s\w])"),
    ("b", r"b/c\b"),
    ("should", r"should\s+stop\s+the\b", "stop"),
    ("reports", r"reports\s+from\b", "from"),
])


def check_internal_voice(source: str, output: str) -> CheckResult:
    """Engineering voice for customers: "refactored", "prod", "repro", "hotfix deployed", "race", first-person dev."""
    text = _doc(output).text
    doc = _doc(output)
    strong = _VOICE_STRONG.hits(doc)
    low_strong = {s.lower() for s in strong}
    mild = [h for h in _VOICE_MILD.hits(doc) if h.lower() not in low_strong]
    mild += ["->"] * text.count("->") + ["=>"] * text.count("=>")
    sev = len(strong) + 0.5 * len(mild)
    if sev <= 0:
        return _OK
    return CheckResult(_dimin(sev, 2.0),
                       [f"internal engineering voice {_list(strong + mild)} — say what the customer sees instead"])


_GENERIC = frozenset("improvement improv fix bug updat chang issu enhanc stuff thing various minor some problem "
                     "better work general".split())


def check_no_change_stated(source: str, output: str) -> CheckResult:
    """The output never says concretely what changed: no fact and almost no ticket content."""
    out, src = _doc(output), _doc(source)
    n_facts = sum(1 for f in out.facts if f.kind != "ticket_key")
    shared = (out.stems & src.stems) - _GENERIC
    concrete = n_facts + len(shared)
    if concrete >= 4:
        return _OK
    sev = 2.0 if concrete < 2 else 1.0
    return CheckResult(sev, ["does not say concretely what changed — name the feature, the change and who it "
                             "affects"])


def check_too_short(source: str, output: str) -> CheckResult:
    """Too short to be a note or a summary (fewer than 4 words)."""
    n = len(_doc(output).words)
    if n >= 4:
        return _OK
    return CheckResult(3.0 if n <= 1 else 2.0, [f"only {n} word{'s' if n != 1 else ''} — write a full sentence"])


def _ngrams(ws: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(ws[i:] for i in range(n))))


def check_raw_source(source: str, output: str) -> CheckResult:
    """The output is (mostly) the source copied verbatim: raw ticket text is not a release note."""
    out, src = _doc(output), _doc(source)
    og = _ngrams(out.words, 4)
    if len(og) < 5:
        return _OK
    sg = set(_ngrams(src.words, 4))
    share = sum(1 for g in og if g in sg) / len(og)
    if share < 0.6:
        return _OK
    return CheckResult(2.0 if share >= 0.8 else 1.0,
                       [f"copies {share:.0%} of the source verbatim — rewrite it for customers"])


def check_off_topic(source: str, output: str) -> CheckResult:
    """The output is about something else: almost none of its content words come from the source."""
    out, src = _doc(output), _doc(source)
    if len(out.stems) < 6:
        return _OK
    share = len(out.stems & src.stems) / len(out.stems)
    if share >= 0.15:
        return _OK
    return CheckResult(2.0, [f"only {share:.0%} of its content words appear in the source — it seems to be about "
                             "something else"])


# ---------------------------------------------------------------------------------------------------------------
# Summary checks
# ---------------------------------------------------------------------------------------------------------------

_CAP_SEQ = re.compile(r"\b[A-Z][a-zA-Z'’.-]*[a-z][a-zA-Z'’-]*(?:\s+(?:of\s+|de\s+|van\s+|von\s+)?[A-Z][a-zA-Z'’-]+)*")
_COMMON_CAPS = frozenset("""the a an he she it they we i you his her its their our this that these those there here
in on at for from by with as but and or if when while after before during since until because although though
yet so then also however meanwhile monday tuesday wednesday thursday friday saturday sunday january february march
april may june july august september october november december mr mrs ms dr sir new click read more""".split())


def check_unsupported_entity(source: str, output: str) -> CheckResult:
    """Capitalised names in the output (not sentence-initial function words) that the source never mentions."""
    out, src = _doc(output), _doc(source)
    if out.all_lower:
        return _OK
    bad: list[str] = []
    for sent in out.sents:
        lead = len(sent) - len(sent.lstrip(" \"'“‘(["))
        for m in _CAP_SEQ.finditer(sent):
            name = m.group(0).strip(" .'’")
            toks = name.split()
            if m.start() <= lead and len(toks) == 1:
                continue  # one capitalised word opening a sentence is usually just a word ("Overall, ...")
            toks_l = [t.lower().strip("'’.").replace("’", "'") for t in toks]
            toks_l = [t[:-2] if t.endswith("'s") else t for t in toks_l]
            check = [t for t in toks_l if t not in _COMMON_CAPS and t not in ("of", "de", "van", "von")]
            if not check:
                continue
            missing = [t for t in check if t not in src.wordset and _stem(t) not in src.stems]
            if missing and len(missing) == len(check):
                bad.append(name)
            elif missing:
                bad.append(" ".join(t for t in toks if t.lower().strip("'’.") in missing))
    bad = list(dict.fromkeys(b for b in bad if b))
    if not bad:
        return _OK
    return CheckResult(_dimin(float(len(bad)), 2.0),
                       [f"names {_list(bad)}, which the source never mentions — check and correct"])


def _salient(src: _Doc, k: int = 20) -> list[str]:
    """The article's salient stems: frequent non-stopwords, with words of the first sentences counted double."""
    counts: dict[str, float] = {}
    for w in src.content:
        s = _stem(w)
        if len(s) > 2:
            counts[s] = counts.get(s, 0.0) + 1.0
    lead = " ".join(src.sents[:3]).lower()
    for w in _CONTENT_WORD.findall(lead):
        if w not in _STOP and len(w) > 2:
            s = _stem(w)
            counts[s] = counts.get(s, 0.0) + 2.0
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [s for s, c in ranked[:k] if c >= 2.0]


@lru_cache(maxsize=1024)
def _salient_cached(source: str) -> tuple[str, ...]:
    return tuple(_salient(_doc(source)))


def check_low_coverage(source: str, output: str) -> CheckResult:
    """Share of the source's salient words (20 most frequent content words, lead sentences weighted) missed."""
    sal = _salient_cached(source)
    if len(sal) < 4:
        return _OK
    out = _doc(output)
    missing = [s for s in sal if s not in out.stems]
    cov = 1 - len(missing) / len(sal)
    if cov >= 0.8:
        return _OK
    sev = (0.8 - cov) / 0.2  # 0.6 -> 1, 0.4 -> 2, 0.2 -> 3
    words = {}
    for w in _doc(source).content:  # show words, not stems
        words.setdefault(_stem(w), w)
    return CheckResult(min(3.0, sev), [f"covers only {cov:.0%} of the source's key terms; missing "
                                       f"{_list([words.get(m, m) for m in missing], 5)} — include the main points"])


def check_novel_content(source: str, output: str) -> CheckResult:
    """Content words of the output (by stem) that the source never uses: claims not traceable to the source."""
    out, src = _doc(output), _doc(source)
    cont = [w for w in out.content if w[0].isalpha()]
    if len(cont) < 4:
        return _OK
    novel = [w for w in cont if _stem(w) not in src.stems and w not in src.wordset]
    frac = len(novel) / len(cont)
    if frac <= 0.0:
        return _OK
    return CheckResult(min(3.0, frac / 0.05),
                       [f"uses {_list(novel, 5)}, which the source never mentions — check those statements"])


def check_novel_phrasing(source: str, output: str) -> CheckResult:
    """Most of the wording (word trigrams) found nowhere in the source: a proxy for garbled, generated phrasing."""
    out = _doc(output)
    og = _ngrams(out.words, 3)
    if len(og) < 4:
        return _OK
    sg = _trigrams(source)
    frac = sum(1 for g in og if g not in sg) / len(og)
    if frac <= 0.5:
        return _OK
    return CheckResult(min(2.5, (frac - 0.5) / 0.2),
                       [f"{frac:.0%} of its word sequences are not in the source — reread it for garbled phrasing"])


@lru_cache(maxsize=256)
def _trigrams(source: str) -> frozenset:
    return frozenset(_ngrams(_doc(source).words, 3))


def check_choppy(source: str, output: str) -> CheckResult:
    """A heap of short, disconnected sentences (three or more averaging under 14 words)."""
    out = _doc(output)
    n = len(out.sents)
    if n < 3:
        return _OK
    avg = len(out.words) / n
    if avg >= 14:
        return _OK
    return CheckResult(min(2.0, (14 - avg) / 4), [f"{n} short sentences averaging {avg:.0f} words read as a list "
                                                  "of disconnected facts — connect related points"])


def check_redundancy(source: str, output: str) -> CheckResult:
    """Repeated sentences or repeated word sequences."""
    out = _doc(output)
    sev, found = 0.0, []
    sets = [frozenset(w for w in F.words(s.lower()) if w not in _STOP) for s in out.sents[:60]]
    for i in range(len(sets)):
        for j in range(i):
            a, b = sets[i], sets[j]
            if len(a) >= 3 and len(b) >= 3 and len(a & b) / len(a | b) >= 0.6:
                sev += 1.0
                found.append(f"repeats a sentence ('{_q(out.sents[i], 45)}') — cut the repetition")
                break
        if sev >= 3:
            break
    grams = _ngrams(out.words, 3)
    if len(grams) >= 6:
        seen: dict[tuple[str, ...], int] = {}
        rep = 0
        for g in grams:
            if any(w in _STOP for w in g) and all(w in _STOP for w in g):
                continue
            seen[g] = seen.get(g, 0) + 1
            if seen[g] > 1:
                rep += 1
        ratio = rep / len(grams)
        if ratio >= 0.08:
            sev += min(2.0, ratio / 0.1)
            top = max(seen, key=seen.get)
            found.append(f"repeats phrases such as '{' '.join(top)}' — say each point once")
    if sev <= 0:
        return _OK
    return CheckResult(min(3.0, sev), found[:2])


_HAS_LETTER = re.compile(r"[A-Za-z]")
_HEADING = re.compile(r"^[A-Z][\w ]+:?$")
_REPEAT_WORD = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)
_BAD_SPACING = re.compile(r"\w[,;:]\w(?<!\d[,:]\d)|[a-z]{2}\.[A-Z][a-z]|  +|[,.;:]{2,}(?<!\.\.\.)|\s[,;:](?=\w)")
_MARKUP = re.compile(r"</?[a-z][\w-]*[^>]*>|&(?:amp|lt|gt|quot|nbsp|#\d+);|\[\[|\]\]|\{\{|\}\}|\\[nt]|\*\*|__|"
                     r"^#{1,6}\s", re.MULTILINE)
_END_OK = re.compile(r"[.!?)\]\"'’”…:]\s*$")
_DANGLING_END = re.compile(r"\b(?:the|a|an|of|to|and|or|but|with|for|in|on|at|by|from|that|his|her|their|its)\s*$",
                           re.IGNORECASE)


def check_disfluency(source: str, output: str) -> CheckResult:
    """Repeated words, fragments, truncation, unbalanced brackets/quotes, odd capitalisation, bad spacing, markup.

    Tokenization artefacts (" 's", " ,", "-lrb-") and an all-lower-case text are not errors.
    """
    out = _doc(output)
    text = out.text
    sev, found = 0.0, []
    reps = [m.group(0) for m in _REPEAT_WORD.finditer(text) if not m.group(1).isdigit() and
            m.group(1).lower() not in ("that", "had", "is", "ha", "bye", "very", "no", "so")]
    if reps:
        sev += min(2.0, float(len(reps)))
        found.append(f"repeated word {_list(reps)} — delete the duplicate")
    stripped = text.strip()
    tail = stripped[-40:]
    if tail and _DANGLING_END.search(tail.rstrip(" .")):
        sev += 1.0
        found.append(f"ends mid-sentence ('…{_q(stripped[-30:], 30)}') — finish or cut the last sentence")
    elif tail and not _END_OK.search(tail):
        sev += 0.5
        found.append(f"last sentence has no end punctuation ('…{_q(stripped[-30:], 30)}') — finish it")
    frags = [s for s in out.sents if len(s.split()) < 3 and _HAS_LETTER.search(s) and
             not _HEADING.match(s) and len(out.sents) > 1]
    if frags:
        sev += 0.5 * min(2, len(frags))
        found.append(f"fragment {_list(frags)} — make it a full sentence")
    if text.count("(") != text.count(")") or text.count("[") != text.count("]") or (
            text.count('"') % 2 == 1 and not out.tokenized):
        sev += 0.5
        found.append("unbalanced brackets or quotes — close them")
    if not out.all_lower and not out.tokenized:
        low_starts = [s for s in out.sents if s[:1].islower() and not re.match(r"^(?:e\.g|i\.e|iOS|eBay|iPhone|"
                                                                              r"macOS|npm|vs)\b", s)]
        if low_starts:
            sev += 0.5 * min(2, len(low_starts))
            found.append(f"sentence starts in lower case ('{_q(low_starts[0], 30)}') — capitalise it")
    spacing = [] if out.tokenized else _BAD_SPACING.findall(text)
    if spacing:
        sev += 0.5
        found.append(f"spacing/punctuation slip {_list([s.strip() or 'double space' for s in spacing], 2)} — fix it")
    markup = _MARKUP.findall(text)
    if markup:
        sev += 0.5
        found.append(f"stray markup {_list(markup, 2)} — remove it")
    for s in out.sents:
        if len(s.split()) > 45:
            sev += 0.5
            found.append(f"run-on sentence of {len(s.split())} words — split it")
            break
    if sev <= 0:
        return _OK
    return CheckResult(min(3.0, sev), found[:3])


_PRONOUN_START = re.compile(r"^(?:he|she|it|they|his|her|its|their|them|him|this|these|those|the\s+former|"
                            r"the\s+latter|the\s+deal|the\s+move|the\s+incident)\b", re.IGNORECASE)


def check_dangling_reference(source: str, output: str) -> CheckResult:
    """The output opens with a pronoun or a reference to something it never introduced."""
    out = _doc(output)
    if not out.sents:
        return _OK
    m = _PRONOUN_START.match(out.sents[0])
    if not m:
        return _OK
    return CheckResult(1.0, [f"opens with '{m.group(0)}' before saying who or what it refers to — name it first"])


_BOILER = _Phrases([
    ("click", r"click\s+here\b", "here"), ("scroll", r"scroll\s+down\b", "down"), ("read", r"read\s+more\b", "more"),
    ("follow", r"follow\s+us\b", "us"), ("watch", r"watch\s+the\s+video\b", "video"),
    ("sign", r"sign\s+up\s+for\b", "up"), ("subscribe", r"subscribe\b"), ("share", r"share\s+this\b", "this"),
    ("see", r"see\s+more\b", "more"), ("for", r"for\s+all\s+the\s+latest\b", "latest"),
    ("pictured", r"pictured\s*:"), ("photo photos", r"photos?\s*:"), ("video", r"video\s*:"),
    ("download", r"download\s+the\s+app\b", "app"),
])


def check_boilerplate(source: str, output: str) -> CheckResult:
    """Web-page boilerplate carried into the output ("click here", "scroll down for video")."""
    hits = _BOILER.hits(_doc(output))
    if not hits:
        return _OK
    return CheckResult(min(2.0, float(len(hits))), [f"contains page boilerplate {_list(hits)} — remove it"])


def check_too_long(source: str, output: str) -> CheckResult:
    """Too long for a summary: over 40% of a long source (or 90% of a short one), or well over 100 words."""
    n_out = len(_doc(output).words)
    n_src = max(1, len(_doc(source).words))
    ratio = n_out / n_src
    sev = 0.0
    limit = 0.4 if n_src >= 200 else 0.9  # a short source leaves little to cut
    if ratio > limit and n_out > 40:
        sev += min(2.0, (ratio - limit) / 0.2 + 1.0)
    if n_out > 100:
        sev += min(1.0, (n_out - 100) / 100)
    if sev <= 0:
        return _OK
    return CheckResult(min(3.0, sev), [f"{n_out} words ({ratio:.0%} of the source) — cut to the main points"])


# ---------------------------------------------------------------------------------------------------------------
# The library and the judge
# ---------------------------------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[str, str], CheckResult]] = {
    "dropped_fact": check_dropped_fact,
    "contradicted_fact": check_contradicted_fact,
    "unsupported_specific": check_unsupported_specific,
    "unsupported_claim": check_unsupported_claim,
    "internal_leak": check_internal_leak,
    "vague_wording": check_vague_wording,
    "wall_of_text": check_wall_of_text,
    "hype": check_hype,
    "apology": check_apology,
    "blame": check_blame,
    "internal_voice": check_internal_voice,
    "no_change_stated": check_no_change_stated,
    "too_short": check_too_short,
    "raw_source": check_raw_source,
    "off_topic": check_off_topic,
    "unsupported_entity": check_unsupported_entity,
    "low_coverage": check_low_coverage,
    "redundancy": check_redundancy,
    "disfluency": check_disfluency,
    "dangling_reference": check_dangling_reference,
    "boilerplate": check_boilerplate,
    "too_long": check_too_long,
    "novel_content": check_novel_content,
    "novel_phrasing": check_novel_phrasing,
    "choppy": check_choppy,
}


def run_checks(names, source: str, output: str) -> dict[str, CheckResult]:
    """Run the named checks on one (source, output) pair."""
    return {n: CHECKS[n](source, output) for n in names}


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5 + 1e-9))


def _strip_injection(text: str) -> str:
    """Remove the sentences that address the grader, and score-talk sentences right after them."""
    kept: list[str] = []
    after_cue = False
    for line in text.split("\n"):
        parts = re.split(r"(?<=[.!?])\s+", line)
        out_parts = []
        for p in parts:
            if detect_injection(p):
                after_cue = True
                continue
            if after_cue and re.search(r"\b(?:score|scores|grade|rating|rate|marks|points|dimension|perfect|"
                                       r"flawless|deserves?|accurate|complete)\b", p, re.IGNORECASE):
                continue
            after_cue = False
            out_parts.append(p)
        kept.append(" ".join(out_parts).rstrip())
    return "\n".join(kept).strip()


class OfflineJudge:
    """Deterministic rubric judge built from the spec's ``offline`` mapping ``{dimension: {check_name: weight}}``."""

    name = "offline"

    def __init__(self, rubric: Rubric):
        self.rubric = rubric
        plan: dict[str, tuple[tuple[str, float], ...]] = {}
        mapping = rubric.offline or {}
        for dim, checks in mapping.items():
            if dim not in rubric.keys:
                raise ValueError(f"offline mapping names unknown dimension {dim!r}")
            if not isinstance(checks, dict):
                raise ValueError(f"offline mapping for {dim!r} must be an object of check_name: weight")
            items = []
            for cname, w in checks.items():
                if cname not in CHECKS:
                    raise ValueError(f"unknown offline check {cname!r} for dimension {dim!r} "
                                     f"(known: {', '.join(sorted(CHECKS))})")
                if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 or not math.isfinite(w):
                    raise ValueError(f"offline check {cname!r} for dimension {dim!r} needs a non-negative weight")
                items.append((cname, float(w)))
            plan[dim] = tuple(items)
        self._plan = {k: plan.get(k, ()) for k in rubric.keys}
        self._checks = tuple(dict.fromkeys(c for items in self._plan.values() for c, _ in items))

    def judge(self, sample: Sample) -> Judgment:
        t0 = time.perf_counter()
        lo, hi = self.rubric.scale_min, self.rubric.scale_max
        output = sample.output or ""
        flags: list[str] = []
        if not output.strip():
            return Judgment(scores={k: lo for k in self.rubric.keys},
                            rationale=f"Empty {self.rubric.output_label}: nothing to grade, so every dimension gets "
                                      f"the lowest score.",
                            judge="offline", tokens_used=0, latency_ms=_ms(t0), flags=["empty_output"])
        cues = detect_injection(output)
        if cues:
            flags.append("possible_prompt_injection")
            output = _strip_injection(output)
        notes: list[str] = []
        if cues:
            notes.append(f"Text addressed to the grader ({_q(cues[0].split(': ', 1)[-1], 40)!r}) was ignored.")
        if not output.strip():
            scores = {k: lo for k in self.rubric.keys}
            notes.append(f"Nothing but text addressed to the grader: no {self.rubric.output_label} to grade.")
            return Judgment(scores=scores, rationale=" ".join(notes), judge="offline", tokens_used=0,
                            latency_ms=_ms(t0), flags=flags + ["empty_output"])
        results = run_checks(self._checks, sample.source or "", output)
        scores: dict[str, int] = {}
        impact: dict[str, float] = {}
        for dim, items in self._plan.items():
            penalty = 0.0
            for cname, w in items:
                r = results[cname]
                if r.severity > 0 and w > 0:
                    penalty += w * r.severity
                    impact[cname] = max(impact.get(cname, 0.0), w * r.severity)
            scores[dim] = max(lo, min(hi, _round_half_up(hi - penalty)))
        ranked = sorted(impact, key=lambda c: (-impact[c], c))
        findings: list[str] = []
        if any(v < hi for v in scores.values()):  # only what cost points; a perfect grade gets the clean line
            for c in ranked:
                if impact[c] < 0.25:
                    continue
                for f in results[c].findings:
                    if f not in findings:
                        findings.append(f)
        if findings:
            body = "; ".join(findings[:4])
            label = self.rubric.input_label.strip() or "source"
            body = body.replace("the source", f"the {label}").replace("The source", f"The {label}")
            notes.append(body[0].upper() + body[1:] + ".")
        else:
            notes.append(CLEAN_RATIONALE)
        return Judgment(scores=scores, rationale=" ".join(notes), judge="offline", tokens_used=0,
                        latency_ms=_ms(t0), flags=flags)


def _ms(t0: float) -> int:
    return int(round((time.perf_counter() - t0) * 1000))
