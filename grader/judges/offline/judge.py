"""The offline judge: deterministic, no network, fast. Grades from the checks a careful editor would make.

Each named check in ``CHECKS`` looks at (source, output) and returns a ``CheckResult``: a ``severity`` (0 = fine,
about 1 per clear problem, capped) and human-readable ``findings`` that quote what was found and say what to change.
A rubric spec's ``"offline"`` key maps each dimension to ``{check_name: weight}``; a dimension's score is
``clip(round_half_up(max - sum(weight * severity)), min, max)``.

What it cannot judge it says, per sample, with a flag the run summary counts, and never as a clean top score:
a dimension with no checks gets the scale midpoint (a neutral placeholder that neither inflates nor sinks the mean)
and ``offline_dimension_unchecked:<dim>``; an output in a script other than Latin gets the midpoint on every
dimension and ``offline_unsupported_script``; Latin-script text that does not look like English is graded but
flagged ``offline_unsupported_language``; an output over ``MAX_CHARS`` is checked on its first ``MAX_CHARS``
characters, capped one point below the maximum and flagged ``offline_out_of_range``.

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
from .text import CheckResult, looks_english, quote, unsupported_script

__all__ = ["OfflineJudge", "CheckResult", "CHECKS", "run_checks", "CLEAN_RATIONALE"]

MAX_CHARS = 20_000  # ~3,000 words: 20x a long release note or news summary; beyond it the checks are out of range
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
        # Dimensions the spec gives no checks: never a silent top score (the midpoint, flagged; see judge()).
        self._unchecked = [k for k in rubric.keys if not any(w > 0 for _, w in self._plan[k])]
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
        script = unsupported_script(output)
        if script:
            mid = self.midpoint
            flags.append("offline_unsupported_script")
            notes.append(f"Written in {script} script, which the offline checks (English, Latin script) cannot read: "
                         f"every dimension gets the scale midpoint {mid} as a placeholder, not a judgment; grade it "
                         "with the LLM judge or a person.")
            return Judgment(scores={k: mid for k in self.rubric.keys}, rationale=" ".join(notes), judge="offline",
                            tokens_used=0, latency_ms=_ms(t0), flags=flags)
        out_of_range = len(output) > MAX_CHARS
        if out_of_range:
            flags.append("offline_out_of_range")
            notes.append(f"The {self.rubric.output_label} is {len(output):,} characters, far beyond what the offline "
                         f"checks were built for: only the first {MAX_CHARS:,} were checked, and no dimension can "
                         f"score above {hi - 1}.")
            output = _cut(output, MAX_CHARS)
        elif not looks_english(output):
            flags.append("offline_unsupported_language")
            notes.append("It does not look like English, the only language the offline checks cover: read these "
                         "scores with care.")
        results = run_checks(self._checks, _cut(sample.source or "", MAX_CHARS), output)
        scores: dict[str, int] = {}
        costs: dict[str, dict[str, float]] = {}  # check -> {dimension: points it cost}
        for dim, items in self._plan.items():
            if not items:
                continue
            penalty = 0.0
            for cname, w in items:
                r = results[cname]
                if r.severity > 0 and w > 0:
                    penalty += w * r.severity
                    costs.setdefault(cname, {})[dim] = w * r.severity
            scores[dim] = max(lo, min(hi, _round_half_up(hi - penalty)))
            if out_of_range:
                scores[dim] = min(scores[dim], hi - 1)
        for dim in self._unchecked:
            scores[dim] = self.midpoint
            flags.append(f"offline_dimension_unchecked:{dim}")
        scores = {k: scores[k] for k in self.rubric.keys}
        notes.extend(self._findings(results, costs, scores))
        if self._unchecked:
            notes.append(f"Not judged: {', '.join(self._unchecked)} (the rubric spec maps no offline checks to "
                         f"{'it' if len(self._unchecked) == 1 else 'them'}); given the scale midpoint {self.midpoint} "
                         "as a placeholder.")
        return Judgment(scores=scores, rationale=" ".join(notes), judge="offline", tokens_used=0,
                        latency_ms=_ms(t0), flags=flags)

    @property
    def unchecked(self) -> list[str]:
        """Dimensions the spec maps no offline checks to: graded at the midpoint, flagged."""
        return list(self._unchecked)

    @property
    def midpoint(self) -> int:
        return _round_half_up((self.rubric.scale_min + self.rubric.scale_max) / 2)

    def _findings(self, results: dict[str, CheckResult], costs: dict[str, dict[str, float]],
                  scores: dict[str, int]) -> list[str]:
        """Every finding with the dimensions it cost; findings on dimensions that kept full marks as minor."""
        hi = self.rubric.scale_max
        label = self.rubric.input_label.strip() or "source"

        def text(cname: str) -> str:
            body = "; ".join(dict.fromkeys(results[cname].findings)) or cname.replace("_", " ")
            return body.replace("the source", f"the {label}").replace("The source", f"The {label}")

        ranked = sorted(costs, key=lambda c: (-sum(costs[c].values()), c))
        major, minor = [], []
        for c in ranked:
            lost = {d: v for d, v in costs[c].items() if scores[d] < hi}
            if lost:
                cost = ", ".join(f"{d} -{v:.1f}" for d, v in sorted(lost.items(), key=lambda kv: -kv[1]))
                major.append(f"{text(c)} [{cost}]")
            else:
                minor.append(f"{text(c)} [{', '.join(sorted(costs[c]))}]")
        notes = []
        if major:
            notes.append(_sentence("; ".join(major)))
        if minor:
            notes.append("Minor (too small to lose a point): " + "; ".join(minor) + ".")
        if not major and not minor and any(items for items in self._plan.values()):
            notes.append(CLEAN_RATIONALE)
        return notes


def _sentence(body: str) -> str:
    return body[0].upper() + body[1:] + ("" if body.endswith(".") else ".")


def _cut(text: str, n: int) -> str:
    """At most ``n`` characters, ending on a word boundary."""
    if len(text) <= n:
        return text
    cut = text[:n]
    space = cut.rfind(" ")
    return cut[:space] if space > n // 2 else cut


def _ms(t0: float) -> int:
    return int(round((time.perf_counter() - t0) * 1000))
