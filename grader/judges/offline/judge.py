"""The offline judge: deterministic, no network, fast. Grades from the checks a careful editor would make.

Each named check in ``CHECKS`` looks at (source, output) and returns a ``CheckResult``: a ``severity`` (0 = fine,
about 1 per clear problem, capped) and human-readable ``findings`` that quote what was found and say what to change.
A rubric spec's ``"offline"`` key maps each dimension to ``{check_name: weight}``; a dimension's score is
``clip(round_half_up(max - sum(weight * severity)), min, max)``. A dimension with no checks scores the maximum.

Release-note checks compare the note with its ticket (facts dropped, contradicted or invented; internal matter
leaked; vague, hyped, blaming or internal voice). Summary checks are the source-grounded analogues (unsupported
numbers and names, coverage of the article's salient words, redundancy, disfluency, length). Text addressed to the
grader (``grader.injection``) is removed before grading and flagged, so it can never raise a score.
"""
from __future__ import annotations

import math
import re
import time
from typing import Callable

from ...injection import detect_injection
from ...rubric import Rubric
from ...types import Judgment, Sample
from .checks_facts import (check_contradicted_fact, check_dropped_fact, check_internal_leak, check_unsupported_claim,
                           check_unsupported_specific)
from .checks_structure import (check_no_change_stated, check_off_topic, check_raw_source, check_too_short,
                               check_wall_of_text)
from .checks_summary import (check_boilerplate, check_choppy, check_dangling_reference, check_disfluency,
                             check_low_coverage, check_novel_content, check_novel_phrasing, check_redundancy,
                             check_too_long, check_unsupported_entity)
from .checks_voice import (check_apology, check_blame, check_formal_register, check_hype, check_internal_voice,
                           check_vague_wording)
from .text import CheckResult, quote

__all__ = ["OfflineJudge", "CheckResult", "CHECKS", "run_checks", "CLEAN_RATIONALE"]

CLEAN_RATIONALE = "No problems found by the offline checks (facts kept, nothing unsupported, no internal matter)."

# ---------------------------------------------------------------------------------------------------------------
# The library and the judge
# ---------------------------------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[str, str], CheckResult]] = {
    "dropped_fact": check_dropped_fact,
    "contradicted_fact": check_contradicted_fact,
    "unsupported_specific": check_unsupported_specific,
    "unsupported_claim": check_unsupported_claim,
    "internal_leak": check_internal_leak,
    "vague_wording": check_vague_wording,
    "wall_of_text": check_wall_of_text,
    "hype": check_hype,
    "apology": check_apology,
    "blame": check_blame,
    "internal_voice": check_internal_voice,
    "formal_register": check_formal_register,
    "no_change_stated": check_no_change_stated,
    "too_short": check_too_short,
    "raw_source": check_raw_source,
    "off_topic": check_off_topic,
    "unsupported_entity": check_unsupported_entity,
    "low_coverage": check_low_coverage,
    "redundancy": check_redundancy,
    "disfluency": check_disfluency,
    "dangling_reference": check_dangling_reference,
    "boilerplate": check_boilerplate,
    "too_long": check_too_long,
    "novel_content": check_novel_content,
    "novel_phrasing": check_novel_phrasing,
    "choppy": check_choppy,
}


def run_checks(names, source: str, output: str) -> dict[str, CheckResult]:
    """Run the named checks on one (source, output) pair."""
    return {n: CHECKS[n](source, output) for n in names}


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5 + 1e-9))


def _strip_injection(text: str) -> str:
    """Remove the sentences that address the grader, and score-talk sentences right after them."""
    kept: list[str] = []
    after_cue = False
    for line in text.split("\n"):
        parts = re.split(r"(?<=[.!?])\s+", line)
        out_parts = []
        for p in parts:
            if detect_injection(p):
                after_cue = True
                continue
            if after_cue and re.search(r"\b(?:score|scores|grade|rating|rate|marks|points|dimension|perfect|"
                                       r"flawless|deserves?|accurate|complete)\b", p, re.IGNORECASE):
                continue
            after_cue = False
            out_parts.append(p)
        kept.append(" ".join(out_parts).rstrip())
    return "\n".join(kept).strip()


