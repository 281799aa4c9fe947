"""The text model the offline checks share: one ``Doc`` per distinct text (tokens, stems, facts, markers),
phrase patterns gated by their first words, and the ``CheckResult`` every check returns."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from . import facts as F
from .internal import internal_markers_in


@dataclass(frozen=True)
class CheckResult:
    severity: float = 0.0  # 0 = fine; ~1 per clear problem, capped per check
    findings: list[str] = field(default_factory=list)


OK = CheckResult()


def diminishing(total: float, cap: float) -> float:
    """Diminishing severity: the first unit counts in full, each further unit half, capped."""
    if total <= 1.0:
        return max(0.0, total)
    return min(cap, 1.0 + 0.5 * (total - 1.0))


def quote(s: str, n: int = 60) -> str:
    """``s`` on one line, at most about ``n`` characters, cut on a word boundary (never mid-word) with an ellipsis."""
    s = " ".join(s.split())
    if len(s) <= n:
        return s
    cut = s[: n - 1]
    if s[n - 1].isspace() or not cut[-1:].isalnum():
        return cut.rstrip(" ,;:-") + "…"
    space = cut.rfind(" ")
    if space >= n // 3:
        return cut[:space].rstrip(" ,;:-") + "…"
    return cut + "…"  # one very long token (a URL, a path): nothing better than cutting it


def quote_list(items: list[str], n: int | None = None) -> str:
    """Every item, quoted (a finding lists all it found: an author cannot act on '(+2 more)')."""
    items = list(dict.fromkeys(items))
    return ", ".join(f"'{quote(i, 40)}'" for i in (items if n is None else items[:n]))


# ---------------------------------------------------------------------------------------------------------------
# What the checks can read: Latin-script English
# ---------------------------------------------------------------------------------------------------------------

_SCRIPT_NAMES = {"CJK": "CJK (Chinese/Japanese)", "HIRAGANA": "Japanese (kana)", "KATAKANA": "Japanese (kana)",
                 "HANGUL": "Korean (Hangul)"}


def _is_latin(c: str) -> bool:
    o = ord(c)
    return o < 0x250 or 0x1E00 <= o < 0x1F00 or 0xFF21 <= o < 0xFF5B


def unsupported_script(text: str) -> str | None:
    """The name of the script most letters are in when it is not Latin (Arabic, Hebrew, CJK...), else None."""
    head = text[:5000]
    if head.isascii():
        return None  # the common case, decided without looking at each character
    import unicodedata
    letters = [c for c in head if c.isalpha()]
    if not letters:
        return None
    other = [c for c in letters if not _is_latin(c)]
    if len(other) <= len(letters) / 2:
        return None
    counts: dict[str, int] = {}
    for c in other:
        name = unicodedata.name(c, "UNKNOWN").split()[0]
        counts[name] = counts.get(name, 0) + 1
    top = max(counts, key=lambda k: (counts[k], k))
    return _SCRIPT_NAMES.get(top, top.title())


def looks_english(text: str) -> bool:
    """True unless a text of 15+ words has almost no English function words (French, German, Spanish... prose)."""
    ws = [w for w in doc_of(text).words if w[0].isalpha()] if len(text) <= 5000 else \
        _ALPHA_WORD.findall(text[:5000].lower())
    if len(ws) < 15:
        return True  # too short to tell
    return sum(1 for w in ws if w in STOP_WORDS) / len(ws) >= 0.08


_ALPHA_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")



# ---------------------------------------------------------------------------------------------------------------
# Text analysis, cached per distinct text (checks share it; sources repeat across outputs)
# ---------------------------------------------------------------------------------------------------------------

STOP_WORDS = frozenset("""a about above after again against all also am an and any are aren't as at be because been before
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
CONTENT_WORD = re.compile(r"[a-z][a-z'’-]*[a-z]|[a-z]")
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
TIME_SECONDS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800}


@lru_cache(maxsize=131072)
def stem(w: str) -> str:
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


class Doc:
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
        self.spans = F.fact_spans_in(text, self.lower, self.alpha)[:_MAX_FACTS]
        self.facts = [f for _, _, f in self.spans]
        self.sents = F.sentences(text)
        self.words = F.words(self.lower)
        self.wordset = frozenset(self.words)
        self.content = [w for w in self.words if w[0].isalpha() and w not in STOP_WORDS and len(w) > 1]
        self.stems = frozenset(map(stem, set(self.content)))
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
        self.markers = internal_markers_in(text, self.lower, self.alpha)
        self.keys = list(dict.fromkeys(f.normalized for f in self.facts if f.kind == "ticket_key"))


@lru_cache(maxsize=1024)  # ~50 KB per 1 KB text: a bounded cache, enough for sources shared by many outputs
def doc_of(text: str) -> Doc:
    return Doc(text)


def gate(words: str) -> frozenset:
    return frozenset(words.split())


class Phrases:
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

    def hits(self, doc: "Doc") -> list[str]:
        return [g for _, _, g in self.spans(doc)]

    def spans(self, doc: "Doc") -> list[tuple[int, int, str]]:
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


