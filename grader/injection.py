"""Spot text that tries to steer the grader instead of informing the reader.

``detect_injection`` is used by both judges to flag ``possible_prompt_injection``. It looks for text that addresses
the grader / judge / evaluator / model, asks for a score, tells the reader to ignore its instructions, mentions the
system prompt, or fakes a role marker or a closing data tag. Ordinary prose ("we now ignore empty headers",
"the evaluator service", "rated 5 stars by customers in the app store") must not trigger, so every cue needs an
imperative or grading context, not just a keyword.
"""
from __future__ import annotations

import re

__all__ = ["detect_injection"]

_WHO = r"(?:grader|grading (?:model|system|assistant)|judge|evaluator|assessor|reviewer model|scorer|rater|" \
       r"(?:AI|LLM|language model|assistant|model|chatbot|GPT|Claude)(?: model)?)"

_CUES: list[tuple[str, re.Pattern[str]]] = [
    # "ignore (all) (the) previous/prior/above instructions", "disregard earlier rules", "forget your instructions".
    ("ignore_instructions", re.compile(
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|these\s+|those\s+|my\s+)*"
        r"(?:previous|prior|preceding|above|earlier|original|foregoing|former|system|grading|scoring)?\s*"
        r"(?:instructions?|prompts?|rules?|guidelines?|rubric|directions?|criteria|context)\b", re.IGNORECASE)),
    # "system prompt", "developer message", "your instructions".
    ("system_prompt", re.compile(
        r"\b(?:system|developer|hidden|initial)\s+(?:prompt|message|instructions?)\b|\byour\s+(?:instructions|"
        r"rubric|guidelines|system prompt)\b", re.IGNORECASE)),
    # Direct address: "Dear grader", "Note to the evaluator:", "AI judge, please...", "To the LLM reading this".
    ("addresses_grader", re.compile(
        rf"(?:\b(?:dear|hey|hi|hello|attention|note\s+(?:to|for)(?:\s+the|\s+any)?|to\s+the|to\s+any|for\s+the)\s+"
        rf"(?:AI\s+|automated\s+|LLM\s+)?{_WHO}\b|^\s*(?:AI\s+|LLM\s+|automated\s+)?{_WHO}\s*[:,]|"
        rf"\b(?:you|you're|you\s+are)\s+(?:an?\s+|the\s+)?"
        rf"(?:AI\s+|LLM\s+)?(?:grader|judge|evaluator|scorer|rater)\b|\b(?:the|any)\s+(?:AI\s+|LLM\s+|automated\s+)?"
        rf"(?:grader|judge|evaluator|scorer|rater)\s+(?:should|must|will|shall|needs?\s+to|is\s+(?:instructed|asked|"
        rf"required))\b|\b(?:if\s+you\s+are|as\s+an?)\s+(?:AI|LLM|language\s+model|grader|judge|evaluator)\b)",
        re.IGNORECASE | re.MULTILINE)),
    # Score requests: "give this 5/5", "score: 5", "rate this a 10", "full marks", "maximum score", "top score".
    ("asks_for_score", re.compile(
        # a verb aimed at this text with a top score: "give this 5/5", "rate it a 10", "award the note full marks"
        r"\b(?:give|award|assign|grant|rate|score|grade|mark)\s+(?:this|it|me|the\s+(?:note|summary|response|answer|"
        r"output|text|release\s+note))\s*(?:an?\s+|as\s+(?:an?\s+)?|with\s+(?:an?\s+)?)?(?:perfect|full|maximum|max|"
        r"top|highest|\d+\s*/\s*\d+|\d+\s+out\s+of\s+\d+|(?:a\s+)?(?:5|10|five|ten)\b)"
        # a verb with a fraction or a top score and no object: "give 5/5", "award full marks"
        r"|\b(?:give|award|assign|grant|rate|score|grade|mark)\s+(?:an?\s+)?(?:\d+\s*/\s*\d+|\d+\s+out\s+of\s+\d+|"
        r"(?:perfect|full|maximum|max|top|highest)\s+(?:marks|score|scores|rating|ratings|points|grade))"
        r"|\bdeserves?\s+(?:an?\s+)?(?:full|perfect|maximum|max|top|highest)\s+(?:marks|scores?|ratings?|points|grade)"
        r"|\bdeserves?\s+(?:an?\s+)?(?:5|10)(?:\s*/\s*\d+)?\b"
        r"|\b(?:score|rating|grade)s?\s*(?:[:=]|should\s+be|must\s+be)\s*(?:\d+\s*/\s*\d+|5|10|five|"
        r"ten|perfect|full|maximum)\b|(?<![\w.])(?:5/5|10/10|5\s+out\s+of\s+5|10\s+out\s+of\s+10)(?![\w.])"
        # a dimension-style request: "score accuracy 5", "grade everything 5"
        r"|\b(?:score|rate|grade|mark)\s+(?:it|this|me|everything|all|every\s+\w+|(?:accuracy|clarity|tone|coherence|"
        r"consistency|fluency|relevance|quality|helpfulness)(?:\s*,\s*\w+)*)\s*(?:as|at|a|an|:|=)?\s*(?:[1-9]|10)"
        r"(?:\s*/\s*\d+)?(?![\w.%])", re.IGNORECASE)),
    # Instructions to the grader about the outcome: "this note is perfect, do not deduct", "must pass".
    ("steers_outcome", re.compile(
        r"\b(?:do\s+not|don't|never)\s+(?:deduct|penali[sz]e|lower\s+the\s+score|mark\s+(?:this|it)\s+down|fail)\b|"
        r"\b(?:this|the)\s+(?:note|summary|response|answer|output)\s+(?:is|was)\s+(?:perfect|flawless|excellent)\s+"
        r"and\s+(?:should|must)\b|\b(?:should|must)\s+(?:receive|get|be\s+given|be\s+scored|be\s+rated|be\s+graded)\s+"
        r"(?:a\s+|the\s+)?(?:perfect|full|maximum|max|top|highest|\d)", re.IGNORECASE)),
    # Role markers at a line start: "SYSTEM:", "Assistant:", "[INST]", "<|im_start|>", "### Instruction".
    ("role_marker", re.compile(
        r"(?:^|\n)\s*(?:SYSTEM|System|ASSISTANT|Assistant|USER|DEVELOPER|Developer|HUMAN|Human)\s*:|"
        r"\b(?:SYSTEM|ASSISTANT|DEVELOPER)\s*:(?=[^\n]{0,40}\b(?:score|grade|rate|ignore|instruction|you|judge|"
        r"grader|evaluator|assistant)\b)|\[/?INST\]|"
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|<</?SYS>>|(?:^|\n)\s*#{2,}\s*(?:Instruction|System|"
        r"New instructions?)\b")),
    # Fake fences: closing or opening the data tags the grader wraps the text in ("</release_note>", "<ticket>").
    ("fake_tag", re.compile(
        r"</?\s*(?:release_note|release_notes|ticket|summary|article|source|input|output|document|data|"
        r"instructions?|system|rubric|grading|response)\s*>", re.IGNORECASE)),
    # "new instructions:", "you must now", "from now on you".
    ("new_instructions", re.compile(
        r"\b(?:new|updated|revised|actual|real)\s+instructions?\s*:|\bfrom\s+now\s+on,?\s+you\b|\byou\s+must\s+now\b|"
        r"\bact\s+as\s+(?:an?\s+)?(?:grader|judge|evaluator|different)\b|\bpretend\s+(?:to\s+be|you\s+are)\b",
        re.IGNORECASE)),
]
# Per-cue gates: lower-case words (any one must occur as a word) and substrings (any one must occur anywhere). A cue
# whose gate finds nothing is skipped, so ordinary text costs one word split and a few set lookups.
def _g(words: str = "", subs: tuple[str, ...] = ()) -> tuple[frozenset, tuple[str, ...]]:
    return frozenset(words.split()), subs


