"""Shared value types: what a sample is, what a judge returns, and the errors that cross module lines."""
from __future__ import annotations

from dataclasses import dataclass, field


class InputError(Exception):
    """Bad user input. The CLI prints ``str(err)`` as one line and exits 2.

    The message always names the file, the item (index and id where known) and the problem.
    """

    def __init__(self, path: str, problem: str, index: int | None = None, item_id: str | None = None):
        self.path, self.problem, self.index, self.item_id = str(path), problem, index, item_id
        where = ""
        if index is not None:
            where = f" item {index}" + (f" (id {item_id!r})" if item_id is not None else "")
        super().__init__(f"{self.path}:{where} {problem}" if where else f"{self.path}: {problem}")


class JudgeUnavailable(Exception):
    """The judge cannot produce a judgment for this sample; the caller falls back and flags ``reason``.

    ``reason`` is a short machine-readable token (``budget_exhausted``, ``invalid_judgment``,
    ``api_error``...), used verbatim in the ``fallback_offline:<reason>`` flag.
    """

    def __init__(self, reason: str, detail: str = "", tokens_used: int = 0, calls: int = 0):
        self.reason, self.detail = reason, detail
        self.tokens_used, self.calls = tokens_used, calls  # spent before giving up: still counted in the result
        super().__init__(f"{reason}: {detail}" if detail else reason)


class BudgetExhausted(JudgeUnavailable):
    """No more calls may be made in this run (HTTP 402, or the running cost reached ``--budget-usd``)."""

    def __init__(self, detail: str = ""):
        super().__init__("budget_exhausted", detail)


@dataclass(frozen=True)
class Sample:
    id: str
    source: str  # the input the output was written from (a ticket, an article)
    output: str  # the text being graded


@dataclass
class Judgment:
    """One judge's verdict on one sample. ``scores`` holds an int on the rubric's scale for every dimension."""

    scores: dict[str, int]
    rationale: str
    judge: str  # "offline" or "llm:<model>"
    tokens_used: int = 0
    latency_ms: int = 0
    flags: list[str] = field(default_factory=list)
    calls: int = 0  # API calls this judgment cost (retries included); 0 for offline or cached
    cached: bool = False
