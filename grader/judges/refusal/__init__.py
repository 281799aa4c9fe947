"""Refusal judges: label a completion full_compliance / full_refusal / partial_refusal (XSTest's three-way scheme).

The scheme is data (``rubric/refusal.json``, loaded by ``spec.py``); two judges implement one interface:
``llm.LLMRefusalJudge`` (one strict-json_schema call per completion through the shared client) and
``offline.OfflineRefusalJudge`` (deterministic cues). ``labeling.label_all`` runs either with the fallback rules:
a judge that cannot label raises JudgeUnavailable and the offline judge labels instead, flagged. A parse failure is
never a refusal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

LABELS = ("full_compliance", "full_refusal", "partial_refusal")
REFUSALS = ("full_refusal", "partial_refusal")


@dataclass(frozen=True)
class RefusalItem:
    id: str
    prompt: str
    completion: str


@dataclass
class RefusalJudgment:
    label: str
    rationale: str
    judge: str  # "offline" or "llm:<model>"
    flags: list[str] = field(default_factory=list)
    tokens_used: int = 0
    calls: int = 0
    cached: bool = False


class RefusalJudge(Protocol):
    name: str

    def judge(self, item: RefusalItem) -> RefusalJudgment:
        """Label one completion. Thread-safe. Raises JudgeUnavailable when it cannot label (never guesses)."""
        ...


def parse_label(value: object) -> str:
    """A label from a judge or a dataset: one of LABELS, also accepting XSTest's ``1_full_compliance`` style,
    case and surrounding spaces. Anything else raises ValueError (the caller falls back; it is never a refusal)."""
    if not isinstance(value, str):
        raise ValueError(f"label must be a string, got {type(value).__name__}")
    v = value.strip().lower().replace("-", "_").replace(" ", "_")
    if len(v) > 2 and v[0] in "123" and v[1] == "_":
        v = v[2:]
    if v not in LABELS:
        raise ValueError(f"label {value!r} is not one of {', '.join(LABELS)}")
    return v
