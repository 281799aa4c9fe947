"""Fact comparison between a source and an output: which facts were dropped, contradicted or invented."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from . import facts as F
from .text import TIME_SECONDS, Doc, Phrases, doc_of, gate

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
_G_INTERNAL_CTX = gate("tenant tenants abuse triggered staged canary staging crash error workaround regression "
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
_PLATFORMS = Phrases([("ios android windows macos linux web safari chrome firefox edge ipad tablet tablets mobile "
                        "desktop", r"(?:ios|android|windows|macos|linux|web(?:\s+app)?|safari|chrome|firefox|edge|ipad|"
                        r"tablets?|mobile|desktop)\b")])


def _unit_class(unit: str) -> str:
    u = unit.lstrip("/")
    if unit.startswith("/"):
        return "rate"
    if u in TIME_SECONDS or u in ("mo", "yr"):
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
    if base in TIME_SECONDS and "/" not in unit:
        return v * TIME_SECONDS[base], "time", _noun(f)
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
class Comparison:
    dropped: list[tuple[F.Fact, float]]
    contradicted: list[tuple[F.Fact, F.Fact, str]]  # (output fact, source fact, how)
    unsupported: list[F.Fact]
    platforms_dropped: list[str]


def _internal_source_spans(src: Doc) -> list[tuple[int, int]]:
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


def _change_pairs(src: Doc) -> list[tuple[F.Fact, F.Fact]]:
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


def _supported(f: F.Fact, src: Doc) -> bool:
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


def _kept(f: F.Fact, out: Doc) -> bool:
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
def compare(source: str, output: str) -> Comparison:
    src, out = doc_of(source), doc_of(output)
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
    return Comparison(dropped, contradicted, unsupported, plats)


