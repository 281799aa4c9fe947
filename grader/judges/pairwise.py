"""Pairwise judges: which of two responses to one prompt is better, in a way position cannot fool.

* ``PairwiseLLMJudge`` judges every pair in BOTH orders: two calls through the one client (cache, budget, retries),
  one fixed system prefix, a strict json_schema with the rationale first and a five-level verdict. Each single-order
  verdict is mapped back to candidate/baseline; the pair is ``consistent`` when both orders agree in direction, and an
  inconsistent pair is a tie (as MT-Bench counts it). A reply that fails validation is asked again once; a second
  failure raises JudgeUnavailable so the caller falls back and flags it: a parse failure is never a verdict.
* ``OfflinePairwiseJudge`` grades each response on its own with the rubric judge (the spec's dimensions and offline
  checks) and compares the weighted overall scores, a tie within the spec's margin. It never sees the two side by
  side, so it is order-independent by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..client import JudgeClient
from ..pairwise import VERDICTS, Pair, PairwiseSpec, direction_of, to_candidate_view
from ..types import JudgeUnavailable, Sample
from .llm import ask_json, reply_object, tokens_of
from .offline import OfflineJudge

ORDERS = ("candidate_first", "baseline_first")


@dataclass
class SingleOrder:
    """One judgment of the pair in one order. ``verdict`` is in A/B terms (A = shown first)."""

    order: str  # candidate_first | baseline_first
    verdict: str  # one of VERDICTS
    rationale: str
    mapped: str = ""  # the verdict in candidate terms: C>>B, C>B, C=B, B>C, B>>C
    direction: str = ""  # candidate | tie | baseline

    def __post_init__(self) -> None:
        self.mapped = to_candidate_view(self.verdict, self.order == "candidate_first")
        self.direction = direction_of(self.mapped)

    @property
    def first_position(self) -> str:
        """Which position the verdict favours: ``first``, ``second`` or ``tie``."""
        return "first" if self.verdict.startswith("A>") else "second" if self.verdict.startswith("B>") else "tie"

    def as_dict(self) -> dict:
        return {"order": self.order, "verdict": self.verdict, "verdict_for_candidate": self.mapped,
                "direction": self.direction, "favours_position": self.first_position, "rationale": self.rationale}


@dataclass
class PairVerdict:
    orders: list[SingleOrder]
    judge: str
    tokens_used: int = 0
    calls: int = 0
    cached: bool = False
    flags: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)  # judge-specific figures (the offline judge's overall scores)

    @property
    def consistent(self) -> bool:
        return len({o.direction for o in self.orders}) == 1

    @property
    def outcome(self) -> str:
        return self.orders[0].direction if self.consistent else "tie"


class PairwiseLLMJudge:
    def __init__(self, spec: PairwiseSpec, client: JudgeClient):
        self.spec, self.client = spec, client
        self.name = f"llm:{client.decoding.model}"
        self.system_prompt = spec.system_prompt()
        self.response_format = spec.json_schema()

    def messages(self, pair: Pair, order: str) -> list[dict]:
        a, b = (pair.candidate, pair.baseline) if order == "candidate_first" else (pair.baseline, pair.candidate)
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self.spec.user_message(pair, a, b)}]

    def parse(self, content: str) -> tuple[str, str]:
        """``(verdict, rationale)`` or ValueError saying what is wrong (fed back to the model once)."""
        obj = reply_object(content)
        rationale = obj.get("rationale")
        if not isinstance(rationale, str) or not rationale.strip():
            raise ValueError("'rationale' is missing or empty")
        verdict = obj.get("verdict")
        if verdict not in VERDICTS:
            raise ValueError(f"'verdict' must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        return verdict, rationale.strip()

    def _one(self, pair: Pair, order: str) -> tuple[SingleOrder, list]:
        (verdict, rationale), results = ask_json(
            self.client, self.messages(pair, order), self.response_format, self.spec.spec_sha256, self.parse,
            reask_hint=": a rationale and one of the five verdicts", detail_prefix=f"{order}: ")
        return SingleOrder(order, verdict, rationale), results

    def judge(self, pair: Pair) -> PairVerdict:
        """Both orders, one after the other. Tokens spent before a failure travel with the JudgeUnavailable."""
        orders, results, flags = [], [], []
        for order in ORDERS:
            try:
                single, res = self._one(pair, order)
            except JudgeUnavailable as err:
                err.tokens_used += tokens_of(results)
                err.calls += sum(r.calls for r in results)
                raise
            orders.append(single)
            results.extend(res)
            if len(res) > 1:
                flags.append("judge_output_invalid_retried")
        return PairVerdict(orders, self.name, tokens_used=tokens_of(results), calls=sum(r.calls for r in results),
                           cached=all(r.from_cache for r in results), flags=list(dict.fromkeys(flags)))


class OfflinePairwiseJudge:
    """Grade each response alone with the rubric's offline judge and compare weighted overall scores."""

    name = "offline"

    def __init__(self, spec: PairwiseSpec, offline: OfflineJudge | None = None):
        self.spec = spec
        self.rubric = spec.rubric
        self.offline = offline or OfflineJudge(spec.rubric)

    def grade(self, pair: Pair, text: str, who: str):
        return self.offline.judge(Sample(f"{pair.id}:{who}", pair.grounding, text))

    def judge(self, pair: Pair) -> PairVerdict:
        jc, jb = self.grade(pair, pair.candidate, "candidate"), self.grade(pair, pair.baseline, "baseline")
        oc, ob = self.rubric.overall(jc.scores), self.rubric.overall(jb.scores)
        diff = round(oc - ob, 6)
        margin, strong = self.spec.tie_margin, self.spec.strong_margin
        if abs(diff) < margin:
            mapped = "C=B"
        elif diff > 0:
            mapped = "C>>B" if diff >= strong else "C>B"
        else:
            mapped = "B>>C" if -diff >= strong else "B>C"
        rationale = (f"Graded separately with the {self.rubric.name} rubric: candidate {oc:.2f}, baseline {ob:.2f} "
                     f"(tie within {margin:g}). Candidate: {jc.rationale} Baseline: {jb.rationale}")
        orders = [SingleOrder(order, from_candidate_view(mapped, order == "candidate_first"), rationale)
                  for order in ORDERS]
        flags = [f"{who}:{f}" for who, j in (("candidate", jc), ("baseline", jb)) for f in j.flags]
        return PairVerdict(orders, self.name, flags=flags,
                           detail={"candidate_overall": oc, "baseline_overall": ob,
                                   "candidate_scores": jc.scores, "baseline_scores": jb.scores})


def from_candidate_view(mapped: str, candidate_first: bool) -> str:
    """Inverse of ``to_candidate_view``: a candidate-terms verdict as the A/B verdict of one order."""
    for v in VERDICTS:
        if to_candidate_view(v, candidate_first) == mapped:
            return v
    raise ValueError(f"unknown verdict {mapped!r}")
