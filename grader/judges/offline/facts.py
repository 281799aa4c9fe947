"""Checkable facts in free text: the numbers, codes, versions, names and markers an editor compares.

Pure functions over strings, every regex compiled once at import. Used by the offline judge and the probes to ask
"did the output keep / change / invent this fact?" without a model. Matching is by ``Fact.normalized``, which
makes surface variants equal: ``"30 seconds" == "30s" == "30 sec"``, ``"10,000" == "10000"``, ``"v2.3" == "2.3"``,
``"100 requests per minute" == "100 req/min"``, ``"/v1/payments/{id}" == "/v1/payments/:payment_id"``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Fact", "FACT_KINDS", "sentences", "words", "extract_facts", "fact_spans", "ticket_keys",
    "number_parts", "number_noun",
]

FACT_KINDS = ("number", "status_code", "version", "identifier", "endpoint", "date", "ticket_key")


@dataclass(frozen=True)
class Fact:
    kind: str        # one of FACT_KINDS
    value: str       # the text as written (e.g. "30 seconds", "GET /v1/users")
    normalized: str  # canonical form used for comparison (e.g. "30s", "/v1/users")


# ---------------------------------------------------------------------------------------------------------------
# Sentences and words
# ---------------------------------------------------------------------------------------------------------------

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) and whitespace.
_SENT_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")
# Leading list markers: "- ", "* ", "• ", "1. ", "2) ".
_BULLET = re.compile(r"^(?:[-*•·]+|\d{1,3}[.)])\s+")
# A piece ending in one of these did not end a sentence ("e.g. the", "Dr. Smith", "vs. the").
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|cf|vs|approx|incl|Mr|Mrs|Ms|Dr|St|Jr|Sr|No|Inc|Ltd|Co|U\.S|U\.K|a\.m|"
                     r"p\.m)\.)$", re.IGNORECASE)
# Word tokens: letters/digits with inner apostrophes, hyphens or dots ("don't", "rate-limit", "v2.3").
_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")  # Unicode letters and digits: "café", "naïve", "Zürich"


def sentences(text: str) -> list[str]:
    """Split text into sentences; each non-empty line (bullet, heading) is at least its own sentence."""
    out: list[str] = []
    for line in text.strip().split("\n"):
        line = _BULLET.sub("", line.strip())
        if not line:
            continue
        buf, pos = "", 0
        for m in _SENT_END.finditer(line):
            piece = line[pos:m.end()].strip()
            pos = m.end()
            buf = f"{buf} {piece}" if buf else piece
            if not _ABBREV.search(buf[-8:]):
                out.append(buf)
                buf = ""
        rest = line[pos:].strip()
        if rest:
            buf = f"{buf} {rest}" if buf else rest
        if buf:
            out.append(buf)
    return out


def words(text: str) -> list[str]:
    """Word tokens in order, case preserved (``"rate-limit"``, ``"don't"`` and ``"v2.3"`` are one word each)."""
    return _WORD.findall(text)


# ---------------------------------------------------------------------------------------------------------------
# Fact patterns (each with a one-line intent)
# ---------------------------------------------------------------------------------------------------------------

_METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS"
# (Patterns start with a literal or a character class, with any "not preceded by" check as a lookbehind after the
# first character, so the regex engine can skip to candidate positions instead of trying every position.)
# Endpoint: a rooted path of >= 1 segment ("/v1/payments/{id}", "/users/:id"), not "and/or"; method checked before.
_ENDPOINT = re.compile(r"(?P<path>/(?<![\w./:~-]/)[A-Za-z0-9_{}:.\-]*[A-Za-z{}][A-Za-z0-9_{}:.\-]*"
                       r"(?:/[A-Za-z0-9_{}:.\-]+)*/?)(?![\w/])")
# An HTTP method right before an endpoint: "GET /users".
_METHOD_BEFORE = re.compile(rf"\b(?:{_METHODS})\s+$")
# Ticket key: PROJECT-123 (2-10 capitals), not UTF-8 / SHA-256 / CVE-2024-1234 style standards (_NOT_TICKET).
_TICKET = re.compile(r"([A-Z](?<![\w][A-Z])[A-Z0-9]{1,9})-(\d{1,6})\b(?!-\d)")
_NOT_TICKET = frozenset("UTF SHA ISO RFC TLS SSL CVE AES RSA MD COVID HTTP IPV GPT ES UTC GMT PEP ECMA".split())
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_MONTH_RE = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
             r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
# ISO date 2026-03-01 (also 2026/03/01).
_DATE_ISO = re.compile(r"((?:19|20)(?<!\w\d\d)\d\d)[-/](\d{1,2})[-/](\d{1,2})\b")
# Year-month: "2024-05" (API versions, billing months); not followed by another "-dd".
_DATE_YM = re.compile(r"(20(?<!\w20)\d\d)-(0[1-9]|1[0-2])\b(?![-/]\d)")
# Month-name dates: "March 3", "Mar 3, 2026", "March 2026".
_DATE_MD = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+((?:19|20)\d\d)\b)?")
# Day-first dates: "3 March", "3rd March 2026".
_DATE_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE})\b\.?(?:,?\s+((?:19|20)\d\d)\b)?")
# Month and year: "March 2026".
_DATE_MY = re.compile(rf"\b({_MONTH_RE})\.?\s+((?:19|20)\d\d)\b")
# Quarters and halves: "Q3", "Q3 2026", "H2", "FY26".
_DATE_Q = re.compile(r"\b([QH][1-4])(?:\s*[’']?((?:19|20)?\d\d))?\b|\b(FY\s?\d{2,4})\b")
_VERSION_CTX = (r"(?:version|release|v(?:er)?\.?|SDK|API|CLI|library|lib|client|package|plugin|app|agent|driver|"
                r"Python|Node(?:\.js)?|Java|Go|Ruby|PHP|iOS|Android|Chrome|Firefox|Safari|macOS|Windows|Ubuntu|"
                r"Postgres(?:QL)?|MySQL|Redis|Kubernetes|Terraform|OpenSSL|TLS|HTTP|OAuth|Rails|Django|React)")
# Version with a "v": v2, v2.3, v2.3.1-beta.1.
_VERSION_V = re.compile(r"[vV](?<![\w/.][vV])(\d+(?:\.\d+){0,3}(?:-[0-9A-Za-z.]+)?)\b")
# Three-or-more-part dotted numbers are versions: 2.3.1, 10.0.19045.
_VERSION_3 = re.compile(r"(\d(?<![\w./]\d)\d*\.\d+\.\d+(?:\.\d+)?(?:-[0-9A-Za-z.]+)?)\b(?!\.\d)")
# Two-part numbers after a product/version word are versions: "SDK 5.2", "version 4.10", "Python 3.11".
_DOTTED_NUM = re.compile(r"(\d(?<![\w.]\d)\d*(?:\.\d+)+(?:-[0-9A-Za-z.]+)?)\b(?!\s*%)")
_VERSION_CTX_TAIL = re.compile(rf"\b{_VERSION_CTX}\s+$")
_STATUS_PHRASES = (r"(?:errors?|responses?|status(?:\s+codes?)?|codes?|Too\s+Many\s+Requests|Not\s+Found|Bad\s+Request|"
                   r"Unauthori[sz]ed|Forbidden|Internal\s+Server\s+Error|Bad\s+Gateway|Service\s+Unavailable|"
                   r"Gateway\s+Time-?out|Conflict|Created|OK|No\s+Content|Unprocessable|Payment\s+Required|"
                   r"Request\s+Time-?out|Gone|Precondition|Payload\s+Too\s+Large|Not\s+Modified|Moved|Accepted|"
                   r"Method\s+Not\s+Allowed|Too\s+Early|Locked|Not\s+Implemented)")
# A candidate status code: a standalone 3-digit number 100-599 (then confirmed by one of the three contexts below).
_STATUS_NUM = re.compile(r"[1-5](?<![\w.,/-][1-5])\d\d\b(?![.,]\d)")
# Cue before a code: "HTTP 429", "status 503", "returns a 404", "error code 500", "responds with 201".
_STATUS_PRE = re.compile(
    r"\b(?:HTTP(?:/\d(?:\.\d)?)?|status(?:\s+code)?|(?:error|response|status)\s+code|error|returns?|returned|returning|"
    r"respon(?:ds?|ded)\s+with|got|gets|getting|throws?|threw|receives?|received|with\s+(?:an?\s+)?HTTP)"
    r"\s+(?:an?\s+|the\s+)?[\"'`(]?$", re.IGNORECASE)
# ...unless the number is a quantity: "returns 100 items", "got 200 requests", "error 500 ms".
_STATUS_NOT_QTY = re.compile(r"\s*(?:%|ms|s\b|seconds?|requests?|items?)", re.IGNORECASE)
# Reason phrase after a code: "429 Too Many Requests", "a 500 error", "503 responses".
_STATUS_POST = re.compile(rf"\s+{_STATUS_PHRASES}\b")
# Status-code classes and plurals: "5xx", "4XX errors", "429s", "500s".
_STATUS_CLASS = re.compile(r"([1-5](?<![\w.][1-5])(?:[xX]{2}|\d\ds))\b")
# A bare code ("(429)", "429/503") counts when its clause talks about HTTP/status/error/response.
_STATUS_CTX = re.compile(r"\b(?:HTTP|status|error|errors|response|responses|returns?|returned)\b", re.IGNORECASE)
_BARE_AFTER = frozenset(" \t\n\r/,.;:)")
# Identifiers: UI navigation paths ("Settings > Security", "Admin > Security > Sessions"); not "->" arrows.
_IDENT_UI = re.compile(r"\b[A-Z][\w+&'-]*(?: [A-Z&][\w+&'-]*){0,3}(?:\s*(?<!-)(?:>|›|»)\s*[A-Z][\w+&'-]*"
                       r"(?: [A-Z&][\w+&'-]*){0,3})+")
# List enumerators: "(1) ... (2) ..." and "1. " / "2) " at a line start are not numbers.
_ENUM_PAREN = re.compile(r"\((\d{1,2})\)(?=\s)")
_ENUM_LINE = re.compile(r"\s*\d{1,2}[.)]\s")  # matched at each line start
# Identifiers: `backticked code`.
_IDENT_TICK = re.compile(r"`([^`\n]{1,80})`")
# Identifiers: --cli-flags and -x short flags after whitespace.
_IDENT_FLAG = re.compile(r"(-(?<![\w-]-)-[a-zA-Z][\w-]*(?:=[\w.-]+)?)")
# Identifiers: ENV_VARS / CONSTANTS with an underscore (MAX_RETRIES, API_KEY).
_IDENT_ENV = re.compile(r"([A-Z](?<![\w$.][A-Z])[A-Z0-9]*(?:_[A-Z0-9]+)+)\b")
# Identifiers: snake_case (retry_count, x_request_id).
_IDENT_SNAKE = re.compile(r"([a-z](?<![\w$.-][a-z])[a-z0-9]*(?:_[a-z0-9]+)+)\b")
# Identifiers: camelCase / lowerCamel with an inner capital (retryCount, maxRetries, iOS excluded below).
_IDENT_CAMEL = re.compile(r"([a-z](?<![\w$-][a-z])[a-z]*[A-Z][A-Za-z0-9]*)\b")
# Identifiers: PascalCase compound with 2+ humps (PaymentIntent, WebhookEndpoint) - only with an inner lower->Upper.
_IDENT_PASCAL = re.compile(r"([A-Z](?<![\w$-][A-Z])[a-z0-9]+(?:[A-Z][a-z0-9]+)+)\b")
# Identifiers: dotted names (payments.retry_count, client.charges.create, config.yaml); not e.g./i.e./urls.
_IDENT_DOTTED = re.compile(r"([A-Za-z_](?<![\w./@:-][A-Za-z_])[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\(\))?"
                           r"(?![\w/@-])")
_NOT_DOTTED = frozenset({"e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "etc", "vs", "node.js", "next.js", "vue.js"})
_NOT_CAMEL = frozenset({"iOS", "iPhone", "iPad", "macOS", "eBay", "iPadOS", "watchOS", "tvOS", "iCloud", "eSIM",
                        "mTLS", "gRPC", "jQuery", "npm", "pH", "kWh", "mAh", "eCommerce", "iMac"})
_TIME_UNITS = {
    "ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "min": "min", "mins": "min", "minute": "min", "minutes": "min",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d", "wk": "wk", "week": "wk", "weeks": "wk",
    "month": "mo", "months": "mo", "year": "yr", "years": "yr", "yr": "yr", "yrs": "yr",
}
_SIZE_UNITS = {"b": "b", "byte": "b", "bytes": "b", "kb": "kb", "mb": "mb", "gb": "gb", "tb": "tb",
               "kib": "kib", "mib": "mib", "gib": "gib", "tib": "tib", "kbps": "kbps", "mbps": "mbps",
               "gbps": "gbps"}
_OTHER_UNITS = {"%": "%", "percent": "%", "pct": "%", "x": "x", "ghz": "ghz", "mhz": "mhz", "px": "px",
                "rps": "/s", "qps": "/s", "rpm": "/min"}
_UNIT_CANON = {**_TIME_UNITS, **_SIZE_UNITS, **_OTHER_UNITS}
_RATE_DEN = {"s": "s", "sec": "s", "second": "s", "min": "min", "minute": "min", "m": "min", "h": "h", "hr": "h",
             "hour": "h", "d": "d", "day": "d", "request": "request", "req": "request", "user": "user",
             "month": "mo", "mo": "mo", "account": "account", "seat": "seat", "call": "call", "page": "page",
             "project": "project", "key": "key", "ip": "ip", "org": "org", "organization": "org", "workspace":
             "workspace", "batch": "batch", "file": "file", "team": "team", "minute.": "min"}
_UNIT_ALT = "|".join(sorted((re.escape(u) for u in _UNIT_CANON if u != "%"), key=len, reverse=True))
_DEN_ALT = "|".join(sorted((re.escape(u) for u in _RATE_DEN), key=len, reverse=True))
# Numbers with an optional scale word, unit, counted noun and rate: "30 seconds", "2 MB", "99.9%", "10,000",
# "100 requests/min", "100 requests per minute", "10k", "1.5 million".
_NUMBER = re.compile(
    rf"(?P<num>\d(?<![\w.,/#@]\d)(?<![A-Za-z_]-\d)(?<!\d\.\d)(?:\d{{0,2}}(?:,\d{{3}})+(?:\.\d+)?|\d*(?:\.\d+)?))"
    rf"(?![.,]\d)"
    rf"(?P<scale>\s?(?:k|K)\b|\s+(?:thousand|million|billion)\b)?"
    rf"(?:\s?(?P<pct>%)|\s?-?(?P<unit>(?i:{_UNIT_ALT}))\b)?"
    rf"(?:\s+(?P<noun>[a-zA-Z][a-zA-Z-]{{1,24}}))?"
    rf"(?:\s*(?:/|(?i:\bper\b|\ban?\b|\beach\b))\s*(?P<den>(?i:{_DEN_ALT}))\b)?")
# Small number words in front of a counted noun ("three retries") are numbers too.
_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
              "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "sixty": 60,
              "hundred": 100}
_NUM_WORD = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|sixty)\s+"
    rf"({_UNIT_ALT}|retries|attempts|requests|calls|times|items|records|days|hours|minutes|seconds)\b",
    re.IGNORECASE)
_NUM_WORD_LIST = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "fifteen",
                  "twenty", "thirty", "sixty")
_NUM_WORD_SET = frozenset(_NUM_WORD_LIST)
_SCALES = {"k": 1_000, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
# Nouns after a number that are just English, not part of the quantity ("30 seconds to ...").
_NOT_NOUN = frozenset({
    "to", "and", "or", "of", "in", "on", "at", "for", "by", "the", "a", "an", "with", "from", "is", "are", "was",
    "were", "be", "so", "as", "if", "it", "that", "this", "when", "than", "then", "but", "per", "each", "after",
    "before", "now", "instead", "only", "more", "less", "fewer", "times", "s", "into", "under", "over", "up",
    "down", "out", "via", "no", "not", "has", "have", "had", "will", "would", "can", "could", "should", "may",
    "might", "we", "you", "they", "he", "she", "i", "its", "our", "your", "their", "what", "which", "who",
    "where", "while", "because", "since", "until", "till", "also", "too", "still", "all", "any", "some",
})



# ---------------------------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------------------------

# Cheap gates: a pattern family runs only when its gate finds something (most texts skip most families).
_GATE_DIGIT = re.compile(r"\d")
_GATE_UI = re.compile(r"[>›»] ?[A-Z]")
_GATE_MONTH = re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)")
_GATE_QUARTER = re.compile(r"[QHF][1-4Y]")
_GATE_V = re.compile(r"[vV]\d")
_GATE_DOTNUM = re.compile(r"\d\.\d")
_GATE_STATUS = re.compile(r"[1-5](?<!\d[1-5])(?:\d\d|[xX][xX])(?!\d)")
_TWO_LOWER = re.compile(r"[a-z]{2}")
_UI_SPLIT = re.compile(r"\s*(?:>|›|»)\s*")
_HAS_LOWER = re.compile(r"[a-z]")
_INITIALS = re.compile(r"(?:[a-z]\.)+[a-z]")


_HUMP = re.compile(r"[A-Z](?<=[a-z0-9][A-Z])")  # a capital right after a lower-case letter or digit
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ALNUM_DOT = _ALNUM | frozenset("._")
_LOWER_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def find_all(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i >= 0:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


def token_starts(text: str, positions: list[int], chars: frozenset) -> list[int]:
    """For each position (ascending), walk left over ``chars`` to where its token starts; distinct starts in order.

    A walk stops at the previous position, whose start is already known: linear in the text however long a token.
    """
    starts: list[int] = []
    prev_i, prev_start = -1, -1
    for i in positions:
        j = i
        while j > 0 and j > prev_i and text[j - 1] in chars:
            j -= 1
        if j == prev_i and prev_i >= 0:
            j = prev_start
        if not starts or starts[-1] != j:
            starts.append(j)
        prev_i, prev_start = i, j
    return starts


def _fmt(x: float) -> str:
    """Shortest decimal for a number: 2.0 -> '2', 99.90 -> '99.9', 10000 -> '10000'."""
    if not math.isfinite(x):
        return "inf"
    if abs(x) < 1e15 and x == int(x):
        return str(int(x))
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _norm_version(v: str) -> str:
    v = v.strip().lower()
    if v.startswith("v"):
        v = v[1:]
    return v


def _norm_path(path: str) -> str:
    path = path.rstrip("/.") or "/"
    path = re.sub(r"\{[^}/]*\}|:[A-Za-z_]\w*|<[^>/]*>", "{}", path)
    return path.lower()


def extract_facts(text: str) -> list[Fact]:
    """Every fact in ``text`` in order of appearance; each character span belongs to at most one fact.

    Priority when patterns overlap: endpoint > ticket_key > date > version > status_code > identifier > number
    (so the "1" in "/v1/users" or the "2026" in "2026-03-01" is not also a number).
    """
    return [f for _, _, f in fact_spans(text)]


def fact_spans(text: str) -> list[tuple[int, int, Fact]]:
    """Like ``extract_facts`` but with each fact's ``(start, end)`` character offsets in ``text``."""
    return fact_spans_in(text, text.lower(), None)


