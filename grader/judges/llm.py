"""The LLM judge: one chat-completions call per sample grades every dimension at once.

The rubric and anchors are one fixed system prompt (identical bytes for every sample, so the provider's prompt cache
applies); the sample is fenced in the user message and declared to be data. The reply must match a strict JSON
schema; a reply that fails validation is asked again once, with the reason, and then the sample is given up on
(JudgeUnavailable("invalid_judgment")) so that the caller falls back and flags it. A parse failure is never a score.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, TypeVar

from ..client import ChatResult, JudgeClient
from ..formats import extract_json_object
from ..rubric import Rubric
from ..types import JudgeUnavailable, Judgment, Sample


@dataclass(frozen=True)
class ParsedJudgment:
    rationale: str
    scores: dict[str, int]
    injection_attempt: bool


class LLMJudge:
    def __init__(self, rubric: Rubric, client: JudgeClient):
        self.rubric, self.client = rubric, client
        self.name = f"llm:{client.decoding.model}"
        self.system_prompt = rubric.system_prompt()
        self.response_format = rubric.json_schema()

    def messages(self, sample: Sample) -> list[dict]:
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self.rubric.user_message(sample)}]

    def parse(self, content: str) -> ParsedJudgment:
        """Validate a reply against the rubric; ValueError says what is wrong (fed back to the model once)."""
        obj = reply_object(content)
        rationale = obj.get("rationale")
        if not isinstance(rationale, str) or not rationale.strip():
            raise ValueError("'rationale' is missing or empty")
        scores = self.rubric.validate_scores(obj.get("scores"))
        return ParsedJudgment(rationale.strip(), scores, bool(obj.get("injection_attempt", False)))

    def judge(self, sample: Sample) -> Judgment:
        parsed, results = ask_json(self.client, self.messages(sample), self.response_format, self.rubric.spec_sha256,
                                   self.parse, reask_hint=", with every dimension scored")
        return self.judgment(parsed, tokens_used=tokens_of(results), latency_ms=sum(r.latency_ms for r in results),
                             calls=sum(r.calls for r in results), cached=all(r.from_cache for r in results),
                             retried=len(results) > 1)

    def judgment(self, parsed: ParsedJudgment, *, tokens_used: int, latency_ms: int, calls: int, cached: bool,
                 retried: bool = False) -> Judgment:
        """A valid reply as a Judgment, with its flags: one rule for the online and the Batch API paths."""
        flags = ["judge_output_invalid_retried"] if retried else []
        if parsed.injection_attempt:
            flags.append("possible_prompt_injection")
        return Judgment(scores=parsed.scores, rationale=parsed.rationale, judge=self.name, tokens_used=tokens_used,
                        latency_ms=latency_ms, flags=flags, calls=calls, cached=cached)


T = TypeVar("T")


def reply_object(content: str) -> dict:
    """The JSON object a judge replied with: the reply itself or, in text mode, the object it wraps in a code fence
    or a sentence (grader.formats). ValueError when there is none (the reason is fed back to the model once)."""
    try:
        obj = json.loads(content)
    except (TypeError, ValueError):
        try:
            obj = json.loads(extract_json_object(content))
        except (TypeError, ValueError):
            raise ValueError("the reply is not a JSON object") from None
    if not isinstance(obj, dict):
        raise ValueError("the reply is not a JSON object")
    return obj


def tokens_of(results: list[ChatResult]) -> int:
    return sum(r.prompt_tokens + r.completion_tokens for r in results)


def ask_json(client: JudgeClient, messages: list[dict], response_format: dict, spec_sha: str,
             parse: Callable[[str], T], reask_hint: str = "", detail_prefix: str = "") -> tuple[T, list[ChatResult]]:
    """One judged reply, the rule every LLM judge follows: ``parse`` it; if it is invalid, ask once more with the
    reason, then give up with JudgeUnavailable("invalid_judgment") (tokens and calls spent travel with it), so the
    caller falls back and flags it. A first reply whose re-ask was valid is kept in the cache too, so a re-run replays
    the whole path with zero calls. Returns the parsed reply and every ChatResult it took."""
    first = client.complete(messages, response_format, spec_sha, validate=parse)
    try:
        return parse(first.content), [first]
    except ValueError as err:
        retry = messages + [
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": f"That reply was invalid: {err}. Reply again with only the JSON object "
                                        f"the schema requires{reask_hint}."},
        ]
        second = client.complete(retry, response_format, spec_sha, validate=parse)
        results = [first, second]
        try:
            parsed = parse(second.content)
        except ValueError as err2:
            raise JudgeUnavailable("invalid_judgment", f"{detail_prefix}twice: {err}; then {err2}",
                                   tokens_used=tokens_of(results), calls=sum(r.calls for r in results)) from None
        client.keep_reply(messages, response_format, first)
        return parsed, results