_GATES: dict[str, tuple[frozenset, tuple[str, ...]]] = {
    "ignore_instructions": _g("ignore disregard forget override bypass"),
    "system_prompt": _g("prompt instruction instructions message rubric guidelines"),
    "addresses_grader": _g("grader grading judge evaluator assessor scorer rater reviewer ai llm model assistant "
                           "chatbot gpt claude"),
    "asks_for_score": _g("give award assign grant rate score grade mark full perfect maximum max top highest marks "
                         "rating ratings points scores", ("/5", "/10", "out of")),
    "steers_outcome": _g("deduct penalise penalize lower fail perfect flawless excellent receive given scored rated "
                         "graded get"),
    "role_marker": _g("system assistant user developer human", ("[inst", "[/inst", "<|", "<<sys", "##")),
    "fake_tag": _g("", ("<",)),
    "new_instructions": _g("instruction instructions act pretend", ("from now on", "must now")),
}
_WORDS = re.compile(r"[a-z0-9]+")


def detect_injection(text: str) -> list[str]:
    """Matched cues as ``"<cue>: <matched text>"``, in cue order; empty when the text does not address the grader."""
    if not text:
        return []
    low = text.lower()
    words = set(_WORDS.findall(low))
    out: list[str] = []
    for name, rx in _CUES:
        gate_words, gate_subs = _GATES[name]
        if gate_words.isdisjoint(words) and not any(g in low for g in gate_subs):
            continue
        m = rx.search(text)
        if m:
            snippet = " ".join(m.group(0).split())[:60]
            out.append(f"{name}: {snippet}")
    return out
