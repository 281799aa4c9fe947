"""The offline judge: deterministic editor's checks, mapped to rubric dimensions by the spec.

Modules by what they look at: ``text`` (the shared text model), ``facts`` and ``internal`` (what a text states and
what it should not), ``compare`` (source vs output facts), the check families ``checks_facts``, ``checks_voice``,
``checks_structure`` and ``checks_summary``, and ``judge`` (checks -> dimension scores through the spec).
"""
from .judge import CHECKS, CLEAN_RATIONALE, OfflineJudge, run_checks
from .text import CheckResult

__all__ = ["CHECKS", "CLEAN_RATIONALE", "CheckResult", "OfflineJudge", "run_checks"]
