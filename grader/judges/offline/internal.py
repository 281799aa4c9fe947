"""Internal matter a customer should not see: TODOs, hacks, internal hosts, services, teams, chat and process."""
from __future__ import annotations

import re
from .facts import find_all, token_starts


# ---------------------------------------------------------------------------------------------------------------
# Internal markers (each with a one-line intent)
# ---------------------------------------------------------------------------------------------------------------

_INTERNAL = [
    # Work-in-progress markers left in text.
    re.compile(r"\b(?:TODO|FIXME|XXX|TBD|WIP|HACK)\b"),
    # Hacks and workarounds in dev voice: "a hack", "hacky", "we hacked", "monkey-patch".
    re.compile(r"\b(?:hack(?:ed|y|ish)?|kludge|monkey[- ]?patch(?:ed)?)\b", re.IGNORECASE),
    # Internal hostnames: anything.internal / .corp / .intranet / .lan / .local, localhost, private IPs.
    re.compile(r"\b[a-z0-9][\w-]*(?:\.[\w-]+)*\.(?:internal|corp|intranet|intra|lan|local)\b|\blocalhost(?::\d+)?\b|"
               r"\b(?:10\.\d{1,3}|192\.168|172\.(?:1[6-9]|2\d|3[01]))\.\d{1,3}\.\d{1,3}\b", re.IGNORECASE),
    # Stack traces: "Traceback", 'File "x.py", line 3', "at com.foo.Bar(Bar.java:12)", "foo.go:123".
    re.compile(r"\bTraceback \(most recent call last\)|\bFile \"[^\"]+\", line \d+|"
               r"\bat [\w$.]+\([\w$]+\.(?:java|kt|scala|js|ts):\d+\)|\b[\w/-]+\.(?:py|java|go|js|ts|rb|kt|cs|cpp|c|rs)"
               r":\d+\b|\b(?:[A-Z]\w+)?(?:Exception|Error)\s+at\s+[\w$.]+|\bpanic: |\bsegfault\b|\bcore dump(?:ed)?\b"),
    # Raw exception class names (NullPointerException, KeyError) are stack details, not customer language.
    re.compile(r"\b(?:NullPointer|IllegalState|IllegalArgument|IndexOutOfBounds|ConcurrentModification|"
               r"ClassCast|NoSuchElement|Key|Attribute|Type|Value|Index|Runtime|Assertion|Recursion|Import|"
               r"ModuleNotFound|Unbound(?:Local)?|ZeroDivision|Name)(?:Exception|Error)\b|\bOOM(?:Killed)?\b|"
               r"\bstack ?trace\b"),
    # On-call and incident process: "on-call", "pager", "PagerDuty", "postmortem", "incident channel", "SEV2".
    re.compile(r"\b(?:on-?call|oncall|pager(?:duty)?|paged|post-?mortem|war ?room|incident (?:channel|review|doc)|"
               r"SEV-?[0-4]|P[0-4] incident)\b", re.IGNORECASE),
    # Internal teams: "the platform team", "infra team", "SRE", "team-payments", "eng team".
    re.compile(r"\b(?:the\s+)?(?:platform|infra(?:structure)?|sre|backend|back-end|frontend|front-end|devops|"
               r"core|data|ops|eng(?:ineering)?|dev|qa|api|mobile|web|growth|payments?|billing|identity|auth|"
               r"storage|networking|search|ml|release|build|tooling|observability|reliability|integrations?)"
               r"[ -](?:team|squad|pod|guild|chapter|crew|oncall)\b|\bteam-[a-z][\w-]*\b|\bSREs?\b", re.IGNORECASE),
    # Slack/chat references: "#payments-oncall", "#incident-123", "@here", "@oncall-infra", "per Slack".
    re.compile(r"(?<![\w&#/])#[a-z][a-z0-9_-]*[a-z0-9](?![\w-])|(?<![\w.])@(?:here|channel|oncall|[a-z][\w-]*-"
               r"(?:team|oncall|eng|infra))\b|\b(?:in|on|per|via|from) (?:the )?slack\b|\bslack thread\b",
               re.IGNORECASE),
    # Internal tooling and process: Jira, Confluence, runbooks, Splunk, Kibana, Grafana dashboards, sprints.
    re.compile(r"\b(?:Jira|JIRA|Confluence|runbook|playbook|Splunk|Kibana|Grafana|Sentry alert|Datadog (?:alert|"
               r"monitor|dashboard)|sprint|standup|stand-up|retro|backlog|grooming|story points?|code ?freeze|"
               r"feature flag(?:ged)?|kill ?switch|rollout %|canary|staging|pre-?prod|prod(?:uction)? (?:db|cluster|"
               r"box|host|node)s?|hotfix(?:ed)?|cherry-?pick(?:ed)?|repro(?:duced|s)?|root[- ]caused?)\b"),
    # Internal services and hosts: ledger-svc, auth-service, billing-worker, payments-db-2, us-east-1 clusters.
    re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)*-(?:svc|service|worker|workers|daemon|db|cron|job|queue|consumer|"
               r"producer|proxy|cluster|shard|pod|node|box|replica|primary|canary|core|router|dispatcher|gateway|"
               r"store|redis|"
               r"kafka|api|mq|etl|scheduler|indexer|ingester|ingestor|manager|handler|backend|frontend|mailer|"
               r"internal|infra)(?:-\d+)?\b|"
               r"\b(?:prod|stg|staging|dev|qa)-[a-z0-9][\w-]*\b|\b[a-z]+\d*-(?:prod|stg|staging|dev)(?:-[\w]+)?\b"),
    # Who asked inside the company or which customer: "reported by Acme Corp", "per Alice", "cc @bob".
    re.compile(r"\b(?i:reported|requested|raised|escalated|flagged) by (?:the )?[A-Z][\w&.-]*(?: [A-Z][\w&.-]*){0,3}|"
               r"\b(?:customer|client|account)\s+[A-Z][\w&.-]+(?:\s+(?:Inc|Corp|Ltd|LLC|GmbH|Co)\b\.?)|"
               r"\bcc:? @?[a-z][\w.-]*\b|\bper [A-Z][a-z]+\b(?! (?:second|minute|hour|day|request|user|month))"),
]
# Trim "the " from team markers so "the platform team" and "platform team" compare equal.
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)


