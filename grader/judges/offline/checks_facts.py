"""Fact checks: what the output dropped, contradicted or invented, and internal matter it leaked."""
from __future__ import annotations

import re
from functools import lru_cache

from .compare import compare
from .text import OK, CheckResult, Phrases, diminishing, doc_of, quote, quote_list

# ---------------------------------------------------------------------------------------------------------------
# Release-note checks
# ---------------------------------------------------------------------------------------------------------------

_KIND_NAME = {"number": "figure", "status_code": "HTTP status", "version": "version", "identifier": "name",
              "endpoint": "endpoint", "date": "date"}


def check_dropped_fact(source: str, output: str) -> CheckResult:
    """Customer-relevant ticket facts (numbers, codes, versions, names, endpoints, dates, platforms) missing."""
    cmp = compare(source, output)
    items = cmp.dropped
    total = sum(w for _, w in items) + 0.5 * len(cmp.platforms_dropped)
    if total <= 0:
        return OK
    items = sorted(items, key=lambda t: -t[1])
    names = [f"{_KIND_NAME[f.kind]} '{quote(f.value, 40)}'" for f, _ in items]
    names += [f"platform '{p}'" for p in cmp.platforms_dropped]
    n = len(names)
    msg = (f"drops the source's {', '.join(names)}"
           + (" — state them as the source gives them" if n > 1 else " — state it as the source gives it"))
    return CheckResult(diminishing(total, 1.5), [msg])


def check_contradicted_fact(source: str, output: str) -> CheckResult:
    """A fact of the same kind with a different value than the ticket's (ticket 30s, note 60s)."""
    cmp = compare(source, output)
    if not cmp.contradicted:
        return OK
    found = []
    for g, h, how in cmp.contradicted:
        if how == "old":
            found.append(f"states the old value '{quote(g.value, 30)}' as current; the ticket changes it to "
                         f"'{quote(h.value, 30)}' — use the new value")
        else:
            found.append(f"says '{quote(g.value, 30)}' where the source says '{quote(h.value, 30)}' — correct it")
    return CheckResult(diminishing(len(cmp.contradicted), 2.0), found)


def check_unsupported_specific(source: str, output: str) -> CheckResult:
    """Numbers, dates, percentages, versions, codes, endpoints or code names in the output the source lacks."""
    cmp = compare(source, output)
    items = [f for f in cmp.unsupported if f.kind != "identifier"]
    ids = [f for f in cmp.unsupported if f.kind == "identifier"]
    total = len(items) + 0.5 * len(ids)
    if total <= 0:
        return OK
    what = quote_list([f.value for f in items + ids])
    return CheckResult(diminishing(total, 2.0), [f"states {what}, not supported by the source — remove or correct it"])


_CLAIM = Phrases([
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
    out = doc_of(output)
    src = doc_of(source)
    bad = []
    for phrase in _CLAIM.hits(out) + [m.group(0) for m in _CLAIM_NUM.finditer(out.text)]:
        key = phrase.lower().split()[0]
        if key in src.lower or phrase.lower() in src.lower:
            continue
        bad.append(phrase)
    if not bad:
        return OK
    return CheckResult(diminishing(len(set(b.lower() for b in bad)), 2.0),
                       [f"claims {quote_list(bad)} without support in the source — cut or qualify"])


# Names on a ticket's internal lines ("Owner: team-ledger", "Impl in charge-router", "Backend: session-store").
_OWNER_LINE = re.compile(r"\b(?:owner|owned\s+by|impl(?:emented)?\s+in|fixed\s+by|migration\s+by|backend|"
                         r"assignee|cc|team)\s*:?\s+((?:[a-z][\w]*-)+[\w]+|[a-z]+_[a-z_]+)", re.IGNORECASE)


_G_OWNER = frozenset("owner owned impl implemented fixed migration backend assignee cc team".split())


@lru_cache(maxsize=1024)
def _internal_names_cached(source: str) -> tuple[str, ...]:
    doc = doc_of(source)
    if _G_OWNER.isdisjoint(doc.alpha):
        return ()
    return tuple(dict.fromkeys(m.group(1) for m in _OWNER_LINE.finditer(doc.text)))


def _internal_names(source: str) -> list[str]:
    return list(_internal_names_cached(source))


def check_internal_leak(source: str, output: str) -> CheckResult:
    """Ticket keys, TODO/FIXME, internal team/service/host names, stack traces or process talk in the output."""
    out, src = doc_of(output), doc_of(source)
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
        return OK
    return CheckResult(diminishing(len(items), 2.0),
                       [f"leaks internal matter {quote_list(items)} — remove ticket keys, TODOs and internal names"])


