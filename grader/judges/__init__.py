"""One judge interface, interchangeable backends.

A judge turns one sample into a Judgment with an integer on the rubric's scale for every dimension. A judge that
cannot judge a sample raises JudgeUnavailable (or BudgetExhausted); it never invents a low score. The caller
(``grader.grading``) decides what to fall back to and flags it.
"""
from __future__ import annotations

from typing import Protocol

from ..types import Judgment, Sample


class Judge(Protocol):
    name: str  # "offline" or "llm:<model>", copied into each result's "judge" field

    def judge(self, sample: Sample) -> Judgment:
        """Grade one sample. Thread-safe: called concurrently from the grading pool."""
        ...