class OfflineJudge:
    """Deterministic rubric judge built from the spec's ``offline`` mapping ``{dimension: {check_name: weight}}``."""

    name = "offline"

    def __init__(self, rubric: Rubric):
        self.rubric = rubric
        plan: dict[str, tuple[tuple[str, float], ...]] = {}
        mapping = rubric.offline or {}
        for dim, checks in mapping.items():
            if dim not in rubric.keys:
                raise ValueError(f"offline mapping names unknown dimension {dim!r}")
            if not isinstance(checks, dict):
                raise ValueError(f"offline mapping for {dim!r} must be an object of check_name: weight")
            items = []
            for cname, w in checks.items():
                if cname not in CHECKS:
                    raise ValueError(f"unknown offline check {cname!r} for dimension {dim!r} "
                                     f"(known: {', '.join(sorted(CHECKS))})")
                if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 or not math.isfinite(w):
                    raise ValueError(f"offline check {cname!r} for dimension {dim!r} needs a non-negative weight")
                items.append((cname, float(w)))
            plan[dim] = tuple(items)
        self._plan = {k: plan.get(k, ()) for k in rubric.keys}
        self._checks = tuple(dict.fromkeys(c for items in self._plan.values() for c, _ in items))

    def judge(self, sample: Sample) -> Judgment:
        t0 = time.perf_counter()
        lo, hi = self.rubric.scale_min, self.rubric.scale_max
        output = sample.output or ""
        flags: list[str] = []
        if not output.strip():
            return Judgment(scores={k: lo for k in self.rubric.keys},
                            rationale=f"Empty {self.rubric.output_label}: nothing to grade, so every dimension gets "
                                      f"the lowest score.",
                            judge="offline", tokens_used=0, latency_ms=_ms(t0), flags=["empty_output"])
        cues = detect_injection(output)
        if cues:
            flags.append("possible_prompt_injection")
            output = _strip_injection(output)
        notes: list[str] = []
        if cues:
            notes.append(f"Text addressed to the grader ({quote(cues[0].split(': ', 1)[-1], 40)!r}) was ignored.")
        if not output.strip():
            scores = {k: lo for k in self.rubric.keys}
            notes.append(f"Nothing but text addressed to the grader: no {self.rubric.output_label} to grade.")
            return Judgment(scores=scores, rationale=" ".join(notes), judge="offline", tokens_used=0,
                            latency_ms=_ms(t0), flags=flags + ["empty_output"])
        results = run_checks(self._checks, sample.source or "", output)
        scores: dict[str, int] = {}
        impact: dict[str, float] = {}
        for dim, items in self._plan.items():
            penalty = 0.0
            for cname, w in items:
                r = results[cname]
                if r.severity > 0 and w > 0:
                    penalty += w * r.severity
                    impact[cname] = max(impact.get(cname, 0.0), w * r.severity)
            scores[dim] = max(lo, min(hi, _round_half_up(hi - penalty)))
        ranked = sorted(impact, key=lambda c: (-impact[c], c))
        findings: list[str] = []
        if any(v < hi for v in scores.values()):  # only what cost points; a perfect grade gets the clean line
            for c in ranked:
                if impact[c] < 0.25:
                    continue
                for f in results[c].findings:
                    if f not in findings:
                        findings.append(f)
        if findings:
            body = "; ".join(findings[:4])
            label = self.rubric.input_label.strip() or "source"
            body = body.replace("the source", f"the {label}").replace("The source", f"The {label}")
            notes.append(body[0].upper() + body[1:] + ".")
        else:
            notes.append(CLEAN_RATIONALE)
        return Judgment(scores=scores, rationale=" ".join(notes), judge="offline", tokens_used=0,
                        latency_ms=_ms(t0), flags=flags)


def _ms(t0: float) -> int:
    return int(round((time.perf_counter() - t0) * 1000))
