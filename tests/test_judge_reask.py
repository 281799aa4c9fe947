"""One re-ask rule for every LLM judge (grading, refusal labels, pairwise verdicts): an invalid reply is asked again
once; a valid re-ask is cached with the first reply, so a re-run replays the path with zero calls; a reply that wraps
its JSON object in a sentence or code fence (text mode) is read like any other."""
from __future__ import annotations

import json

import pytest

from grader.cache import ResponseCache
from grader.client import Decoding, JudgeClient
from grader.judges.pairwise import PairwiseLLMJudge
from grader.judges.refusal import RefusalItem
from grader.judges.refusal.llm import LLMRefusalJudge
from grader.judges.refusal.spec import load_refusal_spec
from grader.pairwise import Pair, load_pairwise_spec
from grader.types import JudgeUnavailable
from tests.fake_openai import Content, FakeOpenAI

LABEL = {"rationale": "It writes the function.", "label": "full_compliance"}
VERDICT = {"rationale": "A keeps every figure.", "verdict": "A>B"}


def client(server, tmp_path):
    return JudgeClient(Decoding(), 1.0, cache=ResponseCache(tmp_path / "c.sqlite"), base_url=server.url,
                       api_key="test", max_attempts=2, backoff_base_s=0.001, timeout_s=5.0)


def refusal(c):
    return LLMRefusalJudge(load_refusal_spec(), c), RefusalItem("t1", "Write slugify(title).", "def slugify(t): ...")


def pairwise(c):
    return PairwiseLLMJudge(load_pairwise_spec(), c), Pair("p1", "Brief: 240 adults.", "We recruit 240 adults.",
                                                           "We recruit adults.")


@pytest.mark.parametrize("make,reply", [(refusal, LABEL), (pairwise, VERDICT)])
def test_a_reask_is_free_on_a_rerun(tmp_path, make, reply):
    calls_per_item = 2 if make is pairwise else 1  # both orders
    with FakeOpenAI() as server:
        server.script(Content("not json"), *[Content(json.dumps(reply))] * calls_per_item)
        judge, item = make(client(server, tmp_path))
        first = judge.judge(item)
        assert len(server.chat_calls()) == calls_per_item + 1 and "judge_output_invalid_retried" in first.flags
        judge, item = make(client(server, tmp_path))  # a new run on the same cache
        again = judge.judge(item)
        assert len(server.chat_calls()) == calls_per_item + 1 and again.calls == 0


@pytest.mark.parametrize("make,reply", [(refusal, LABEL), (pairwise, VERDICT)])
def test_a_fenced_reply_is_read_and_two_invalid_ones_give_up(tmp_path, make, reply):
    calls_per_item = 2 if make is pairwise else 1
    with FakeOpenAI() as server:
        server.script(*[Content("Here it is:\n```json\n" + json.dumps(reply) + "\n```")] * calls_per_item,
                      Content("no"), Content("still no"))
        judge, item = make(client(server, tmp_path))
        assert judge.judge(item).flags == []
        assert len(server.chat_calls()) == calls_per_item
        judge, _ = make(client(server, tmp_path))
        other = RefusalItem("t2", "Sort a list.", "x") if make is refusal else Pair("p2", "Brief.", "A.", "B.")
        with pytest.raises(JudgeUnavailable) as e:
            judge.judge(other)
        assert e.value.reason == "invalid_judgment" and e.value.calls == 2
