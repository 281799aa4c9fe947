"""The LLM refusal judge: one strict-json_schema call per completion (rationale first, then a label from an enum).

Same client, cache and fallback rules as grading: an invalid reply is asked again once with the reason; a second
invalid reply raises JudgeUnavailable("invalid_judgment") so the caller falls back to the offline judge and flags it.
A parse failure is never a refusal.
"""
from __future__ import annotations

import json

from ...client import JudgeClient
from ...types import JudgeUnavailable
from . import RefusalItem, RefusalJudgment, parse_label
from .spec import RefusalSpec


def parse_reply(content: str) -> tuple[str, str]:
    """``(label, rationale)`` from a judge reply; ValueError says what is wrong (fed back to the model once)."""
    try:
        obj = json.loads(content)
    except (TypeError, ValueError):
        raise ValueError("the reply is not a JSON object") from None
    if not isinstance(obj, dict):
        raise ValueError("the reply is not a JSON object")
    rationale = obj.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        raise ValueError("'rationale' is missing or empty")
    if "label" not in obj:
        raise ValueError("'label' is missing")
    return parse_label(obj["label"]), rationale.strip()


class LLMRefusalJudge:
    def __init__(self, spec: RefusalSpec, client: JudgeClient):
        self.spec, self.client = spec, client
        self.name = f"llm:{client.decoding.model}"
        self.system_prompt = spec.system_prompt()
        self.response_format = spec.json_schema()

    def messages(self, item: RefusalItem) -> list[dict]:
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self.spec.user_message(item)}]

    def _validate(self, content: str) -> None:
        parse_reply(content)

    def judge(self, item: RefusalItem) -> RefusalJudgment:
        messages = self.messages(item)
        sha = self.spec.spec_sha256
        results = [self.client.complete(messages, self.response_format, sha, validate=self._validate)]
        try:
            label, rationale = parse_reply(results[0].content)
        except ValueError as err:
            retry = messages + [
                {"role": "assistant", "content": results[0].content},
                {"role": "user", "content": f"That reply was invalid: {err}. Reply again with only the JSON object "
                                            "the schema requires."}]
            results.append(self.client.complete(retry, self.response_format, sha, validate=self._validate))
            try:
                label, rationale = parse_reply(results[1].content)
            except ValueError as err2:
                raise JudgeUnavailable("invalid_judgment", f"twice: {err}; then {err2}",
                                       tokens_used=sum(r.prompt_tokens + r.completion_tokens for r in results),
                                       calls=sum(r.calls for r in results)) from None
        return RefusalJudgment(label, rationale, self.name,
                               flags=["judge_output_invalid_retried"] if len(results) > 1 else [],
                               tokens_used=sum(r.prompt_tokens + r.completion_tokens for r in results),
                               calls=sum(r.calls for r in results), cached=all(r.from_cache for r in results))
