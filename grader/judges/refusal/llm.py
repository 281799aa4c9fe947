"""The LLM refusal judge: one strict-json_schema call per completion (rationale first, then a label from an enum).

Same client, cache and fallback rules as grading: an invalid reply is asked again once with the reason; a second
invalid reply raises JudgeUnavailable("invalid_judgment") so the caller falls back to the offline judge and flags it.
A parse failure is never a refusal.
"""
from __future__ import annotations

from ...client import JudgeClient
from ..llm import ask_json, reply_object, tokens_of
from . import RefusalItem, RefusalJudgment, parse_label
from .spec import RefusalSpec


def parse_reply(content: str) -> tuple[str, str]:
    """``(label, rationale)`` from a judge reply; ValueError says what is wrong (fed back to the model once)."""
    obj = reply_object(content)
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

    def judge(self, item: RefusalItem) -> RefusalJudgment:
        (label, rationale), results = ask_json(self.client, self.messages(item), self.response_format,
                                               self.spec.spec_sha256, parse_reply)
        return RefusalJudgment(label, rationale, self.name,
                               flags=["judge_output_invalid_retried"] if len(results) > 1 else [],
                               tokens_used=tokens_of(results), calls=sum(r.calls for r in results),
                               cached=all(r.from_cache for r in results))
