"""Summary checks: the source-grounded analogues (unsupported names, coverage, redundancy, disfluency, length)."""
from __future__ import annotations

import re
from functools import lru_cache

from . import facts as F
from .checks_structure import ngrams
from .text import CONTENT_WORD, OK, STOP_WORDS, CheckResult, Doc, Phrases, diminishing, doc_of, quote, quote_list, stem

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
    out, src = doc_of(output), doc_of(source)
    if out.all_lower:
        return OK
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
            missing = [t for t in check if t not in src.wordset and stem(t) not in src.stems]
            if missing and len(missing) == len(check):
                bad.append(name)
            elif missing:
                bad.append(" ".join(t for t in toks if t.lower().strip("'’.") in missing))
    bad = list(dict.fromkeys(b for b in bad if b))
    if not bad:
        return OK
    return CheckResult(diminishing(float(len(bad)), 2.0),
                       [f"names {quote_list(bad)}, which the source never mentions — check and correct"])


def _salient(src: Doc, k: int = 20) -> list[str]:
    """The article's salient stems: frequent non-stopwords, with words of the first sentences counted double."""
    counts: dict[str, float] = {}
    for w in src.content:
        s = stem(w)
        if len(s) > 2:
            counts[s] = counts.get(s, 0.0) + 1.0
    lead = " ".join(src.sents[:3]).lower()
    for w in CONTENT_WORD.findall(lead):
        if w not in STOP_WORDS and len(w) > 2:
            s = stem(w)
            counts[s] = counts.get(s, 0.0) + 2.0
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [s for s, c in ranked[:k] if c >= 2.0]


@lru_cache(maxsize=1024)
def _salient_cached(source: str) -> tuple[str, ...]:
    return tuple(_salient(doc_of(source)))


def check_low_coverage(source: str, output: str) -> CheckResult:
    """Share of the source's salient words (20 most frequent content words, lead sentences weighted) missed."""
    sal = _salient_cached(source)
    if len(sal) < 4:
        return OK
    out = doc_of(output)
    missing = [s for s in sal if s not in out.stems]
    cov = 1 - len(missing) / len(sal)
    if cov >= 0.8:
        return OK
    sev = (0.8 - cov) / 0.2  # 0.6 -> 1, 0.4 -> 2, 0.2 -> 3
    words = {}
    for w in doc_of(source).content:  # show words, not stems
        words.setdefault(stem(w), w)
    return CheckResult(min(3.0, sev), [f"covers only {cov:.0%} of the source's key terms; missing "
                                       f"{quote_list([words.get(m, m) for m in missing])} — include the main points"])


def check_novel_content(source: str, output: str) -> CheckResult:
    """Content words of the output (by stem) that the source never uses: claims not traceable to the source."""
    out, src = doc_of(output), doc_of(source)
    cont = [w for w in out.content if w[0].isalpha()]
    if len(cont) < 4:
        return OK
    novel = [w for w in cont if stem(w) not in src.stems and w not in src.wordset]
    frac = len(novel) / len(cont)
    if frac <= 0.0:
        return OK
    return CheckResult(min(3.0, frac / 0.05),
                       [f"uses {quote_list(novel)}, which the source never mentions — check those statements"])


def check_novel_phrasing(source: str, output: str) -> CheckResult:
    """Most of the wording (word trigrams) found nowhere in the source: a proxy for garbled, generated phrasing."""
    out = doc_of(output)
    og = ngrams(out.words, 3)
    if len(og) < 4:
        return OK
    sg = _trigrams(source)
    frac = sum(1 for g in og if g not in sg) / len(og)
    if frac <= 0.5:
        return OK
    return CheckResult(min(2.5, (frac - 0.5) / 0.2),
                       [f"{frac:.0%} of its word sequences are not in the source — reread it for garbled phrasing"])


@lru_cache(maxsize=256)
def _trigrams(source: str) -> frozenset:
    return frozenset(ngrams(doc_of(source).words, 3))


def check_choppy(source: str, output: str) -> CheckResult:
    """A heap of short, disconnected sentences (three or more averaging under 14 words)."""
    out = doc_of(output)
    n = len(out.sents)
    if n < 3:
        return OK
    avg = len(out.words) / n
    if avg >= 14:
        return OK
    return CheckResult(min(2.0, (14 - avg) / 4), [f"{n} short sentences averaging {avg:.0f} words read as a list "
                                                  "of disconnected facts — connect related points"])


