"""Voice and tone checks: vague, hyped, apologetic, blaming, internal-engineering or stiffly formal wording."""
from __future__ import annotations

import re

from .text import OK, CheckResult, Phrases, diminishing, doc_of, gate, quote_list

_VAGUE = Phrases([
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
    hits = [h.strip() for h in _VAGUE.hits(doc_of(output))]
    if not hits:
        return OK
    return CheckResult(min(2.0, float(len(hits))),
                       [f"vague wording {quote_list(hits)} — say exactly what changed and for whom"])



_HYPE_STRONG = Phrases([
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
_HYPE_MILD = Phrases([
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
    text = doc_of(output).text
    doc = doc_of(output)
    strong = _HYPE_STRONG.hits(doc)
    mild = _HYPE_MILD.hits(doc)
    emoji = [] if text.isascii() else _EMOJI.findall(text)
    bangs = text.count("!")
    multi = len(re.findall(r"!{2,}", text))
    sev = len(strong) + 0.5 * len(mild) + 1.0 * min(len(emoji), 2) + (0.5 if bangs else 0) + 0.25 * max(
        0, bangs - 1) + 0.5 * multi
    if sev <= 0:
        return OK
    shown = strong + mild + emoji + (["!" * 2 if multi else "!"] if bangs else [])
    return CheckResult(min(2.5, sev), [f"hype {quote_list(shown)} — state the change plainly"])


_APOLOGY = Phrases([
    ("we", r"(?:we\s+are|we['’]re)\s+(?:so\s+|very\s+|deeply\s+|truly\s+)?sorry\b", "sorry"),
    ("we", r"we\s+(?:sincerely\s+)?apologi[sz]e\b", "apologize apologise"),
    ("apologies", r"apologies\s+for\b"),
    ("sorry", r"sorry\s+for\s+(?:any|the)\s+inconvenience\b", "inconvenience"),
    ("for", r"for\s+any\s+inconvenience\b", "inconvenience"),
    ("we", r"we\s+(?:deeply\s+)?regret\b", "regret"),
])


def check_apology(source: str, output: str) -> CheckResult:
    """Gratuitous apology or drama ("we're so sorry for any inconvenience")."""
    hits = _APOLOGY.hits(doc_of(output))
    if not hits:
        return OK
    return CheckResult(1.0, [f"apologetic drama {quote_list(hits)} — drop it and state the change"])


_BLAME_OBJ = "bug fault mistake broken outage error bad"
_G_BLAME_OBJ = gate(_BLAME_OBJ)
_BLAME = Phrases([
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
    doc = doc_of(output)
    hits = _BLAME.hits(doc)
    if not _G_BLAME_OBJ.isdisjoint(doc.alpha):
        hits += [m.group(0) for m in _BLAME_POSSESSIVE.finditer(doc.text)]
    if not hits:
        return OK
    return CheckResult(diminishing(len(set(hits)), 2.0),
                       [f"blames others {quote_list(hits)} — describe the problem and the fix neutrally"])


_VOICE_STRONG = Phrases([
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
_VOICE_MILD = Phrases([
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
    text = doc_of(output).text
    doc = doc_of(output)
    strong = _VOICE_STRONG.hits(doc)
    low_strong = {s.lower() for s in strong}
    mild = [h for h in _VOICE_MILD.hits(doc) if h.lower() not in low_strong]
    mild += ["->"] * text.count("->") + ["=>"] * text.count("=>")
    sev = len(strong) + 0.5 * len(mild)
    if sev <= 0:
        return OK
    return CheckResult(diminishing(sev, 2.0),
                       [f"internal engineering voice {quote_list(strong + mild)} — say what the customer sees instead"])




# A register stiffer than a changelog's: official-letter formulas and impersonal bureaucratic passives. Plain,
# neutral wording is never a hit (no contractions, "please", "is now", ordinary passives such as "are retried").
_STIFF_STRONG = Phrases([
    ("we", r"we\s+(?:wish|would\s+like|are\s+writing|hereby\s+wish)\s+to\s+(?:inform|advise|notify|announce)\b",
     "inform advise notify announce"),
    ("we", r"we\s+hereby\b", "hereby"),
    ("please kindly be", r"(?:please\s+|kindly\s+)?be\s+(?:advised|informed|notified)\b", "advised informed notified"),
    ("it", r"it\s+is\s+(?:hereby\s+)?(?:noted|notified|announced|advised|communicated)\b",
     "noted notified announced advised communicated"),
    ("it", r"it\s+(?:should|must|is\s+to)\s+be\s+noted\b", "noted"),
    ("it", r"it\s+has\s+been\s+(?:decided|determined|deemed|agreed)\b", "decided determined deemed agreed"),
    ("it", r"it\s+is\s+(?:hereby\s+)?(?:recommended|requested|required|advised)\s+that\b",
     "recommended requested required advised"),
    ("users customers clients you", r"(?:users|customers|clients|you)\s+are\s+(?:hereby\s+|kindly\s+)?"
     r"(?:advised|requested|informed|notified|reminded)\s+(?:to|that)\b",
     "advised requested informed notified reminded"),
    ("hereby herein hereinafter heretofore henceforth herewith thereof therein whereby aforementioned aforesaid "
     "undersigned notwithstanding", r"(?:hereby|herein|hereinafter|heretofore|henceforth|herewith|thereof|therein|"
     r"whereby|aforementioned|aforesaid|undersigned|notwithstanding)\b"),
    ("with", r"with\s+(?:effect\s+from|immediate\s+effect)\b", "effect"),
    ("has have", r"(?:has|have)\s+been\s+(?:effected|implemented|undertaken|instituted|duly)\b",
     "effected implemented undertaken instituted duly"),
    ("pursuant", r"pursuant\s+to\b"),
    ("in", r"in\s+accordance\s+with\b", "accordance"),
    ("for", r"for\s+the\s+avoidance\s+of\s+doubt\b", "avoidance"),
    ("should", r"should\s+you\s+(?:wish|require|have|experience|encounter)\b", "wish require have experience "
     "encounter"),
    ("do", r"do\s+not\s+hesitate\s+to\b", "hesitate"),
])
_STIFF_MILD = Phrases([
    ("shall", r"shall\b"),
    ("prior", r"prior\s+to\b"),
    ("in", r"in\s+the\s+event\s+(?:that|of)\b", "event"),
    ("at", r"at\s+this\s+(?:point\s+in\s+)?time\b", "time"),
    ("with", r"with\s+(?:regard|respect)\s+to\b", "regard respect"),
    ("utilise utilize utilised utilized utilisation utilization commence commences commenced endeavour endeavor",
     r"(?:utili[sz](?:e|ed|ation)|commence[sd]?|endeavou?r)\b"),
    ("is are", r"(?:is|are)\s+(?:hereby\s+)?deemed\b", "deemed"),  # not "rendered": pages are rendered
    ("kindly", r"kindly\b"),
    ("the", r"the\s+(?:aforementioned|said)\s+\w+", "aforementioned said"),
])


def check_formal_register(source: str, output: str) -> CheckResult:
    """A register too stiff for a changelog: "We wish to inform you that", "It is hereby noted", "Please be advised",
    "it has been decided that", "with effect from" (1 each), "shall", "prior to" (0.5 each; one alone is free).

    In proportion, with diminishing returns: one formula ~1, a formula and a "shall" 1.25, three or more formulas 2
    (the cap). Plain, neutral wording (no contractions, "please note", ordinary passives) is never a hit."""
    doc = doc_of(output)
    strong = _STIFF_STRONG.hits(doc)
    mild = _STIFF_MILD.hits(doc)
    if not strong and len(mild) < 2:  # one "prior to" or "shall" alone is a trace an editor leaves in
        return OK
    sev = len(strong) + 0.5 * len(mild)
    return CheckResult(diminishing(sev, 2.0),
                       [f"stiff, formal register {quote_list(strong + mild)} — write it as a plain changelog "
                        f"entry (\"You can now ...\", \"X now ...\")"])
