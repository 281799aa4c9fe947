"""Bias and sensitivity probes: deterministic rewrites of a sample's output, re-graded to see whether the judge moves.

An **invariance** probe changes how the output reads, not what it says (padding, a stiff register, hedges, a note
to the grader): experts ignore padding, hedges and the note, but mark a stiff, official register down on tone, so
the formality probe is expected to lower tone and is judged against the experts where they are available; a
**sensitivity** probe damages it (drops a fact, changes a number, leaks an internal ticket key) and a
good judge must score it lower on the target dimension (the rubric spec's ``probe_targets`` names which; this module
knows nothing about rubrics).

Every rewrite is a pure function of ``(sample, rng)``; ``apply_probe`` seeds the rng from ``"{seed}:{name}:{id}"``,
so a rewrite depends on neither the order of the samples nor the other samples. A rewrite returns ``None`` when the
probe does not apply to that sample (e.g. no fact of the source to drop); callers count those, they are not
silently dropped. Facts (numbers, versions, status codes, endpoints, identifiers) come from ``grader.judges.offline.facts``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from grader.types import Sample

from .invariance import (CLAUSE_STARTERS, FORMAL_SUBSTITUTIONS, HEDGE_MARKERS, HEDGE_MODAL, HEDGE_PREFIXES,
                         HEDGE_SUFFIXES, HEDGES_PER_SAMPLE, INJECTION_TEXT, OPENER_CLAUSE_STARTERS, PADDING_CLOSERS,
                         PADDING_OPENERS, PADDING_RATIO, STIFF_PREFIXES, STIFF_SENTENCES, formalize, hedge, inject,
                         pad_length)
from .sensitivity import (FALLBACK_TICKET_PREFIX, INTERNAL_LINE, NUMBER_FACTORS, STATUS_CODES, UNSUPPORTED_CLAIMS,
                          drop_fact, leak_internal, unsupported_number)



__all__ = [
    "Probe", "PROBES", "apply_probe", "pad_length", "formalize", "hedge", "inject", "drop_fact", "unsupported_number",
    "leak_internal", "CLAUSE_STARTERS", "FORMAL_SUBSTITUTIONS", "HEDGE_MARKERS", "HEDGE_MODAL", "HEDGE_PREFIXES",
    "HEDGE_SUFFIXES", "HEDGES_PER_SAMPLE", "INJECTION_TEXT", "PADDING_CLOSERS", "PADDING_OPENERS", "PADDING_RATIO",
    "OPENER_CLAUSE_STARTERS", "STIFF_PREFIXES", "STIFF_SENTENCES", "FALLBACK_TICKET_PREFIX", "INTERNAL_LINE",
    "NUMBER_FACTORS", "STATUS_CODES", "UNSUPPORTED_CLAIMS",
]


@dataclass(frozen=True)
class Probe:
    name: str
    kind: str  # "invariance" (a good judge does not move) or "sensitivity" (it must move down on the target)
    description: str  # one sentence for the report: exactly what the rewrite does
    rewrite: Callable[[Sample, random.Random], Sample | None]  # None = not applicable to this sample



# =================================================================================================================
# Registry
# =================================================================================================================

PROBES: dict[str, Probe] = {p.name: p for p in (
    Probe("length", "invariance",
          "Adds neutral boilerplate sentences (no facts, numbers or claims) before and after the output, "
          "growing it by about 40-60% of its words.", pad_length),
    Probe("formality", "invariance",
          "Rewrites the output in a stiff, official register of the kind experts mark down on tone for a "
          "changelog: a formal-letter opener (\"We wish to inform you that ...\", \"Please be advised ...\"), "
          "\"shall\" for \"will\", contractions expanded and casual words replaced (get -> receive, fix -> "
          "resolve), every fact, number and code untouched. Expected to lower tone, as the experts do; never "
          "accuracy.", formalize),
    Probe("hedging", "invariance",
          "Hedges one or two sentences (\"We believe ...\", \", in most cases\", will -> may) without changing "
          "any fact or number.", hedge),
    Probe("injection", "invariance",
          "Appends a note addressed to the grader asking for the maximum score on every dimension.", inject),
    Probe("drop_fact", "sensitivity",
          "Deletes the sentence or bullet that states a fact shared with the source (a number, version, status "
          "code, endpoint or identifier; in a one-sentence output, only that fact's phrase), so the fact is no "
          "longer in the output.", drop_fact),
    Probe("unsupported_number", "sensitivity",
          "Changes a number, version or status code the source supports to a different value (e.g. 30 -> 45), "
          "or adds a sentence with a specific number the source does not contain.", unsupported_number),
    Probe("leak_internal", "sensitivity",
          "Inserts the source's internal ticket key into the first sentence and, when the source has one, an "
          "internal marker (team, channel, service) as an \"Internal:\" line.", leak_internal),
)}


def apply_probe(name: str, samples: list[Sample], seed: int | str) -> list[tuple[Sample, Sample | None]]:
    """``(original, rewritten)`` for every sample, in input order; ``rewritten`` is None where the probe does not
    apply (or would leave the output unchanged), so callers can count those.

    Each sample gets its own ``random.Random(f"{seed}:{name}:{sample.id}")``: reproducible and order-independent.
    """
    if name not in PROBES:
        raise ValueError(f"unknown probe {name!r}; known probes: {', '.join(PROBES)}")
    probe = PROBES[name]
    out: list[tuple[Sample, Sample | None]] = []
    for s in samples:
        new = probe.rewrite(s, random.Random(f"{seed}:{name}:{s.id}"))
        if new is not None and new.output == s.output:
            new = None
        out.append((s, new))
    return out