def fact_spans_in(text: str, low: str, words: frozenset | None) -> list[tuple[int, int, Fact]]:
    """``fact_spans`` with the lower-cased text (and optionally its set of letter runs) already computed."""
    if not text:
        return []
    found: list[tuple[int, int, Fact]] = []
    taken = bytearray(len(text))  # 1 where a fact (or a list enumerator) already sits

    def add(start: int, end: int, kind: str, value: str, normalized: str) -> None:
        if taken.find(1, start, end) >= 0:
            return
        taken[start:end] = b"\x01" * (end - start)
        found.append((start, end, Fact(kind, value, normalized)))

    has_digit = _GATE_DIGIT.search(text) is not None
    # endpoints
    if "/" in text:
        for m in _ENDPOINT.finditer(text):
            path = m.group("path").rstrip(".:")  # sentence punctuation is not part of the path
            if path.count("/") == 1 and not _TWO_LOWER.search(path):  # "/s", "/7": a rate or a fraction
                continue
            start, end = m.start(), m.start() + len(path)
            mm = _METHOD_BEFORE.search(text, max(0, start - 10), start)
            if mm:
                start = mm.start()
            add(start, end, "endpoint", text[start:end], _norm_path(path))
    if has_digit and "-" in text:
        # ticket keys
        for m in _TICKET.finditer(text):
            if m.group(1) not in _NOT_TICKET:
                add(m.start(), m.end(), "ticket_key", m.group(0), m.group(0).upper())
        # ISO dates
        for m in _DATE_ISO.finditer(text):
            y, mo, d = m.groups()
            add(m.start(), m.end(), "date", m.group(0), f"{y}-{int(mo):02d}-{int(d):02d}")
        for m in _DATE_YM.finditer(text):
            add(m.start(), m.end(), "date", m.group(0), f"{m.group(1)}-{m.group(2)}")
    elif has_digit and "/" in text:
        for m in _DATE_ISO.finditer(text):
            y, mo, d = m.groups()
            add(m.start(), m.end(), "date", m.group(0), f"{y}-{int(mo):02d}-{int(d):02d}")
    # month-name dates
    if has_digit and _GATE_MONTH.search(text):
        for rx in (_DATE_MD, _DATE_DM):
            for m in rx.finditer(text):
                if rx is _DATE_MD:
                    mon, day, year = m.groups()
                else:
                    day, mon, year = m.groups()
                if not 1 <= int(day) <= 31:
                    continue
                md = f"{_MONTHS[mon[:3].lower()]:02d}-{int(day):02d}"
                add(m.start(), m.end(), "date", m.group(0), f"{year}-{md}" if year else md)
        for m in _DATE_MY.finditer(text):
            mon, year = m.groups()
            add(m.start(), m.end(), "date", m.group(0), f"{year}-{_MONTHS[mon[:3].lower()]:02d}")
    if has_digit and _GATE_QUARTER.search(text):
        for m in _DATE_Q.finditer(text):
            if m.group(3):
                add(m.start(), m.end(), "date", m.group(0), m.group(3).replace(" ", "").lower())
                continue
            q, year = m.group(1), m.group(2)
            if year and len(year) == 2:
                year = "20" + year
            add(m.start(), m.end(), "date", m.group(0), f"{year}-{q.lower()}" if year else q.lower())
    # versions
    if has_digit:
        if _GATE_V.search(text):
            for m in _VERSION_V.finditer(text):
                add(m.start(), m.end(), "version", m.group(0), _norm_version(m.group(1)))
        if _GATE_DOTNUM.search(text):
            for m in _VERSION_3.finditer(text):
                add(m.start(), m.end(), "version", m.group(0), _norm_version(m.group(1)))
            for m in _DOTTED_NUM.finditer(text):
                if _VERSION_CTX_TAIL.search(text, max(0, m.start() - 24), m.start()):
                    add(m.start(1), m.end(1), "version", m.group(1), _norm_version(m.group(1)))
    # status codes
    if has_digit and _GATE_STATUS.search(text):
        bare: list[re.Match] = []
        for m in _STATUS_NUM.finditer(text):
            a, b = m.start(), m.end()
            if (_STATUS_PRE.search(text, max(0, a - 40), a) and not _STATUS_NOT_QTY.match(text, b)) or \
                    _STATUS_POST.match(text, b):
                add(a, b, "status_code", m.group(0), m.group(0))
            else:
                bare.append(m)
        for m in _STATUS_CLASS.finditer(text):
            code = m.group(1).lower()
            add(m.start(1), m.end(1), "status_code", m.group(1), code[:-1] if code.endswith("s") else code)
        for m in bare:
            code = int(m.group(0))
            a, b = m.start(), m.end()
            if not (400 <= code <= 599 or code in (200, 201, 202, 204, 301, 302, 304)):
                continue
            if b < len(text) and text[b] not in _BARE_AFTER:
                continue
            lo = max(text.rfind(c, 0, a) for c in ".!?\n") + 1
            hi = min((i for i in (text.find(c, b) for c in ".!?\n") if i >= 0), default=len(text))
            if _STATUS_CTX.search(text, lo, hi):
                add(a, b, "status_code", m.group(0), m.group(0))
    # identifiers
    if _GATE_UI.search(text):
        for m in _IDENT_UI.finditer(text):
            parts = [p.strip() for p in _UI_SPLIT.split(m.group(0))]
            add(m.start(), m.end(), "identifier", m.group(0), " > ".join(parts).lower())
    if "`" in text:
        for m in _IDENT_TICK.finditer(text):
            inner = m.group(1).strip()
            if inner:
                add(m.start(), m.end(), "identifier", inner, inner.lower())
    if "--" in text:
        for m in _IDENT_FLAG.finditer(text):
            add(m.start(1), m.end(1), "identifier", m.group(1), m.group(1).lower())
    # ENV_VARS, snake_case, dotted.names, camelCase, PascalCase: tried only at the start of a token that holds
    # an underscore, an inner dot or an inner capital (found with str.find / an [A-Z] scan, not at every letter).
    found_ids: dict[re.Pattern, list[re.Match]] = {}
    if "_" in text:
        for start in token_starts(text, find_all(text, "_"), _ALNUM):
            for rx in (_IDENT_ENV, _IDENT_SNAKE):
                m = rx.match(text, start)
                if m:
                    found_ids.setdefault(rx, []).append(m)
    if "." in text:
        dots = [i for i in find_all(text, ".") if 0 < i < len(text) - 1 and (text[i + 1].isalpha() or
                                                                            text[i + 1] == "_")
                and (text[i - 1].isalnum() or text[i - 1] == "_")]
        for start in token_starts(text, dots, _ALNUM_DOT):
            m = _IDENT_DOTTED.match(text, start)
            if m:
                ident_low = m.group(1).lower()
                if ident_low in _NOT_DOTTED or not _HAS_LOWER.search(ident_low) or _INITIALS.fullmatch(ident_low):
                    continue
                found_ids.setdefault(_IDENT_DOTTED, []).append(m)
    humps = [m.start() for m in _HUMP.finditer(text)]
    for start in token_starts(text, humps, _ALNUM):
        rx = _IDENT_CAMEL if text[start].islower() else _IDENT_PASCAL
        m = rx.match(text, start)
        if m and not (rx is _IDENT_CAMEL and m.group(1) in _NOT_CAMEL):
            found_ids.setdefault(rx, []).append(m)
    for rx in (_IDENT_ENV, _IDENT_SNAKE, _IDENT_DOTTED, _IDENT_CAMEL, _IDENT_PASCAL):
        for m in found_ids.get(rx, ()):
            add(m.start(1), m.end(1), "identifier", m.group(1), m.group(1).lower())
    # numbers (list enumerators excluded)
    if has_digit:
        enums = [(m.start(), m.end()) for m in _ENUM_PAREN.finditer(text)] if "(" in text else []
        if len(enums) >= 2:
            for a, b in enums:
                taken[a:b] = b"\x01" * (b - a)
        pos = 0
        for line in text.split("\n"):
            em = _ENUM_LINE.match(line)
            if em:
                taken[pos:pos + em.end()] = b"\x01" * em.end()
            pos += len(line) + 1
        for m in _NUMBER.finditer(text):
            num = float(m.group("num").replace(",", ""))
            scale = (m.group("scale") or "").strip().lower()
            if scale:
                num *= _SCALES[scale]
            unit = "%" if m.group("pct") else _UNIT_CANON.get((m.group("unit") or "").lower(), "")
            noun = m.group("noun") or ""
            den = _RATE_DEN.get((m.group("den") or "").lower(), "")
            end = m.end()
            if noun and noun.lower() in _NOT_NOUN:
                noun = ""
            if noun and unit:
                noun = ""  # "30 seconds timeout": the noun after a unit is not part of the fact
            if not noun and not den:
                end = m.end("pct") if m.group("pct") else (m.end("unit") if m.group("unit") else
                                                             (m.end("scale") if m.group("scale") else m.end("num")))
            elif not den:
                end = m.end("noun")
            if not (m.group("scale") or m.group("unit") or m.group("pct")):
                nxt = text[m.end("num"):m.end("num") + 1]
                if nxt.isalpha() or nxt == "_":  # "2FA", "p95x", "3rd": not a quantity
                    continue
            start = m.start()
            cur = text[start - 1] if start and text[start - 1] in "$€£" else ""
            start -= len(cur)
            norm = cur + _fmt(num) + unit
            if den:
                norm += "/" + den
            add(start, end, "number", text[start:end], norm)
    for w in (_NUM_WORD_LIST if words is None else _NUM_WORD_SET & words):
        i = low.find(w)
        while i >= 0:
            if (i == 0 or not low[i - 1].isalnum()) and low[i + len(w):i + len(w) + 1].isspace():
                m = _NUM_WORD.match(text, i)
                if m:
                    n = _NUM_WORDS[m.group(1).lower()]
                    unit = _UNIT_CANON.get(m.group(2).lower(), "")
                    add(m.start(), m.end(), "number", m.group(0), _fmt(n) + unit)
            i = low.find(w, i + 1)
    found.sort(key=lambda t: t[0])
    return found