def check_redundancy(source: str, output: str) -> CheckResult:
    """Repeated sentences or repeated word sequences."""
    out = doc_of(output)
    sev, found = 0.0, []
    sets = [frozenset(w for w in F.words(s.lower()) if w not in STOP_WORDS) for s in out.sents[:60]]
    for i in range(len(sets)):
        for j in range(i):
            a, b = sets[i], sets[j]
            if len(a) >= 3 and len(b) >= 3 and len(a & b) / len(a | b) >= 0.6:
                sev += 1.0
                found.append(f"repeats a sentence ('{quote(out.sents[i], 45)}') — cut the repetition")
                break
        if sev >= 3:
            break
    grams = ngrams(out.words, 3)
    if len(grams) >= 6:
        seen: dict[tuple[str, ...], int] = {}
        rep = 0
        for g in grams:
            if any(w in STOP_WORDS for w in g) and all(w in STOP_WORDS for w in g):
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
        return OK
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
    out = doc_of(output)
    text = out.text
    sev, found = 0.0, []
    reps = [m.group(0) for m in _REPEAT_WORD.finditer(text) if not m.group(1).isdigit() and
            m.group(1).lower() not in ("that", "had", "is", "ha", "bye", "very", "no", "so")]
    if reps:
        sev += min(2.0, float(len(reps)))
        found.append(f"repeated word {quote_list(reps)} — delete the duplicate")
    stripped = text.strip()
    tail = stripped[-40:]
    if tail and _DANGLING_END.search(tail.rstrip(" .")):
        sev += 1.0
        found.append(f"ends mid-sentence ('…{quote(stripped[-30:], 30)}') — finish or cut the last sentence")
    elif tail and not _END_OK.search(tail):
        sev += 0.5
        found.append(f"last sentence has no end punctuation ('…{quote(stripped[-30:], 30)}') — finish it")
    frags = [s for s in out.sents if len(s.split()) < 3 and _HAS_LETTER.search(s) and
             not _HEADING.match(s) and len(out.sents) > 1]
    if frags:
        sev += 0.5 * min(2, len(frags))
        found.append(f"fragment {quote_list(frags)} — make it a full sentence")
    if text.count("(") != text.count(")") or text.count("[") != text.count("]") or (
            text.count('"') % 2 == 1 and not out.tokenized):
        sev += 0.5
        found.append("unbalanced brackets or quotes — close them")
    if not out.all_lower and not out.tokenized:
        low_starts = [s for s in out.sents if s[:1].islower() and not re.match(r"^(?:e\.g|i\.e|iOS|eBay|iPhone|"
                                                                              r"macOS|npm|vs)\b", s)]
        if low_starts:
            sev += 0.5 * min(2, len(low_starts))
            found.append(f"sentence starts in lower case ('{quote(low_starts[0], 30)}') — capitalise it")
    spacing = [] if out.tokenized else _BAD_SPACING.findall(text)
    if spacing:
        sev += 0.5
        found.append(f"spacing/punctuation slip {quote_list([s.strip() or 'double space' for s in spacing])} — fix it")
    markup = _MARKUP.findall(text)
    if markup:
        sev += 0.5
        found.append(f"stray markup {quote_list(markup)} — remove it")
    for s in out.sents:
        if len(s.split()) > 45:
            sev += 0.5
            found.append(f"run-on sentence of {len(s.split())} words — split it")
            break
    if sev <= 0:
        return OK
    return CheckResult(min(3.0, sev), found)


_PRONOUN_START = re.compile(r"^(?:he|she|it|they|his|her|its|their|them|him|this|these|those|the\s+former|"
                            r"the\s+latter|the\s+deal|the\s+move|the\s+incident)\b", re.IGNORECASE)


def check_dangling_reference(source: str, output: str) -> CheckResult:
    """The output opens with a pronoun or a reference to something it never introduced."""
    out = doc_of(output)
    if not out.sents:
        return OK
    m = _PRONOUN_START.match(out.sents[0])
    if not m:
        return OK
    return CheckResult(1.0, [f"opens with '{m.group(0)}' before saying who or what it refers to — name it first"])


_BOILER = Phrases([
    ("click", r"click\s+here\b", "here"), ("scroll", r"scroll\s+down\b", "down"), ("read", r"read\s+more\b", "more"),
    ("follow", r"follow\s+us\b", "us"), ("watch", r"watch\s+the\s+video\b", "video"),
    ("sign", r"sign\s+up\s+for\b", "up"), ("subscribe", r"subscribe\b"), ("share", r"share\s+this\b", "this"),
    ("see", r"see\s+more\b", "more"), ("for", r"for\s+all\s+the\s+latest\b", "latest"),
    ("pictured", r"pictured\s*:"), ("photo photos", r"photos?\s*:"), ("video", r"video\s*:"),
    ("download", r"download\s+the\s+app\b", "app"),
])


def check_boilerplate(source: str, output: str) -> CheckResult:
    """Web-page boilerplate carried into the output ("click here", "scroll down for video")."""
    hits = _BOILER.hits(doc_of(output))
    if not hits:
        return OK
    return CheckResult(min(2.0, float(len(hits))), [f"contains page boilerplate {quote_list(hits)} — remove it"])


def check_too_long(source: str, output: str) -> CheckResult:
    """Too long for a summary: over 40% of a long source (or 90% of a short one), or well over 100 words."""
    n_out = len(doc_of(output).words)
    n_src = max(1, len(doc_of(source).words))
    ratio = n_out / n_src
    sev = 0.0
    limit = 0.4 if n_src >= 200 else 0.9  # a short source leaves little to cut
    if ratio > limit and n_out > 40:
        sev += min(2.0, (ratio - limit) / 0.2 + 1.0)
    if n_out > 100:
        sev += min(1.0, (n_out - 100) / 100)
    if sev <= 0:
        return OK
    return CheckResult(min(3.0, sev), [f"{n_out} words ({ratio:.0%} of the source) — cut to the main points"])