# One gate per _INTERNAL pattern: lower-case words (any one must occur as a word) and substrings (any one must
# occur anywhere). A pattern whose gate finds nothing is skipped: most texts skip most patterns.
def _g(words: str = "", subs: tuple[str, ...] = ()) -> tuple[frozenset, re.Pattern | None]:
    return frozenset(words.split()), re.compile("|".join(map(re.escape, subs))) if subs else None


_INTERNAL_GATES = (
    _g("todo fixme xxx tbd wip hack"),
    _g("hack hacked hacky hackish kludge monkey monkeypatch monkeypatched"),
    _g("localhost", (".internal", ".corp", ".intra", ".lan", ".local", "10.", "192.168", "172.")),
    _g("traceback panic segfault core", ('", line ', ".py:", ".java:", ".go:", ".js:", ".ts:", ".rb:", ".kt:",
                                          ".cs:", ".cpp:", ".c:", ".rs:", "exception at", "error at", ".java)",
                                          ".kt)", ".js)", ".ts)")),
    _g("oom oomkilled stack stacktrace", ("xception", "rror")),
    _g("call oncall pager pagerduty paged postmortem mortem war warroom incident sev"),
    _g("team squad pod guild chapter crew oncall sre sres"),
    _g("slack", ("#", "@")),
    _g("jira confluence runbook playbook splunk kibana grafana sentry datadog sprint standup stand retro backlog "
       "grooming story freeze codefreeze feature kill killswitch rollout canary staging preprod pre prod production "
       "hotfix hotfixed cherry cherrypick cherrypicked repro reproduced repros root"),
    _g("", ("-svc", "-service", "-worker", "-daemon", "-db", "-cron", "-job", "-queue", "-consumer", "-producer",
            "-proxy", "-cluster", "-shard", "-pod", "-node", "-box", "-replica", "-primary", "-canary", "-core",
            "-router", "-dispatcher", "-gateway", "-store", "-redis", "-kafka", "-api", "-mq", "-etl", "-scheduler",
            "-indexer", "-ingest", "-manager", "-handler", "-backend", "-frontend", "-mailer", "-internal", "-infra",
            "prod-", "stg-", "staging-", "dev-", "qa-", "-prod", "-stg", "-staging", "-dev")),
    _g("reported requested raised escalated flagged customer client account cc per"),
)
_ALPHA_RUN = re.compile(r"[a-z]+")
_SERVICE_RX = _INTERNAL[9]
_LOWER_DIGIT_HYPHEN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def internal_markers(text: str) -> list[str]:
    """Internal matter a customer should not see: TODO/FIXME, hacks, internal hosts and services, stack traces,
    on-call and incident process, internal team names, Slack channels, internal tooling, reporter/customer names.

    Returns the matched text, deduplicated case-insensitively, in order of appearance.
    """
    if not text:
        return []
    low = text.lower()
    return internal_markers_in(text, low, frozenset(_ALPHA_RUN.findall(low)))


def internal_markers_in(text: str, low: str, words: frozenset) -> list[str]:
    """``internal_markers`` with the lower-cased text and its set of letter runs already computed."""
    hits: list[tuple[int, int, str]] = []
    for (gate_words, gate_subs), rx in zip(_INTERNAL_GATES, _INTERNAL):
        if gate_words.isdisjoint(words) and (gate_subs is None or not gate_subs.search(low)):
            continue
        if rx is _SERVICE_RX:  # hyphenated names: tried only at the start of tokens that contain a hyphen
            for start in token_starts(text, find_all(text, "-"), _LOWER_DIGIT_HYPHEN):
                while start < len(text) and text[start] == "-":
                    start += 1
                m = rx.match(text, start)
                if m:
                    hits.append((m.start(), -m.end(), m.group(0)))
            continue
        for m in rx.finditer(text):
            hits.append((m.start(), -m.end(), m.group(0)))
    if not hits:
        return []
    hits.sort()  # by start, longest first: a match inside an earlier, longer one is dropped
    seen: dict[str, str] = {}
    covered = -1
    for start, neg_end, h in hits:
        if -neg_end <= covered:
            continue
        covered = max(covered, -neg_end)
        h = _LEADING_THE.sub("", h.strip().rstrip(".,;:"))
        seen.setdefault(h.lower(), h)
    return list(seen.values())