_NUM_NORM = re.compile(r"^(-?\d+(?:\.\d+)?)(.*)$")


@lru_cache(maxsize=65536)
def number_parts(normalized: str) -> tuple[float, str]:
    """``"30s" -> (30.0, "s")``, ``"100/min" -> (100.0, "/min")``, ``"10000" -> (10000.0, "")``."""
    m = _NUM_NORM.match(normalized)
    if not m:
        return (float("nan"), normalized)
    return float(m.group(1)), m.group(2)


_NOUN_OF_VALUE = re.compile(r"^[\d.,]+\s*(?:k|K|thousand|million|billion)?\s+([a-zA-Z][a-zA-Z-]+)")


def number_noun(fact: Fact) -> str:
    """The counted noun of a unitless number, singularised ("5 retries" -> "retry"), else ""."""
    return _noun_of(fact.value)


@lru_cache(maxsize=65536)
def _noun_of(value: str) -> str:
    m = _NOUN_OF_VALUE.match(value)
    if not m:
        return ""
    w = m.group(1).lower()
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        return w[:-1]
    return w


def ticket_keys(text: str) -> list[str]:
    """Issue-tracker keys (``ABC-1234``) in order of appearance, deduplicated."""
    seen: dict[str, None] = {}
    for m in _TICKET.finditer(text):
        if m.group(1) not in _NOT_TICKET:
            seen.setdefault(m.group(0).upper(), None)
    return list(seen)
