"""Grade through the OpenAI Batch API: half the price, for work that can wait (results within 24 h).

``grade_batch`` produces the same results.json entries as the online path (``grader.grading.grade``): every result
is built by ``grading.grade_one`` with a per-sample judge that hands back the batch's outcome, so the schema, the
fallback rules and the flags are shared, not copied.

1. Samples whose request is in the response cache are judged from it (no submission, exactly as online); empty outputs
   get the lowest scores (``empty_output``) as online. The rest become one JSONL line each, whose body is
   ``JudgeClient.request_body`` - the very body the online path sends.
2. Budget: the worst case at the batch price must fit what is left of ``client.budget_usd``, else nothing is
   submitted and those samples are graded offline, flagged ``fallback_offline:budget_exhausted``.
3. One ``files.create`` + one ``batches.create``; the state file (``state_path``) is written atomically right after.
   A run started again for the same job (same request lines, same endpoint) finds it and resumes polling that batch
   instead of paying again. Without a state file (say ``batches.create`` timed out after the server had created the
   batch) the batches tagged with this job's ``metadata.job`` are looked up before anything is submitted, and after
   a create that got no answer. A state file for ANOTHER job (the samples changed after an interrupted run) is not
   dropped: that batch is paid for, so it is collected (cancelled first if it does not end within ``max_wait_s``),
   its valid judgments are cached and reused, and only what it did not cover is submitted.
4. Poll until the batch ends; a valid judgment is cached (a re-run is free) and its spend accounted at the batch price.
   Per sample: an invalid judgment is asked again online once (``judge.judge``: retries and budget apply), else it
   falls back (``fallback_offline:invalid_judgment`` + ``judge_output_invalid``); a request that errored ->
   ``fallback_offline:batch_error``; a line missing from an expired / cancelled / incomplete batch ->
   ``fallback_offline:batch_incomplete``; a failed batch -> ``fallback_offline:batch_failed``.
5. The state file is deleted once the batch's results have been collected. It is kept (so that a re-run resumes)
   when the run is interrupted, when polling gives up (``max_wait_s``: ``fallback_offline:batch_timeout``), or when
   the batch's status or files cannot be read (``fallback_offline:batch_error``).

A batch judgment's ``latency_ms`` is 0: the Batch API reports no per-request latency.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import openai

from .cache import CachedResponse
from .client import JudgeClient
from .replies import is_retryable, parse_usage
from .pricing import content_text
from .grading import GradeRun, grade_one, summarize
from .io import write_json_atomic
from .judges import Judge
from .judges.llm import LLMJudge
from .rubric import Rubric
from .types import BudgetExhausted, JudgeUnavailable, Judgment, Sample

ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class _Request:
    index: int
    sample: Sample
    messages: list[dict]
    custom_id: str
    body: dict


@dataclass
class _Invalid:
    """A 200 whose judgment failed validation: asked again online once."""

    tokens: int
    error: str


@dataclass
class _BatchInfo:
    batch_id: str | None = None
    status: str = "not_submitted"
    request_counts: dict = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    resumed: bool = False
    previous: dict | None = None  # an earlier job's batch found in the state file: collected and reused

    def as_dict(self) -> dict:
        return {"batch_id": self.batch_id, "status": self.status, "request_counts": dict(self.request_counts),
                "resumed": self.resumed, "previous_batch": self.previous}


def grade_batch(samples: list[Sample], rubric: Rubric, judge: LLMJudge, fallback: Judge, state_path: str | Path,
                poll_interval_s: float, sleep: Callable[[float], None] = time.sleep,
                max_wait_s: float = 86400) -> GradeRun:
    """Grade ``samples`` through one Batch API job; results in input order, same schema and flags as online."""
    t0 = time.perf_counter()
    state_path = Path(state_path)
    requests = _pending_requests(samples, rubric, judge)
    outcomes: dict[int, Judgment | JudgeUnavailable | _Invalid] = {}
    info = _BatchInfo()
    if requests:
        try:
            _run_batch(requests, rubric, judge, state_path, poll_interval_s, sleep, max_wait_s, outcomes, info)
        except KeyboardInterrupt:
            if info.batch_id and state_path.exists():
                print(f"batch {info.batch_id} keeps running: run the same command again to resume it, "
                      f"nothing is submitted twice (state: {state_path})", file=sys.stderr)
            raise
    per_sample = _BatchOutcomes(judge, outcomes)
    results = []
    for i, sample in enumerate(samples):
        per_sample.index = i
        results.append(grade_one(sample, rubric, per_sample, fallback))
    summary = summarize(results, rubric, judge, time.perf_counter() - t0)
    summary["batch"] = info.as_dict()
    return GradeRun(results, summary)


# ---- building the job ----------------------------------------------------------------------------------------------
def _pending_requests(samples: list[Sample], rubric: Rubric, judge: LLMJudge) -> list[_Request]:
    """One request per sample that needs the LLM: not empty, not already in the response cache."""
    client = judge.client
    out = []
    for i, s in enumerate(samples):
        if not s.output.strip():
            continue  # grade_one gives it the lowest scores, flagged empty_output
        messages = judge.messages(s)
        key = client.key_for(messages, judge.response_format, rubric.spec_sha256)
        if client.cache is not None and client.cache.get(key) is not None:
            continue  # judged from the cache, as online
        custom_id = f"{i}-{hashlib.sha256(s.id.encode('utf-8')).hexdigest()[:10]}"
        out.append(_Request(i, s, messages, custom_id, client.request_body(messages, judge.response_format)))
    return out


def _jsonl(requests: list[_Request]) -> bytes:
    return "".join(json.dumps({"custom_id": r.custom_id, "method": "POST", "url": ENDPOINT, "body": r.body},
                              ensure_ascii=False, separators=(",", ":")) + "\n" for r in requests).encode("utf-8")


def _job_hash(client: JudgeClient, requests: list[_Request]) -> str:
    canonical = json.dumps({"endpoint": client.endpoint, "requests": [[r.custom_id, r.body] for r in requests]},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---- running it --------------------------------------------------------------------------------------------------
def _run_batch(requests: list[_Request], rubric: Rubric, judge: LLMJudge, state_path: Path, poll_interval_s: float,
               sleep: Callable[[float], None], max_wait_s: float,
               outcomes: dict[int, Judgment | JudgeUnavailable | _Invalid], info: _BatchInfo) -> None:
    """Submit (or resume) the batch, wait for it and turn its lines into ``outcomes``; ``info`` is updated."""
    client = judge.client
    sdk = client.sdk
    job = _job_hash(client, requests)

    def fail_all(reason: str, detail: str) -> None:
        for r in requests:
            outcomes.setdefault(r.index, JudgeUnavailable(reason, detail))

    try:
        if _collect_previous(client, judge, state_path, job, poll_interval_s, sleep, max_wait_s, info):
            requests[:] = [r for r in requests if client.cache is None or client.cache.get(client.body_key(r.body)) is None]
            if not requests:
                state_path.unlink(missing_ok=True)
                return
            job = _job_hash(client, requests)
        batch = _resume(client, state_path, job)
        if batch is None:
            batch = _find_by_tag(client, job)
            if batch is not None:
                _write_state(state_path, batch, batch.input_file_id, job, len(requests))
    except (openai.OpenAIError, ValueError) as e:
        print(f"warning: cannot read the batch recorded in {state_path} ({_describe(e)}); {len(requests)} sample(s) "
              "are graded offline and flagged. Run again to resume it", file=sys.stderr)
        fail_all("batch_error", f"cannot read the batch in {state_path}: {_describe(e)}")
        return
    if batch is not None:
        info.resumed = True
    else:
        try:
            _check_budget(client, requests)
        except BudgetExhausted as e:
            print(f"warning: batch not submitted, {e}; {len(requests)} sample(s) are graded offline and flagged",
                  file=sys.stderr)
            for r in requests:
                outcomes[r.index] = BudgetExhausted(str(e))
            return
        try:
            batch = _submit(client, requests, job, state_path)
        except (openai.OpenAIError, ValueError) as e:
            print(f"warning: batch submission failed ({_describe(e)}); {len(requests)} sample(s) are graded offline "
                  "and flagged", file=sys.stderr)
            fail_all("batch_error", f"submission failed: {_describe(e)}")
            return
    info.batch_id = batch.id
    _note(info, batch)

    # Poll until the batch ends. The state file stays on disk until its results are in hand.
    waited, last = 0.0, None
    while batch.status not in TERMINAL:
        progress = (batch.status, tuple(sorted(info.request_counts.items())))
        if progress != last:
            counts = info.request_counts
            print(f"batch {batch.id}: {batch.status}, {counts['completed']}/{counts['total']} done, "
                  f"{counts['failed']} failed", file=sys.stderr)
            last = progress
        if waited >= max_wait_s:
            print(f"warning: batch {batch.id} still {batch.status} after {waited:g}s; unjudged samples are graded "
                  f"offline and flagged. It keeps running: run again to resume it (state: {state_path})",
                  file=sys.stderr)
            fail_all("batch_timeout", f"batch {batch.id} still {batch.status} after {waited:g}s")
            return
        sleep(poll_interval_s)
        waited += poll_interval_s
        try:
            batch = _api(client, sdk.batches.retrieve, batch.id)
        except (openai.OpenAIError, ValueError) as e:
            print(f"warning: cannot read batch {batch.id} ({_describe(e)}); unjudged samples are graded offline and "
                  f"flagged. Run again to resume it (state: {state_path})", file=sys.stderr)
            fail_all("batch_error", f"cannot read batch {batch.id}: {_describe(e)}")
            return
        _note(info, batch)
    counts = info.request_counts
    print(f"batch {batch.id}: {batch.status}, {counts['completed']}/{counts['total']} done, {counts['failed']} failed",
          file=sys.stderr)

    try:
        lines = [*_read_lines(client, batch.output_file_id), *_read_lines(client, batch.error_file_id)]
    except (openai.OpenAIError, ValueError) as e:
        print(f"warning: cannot download the results of batch {batch.id} ({_describe(e)}); unjudged samples are "
              f"graded offline and flagged. Run again to retry (state: {state_path})", file=sys.stderr)
        fail_all("batch_error", f"cannot download results: {_describe(e)}")
        return
    by_id = {r.custom_id: r for r in requests}
    for line in lines:
        r = by_id.get(line.get("custom_id")) if isinstance(line, dict) else None
        if r is not None and r.index not in outcomes:
            outcomes[r.index] = _outcome(line, r, rubric, judge)

    missing = [r for r in requests if r.index not in outcomes]
    if missing:
        errors = "; ".join(str(getattr(e, "message", None) or e) for e in ((batch.errors and batch.errors.data) or []))
        if batch.status == "failed":
            reason, detail = "batch_failed", f"batch {batch.id} failed" + (f": {errors}" if errors else "")
        else:
            reason, detail = "batch_incomplete", f"no result for this request in batch {batch.id} ({batch.status})"
        print(f"warning: batch {batch.id} {batch.status}" + (f" ({errors})" if errors else "")
              + f"; {len(missing)} of {len(requests)} sample(s) without a result are graded offline and flagged",
              file=sys.stderr)
        fail_all(reason, detail)
    state_path.unlink(missing_ok=True)  # results collected: a re-run must not resume this batch


def _resume(client: JudgeClient, state_path: Path, job: str):
    """The batch recorded in the state file for this same job, or None (no, unreadable or foreign state file)."""
    if not state_path.exists():
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        batch_id = state["batch_id"]
        state_job = state["job"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"warning: ignoring unreadable batch state file {state_path} ({e}); submitting a new batch",
              file=sys.stderr)
        return None
    if state_job != job:
        print(f"warning: ignoring batch state file {state_path}: it is for a different job (batch {batch_id}); "
              "submitting a new batch", file=sys.stderr)
        return None
    try:
        batch = _api(client, client.sdk.batches.retrieve, batch_id)
    except openai.NotFoundError:
        print(f"warning: batch {batch_id} from {state_path} is not found at {client.endpoint}; submitting a new batch",
              file=sys.stderr)
        return None
    print(f"batch: resuming {batch_id} from {state_path} ({state.get('n_requests', '?')} request(s), "
          "no new submission)", file=sys.stderr)
    return batch


def _check_budget(client: JudgeClient, requests: list[_Request]) -> None:
    worst = sum(client.worst_case_usd(r.messages, batch=True) for r in requests)
    client.check_budget(worst, f"a batch of {len(requests)} request(s) at the batch price")


def _submit(client: JudgeClient, requests: list[_Request], job: str, state_path: Path):
    sdk = client.sdk
    upload = _api(client, sdk.files.create, file=("batch_input.jsonl", _jsonl(requests), "application/jsonl"),
                  purpose="batch")
    # Not retried on timeouts or dropped connections: the batch may have been created, and a second one is paid twice.
    # Looked up by its job tag instead: if the server created it, that one is used.
    try:
        batch = _api(client, sdk.batches.create, input_file_id=upload.id, endpoint=ENDPOINT,
                     completion_window="24h", metadata={"job": job}, create=True)
    except openai.APIConnectionError:
        batch = _find_by_tag(client, job)
        if batch is None:
            raise
        print(f"batch: the submission got no answer, but batch {batch.id} was created for this job: using it",
              file=sys.stderr)
    _write_state(state_path, batch, upload.id, job, len(requests))
    print(f"batch: submitted {batch.id} ({len(requests)} request(s); state in {state_path}, "
          "an interrupted run resumes it)", file=sys.stderr)
    return batch


def _write_state(state_path: Path, batch, input_file_id: str, job: str, n_requests: int) -> None:
    write_json_atomic(state_path, {"batch_id": batch.id, "input_file_id": input_file_id, "job": job,
                                   "created_at": batch.created_at, "n_requests": n_requests})


MAX_LISTED = 1000


def _find_by_tag(client: JudgeClient, job: str):
    """The newest batch tagged with this job (``metadata.job``) that may hold results not collected yet, or None.

    A completed batch counts only if some of its requests succeeded: collecting it caches those, which changes the
    pending requests and so the job, so a completed batch of this very job was never collected. One whose requests
    all failed would only fail again: submitting anew is the retry."""
    seen = 0
    for b in _api(client, client.sdk.batches.list, limit=100):
        counts = b.request_counts
        usable = b.status not in TERMINAL or (b.status == "completed" and counts is not None and counts.completed > 0)
        if (b.metadata or {}).get("job") == job and usable:
            print(f"batch: found {b.id} ({b.status}) already submitted for this job; no new submission",
                  file=sys.stderr)
            return b
        seen += 1
        if seen >= MAX_LISTED:
            break
    return None


def _collect_previous(client: JudgeClient, judge: LLMJudge, state_path: Path, job: str, poll_interval_s: float,
                      sleep: Callable[[float], None], max_wait_s: float, info: _BatchInfo) -> bool:
    """Collect the batch of an EARLIER job recorded in the state file (it is paid for): wait for it, cancel it if it
    does not end within ``max_wait_s``, cache its valid judgments. True when there was one."""
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        batch_id, input_file_id, state_job = state["batch_id"], state["input_file_id"], state["job"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if state_job == job:
        return False
    try:
        batch = _api(client, client.sdk.batches.retrieve, batch_id)
    except openai.NotFoundError:
        return False
    print(f"batch: the state file {state_path} holds batch {batch_id} of an earlier job ({batch.status}); "
          "collecting it before submitting the rest", file=sys.stderr)
    waited = 0.0
    while batch.status not in TERMINAL:
        if waited >= 2 * max_wait_s:
            print(f"warning: batch {batch_id} still {batch.status} after cancelling it; not collected",
                  file=sys.stderr)
            return True
        if waited >= max_wait_s and batch.status != "cancelling":
            print(f"batch: cancelling {batch_id} (still {batch.status} after {waited:g}s)", file=sys.stderr)
            batch = _api(client, client.sdk.batches.cancel, batch_id)
            continue
        sleep(poll_interval_s)
        waited += poll_interval_s
        batch = _api(client, client.sdk.batches.retrieve, batch_id)
    bodies = {line.get("custom_id"): line.get("body") for line in _read_lines(client, input_file_id)}
    reused = 0
    for line in _read_lines(client, batch.output_file_id):
        body = bodies.get(line.get("custom_id")) if isinstance(line, dict) else None
        if not isinstance(body, dict):
            continue
        worst = client.worst_case_usd(body.get("messages") or [], batch=True)
        judged = _valid_reply(line, judge, client, worst)
        if judged is not None and client.cache is not None:
            client.cache.put(client.body_key(body), judged, str(body.get("model")))
            reused += 1
    info.previous = {"batch_id": batch_id, "status": batch.status, "reused": reused}
    state_path.unlink(missing_ok=True)  # collected: its state must not be resumed or reported as foreign
    print(f"batch: {batch_id} {batch.status}; {reused} judgment(s) reused", file=sys.stderr)
    return True


def _valid_reply(line: dict, judge: LLMJudge, client: JudgeClient, worst: float) -> CachedResponse | None:
    """A batch output line's reply, accounted at the batch price, if it is a valid judgment."""
    response = line.get("response") if isinstance(line.get("response"), dict) else None
    body = response.get("body") if response else None
    if not response or response.get("status_code") != 200 or not isinstance(body, dict):
        return None
    client.record_usage(body.get("usage"), batch=True, worst_usd=worst)
    try:
        message = body["choices"][0]["message"]
        content = content_text(message.get("content"))
        judge.parse(content)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return None
    pt, ct, cached = parse_usage(body.get("usage"))
    return CachedResponse(content, pt, ct, cached)


def _api(client: JudgeClient, fn, *args, create: bool = False, **kwargs):
    """A Batch/Files API call with the client's retry policy (the SDK's own retries are off)."""

    def retryable(exc: BaseException) -> bool:
        if create and not isinstance(exc, openai.APIStatusError):
            return False
        return is_retryable(exc)

    return client.retrying(retryable)(fn, *args, **kwargs)


def _read_lines(client: JudgeClient, file_id: str | None) -> list[dict]:
    if not file_id:
        return []
    data = _api(client, client.sdk.files.content, file_id)
    text = data.content.decode("utf-8") if hasattr(data, "content") else str(data)
    lines = []
    for raw in text.splitlines():
        if raw.strip():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue  # an unreadable line: its sample is reported as missing (batch_incomplete)
    return lines


def _note(info: _BatchInfo, batch) -> None:
    info.status = batch.status
    rc = batch.request_counts
    if rc is not None:
        info.request_counts = {"total": rc.total, "completed": rc.completed, "failed": rc.failed}


def _describe(e: BaseException) -> str:
    status = getattr(e, "status_code", None)
    return f"HTTP {status}" if status else type(e).__name__


# ---- one output line -> one outcome ------------------------------------------------------------------------------
def _outcome(line: dict, r: _Request, rubric: Rubric, judge: LLMJudge) -> Judgment | JudgeUnavailable | _Invalid:
    client = judge.client
    response = line.get("response") if isinstance(line.get("response"), dict) else None
    error = line.get("error")
    status = response.get("status_code") if response else None
    body = response.get("body") if response else None
    if error or status != 200 or not isinstance(body, dict):
        code = (error or {}).get("code") if isinstance(error, dict) else None
        detail = f"HTTP {status}" if status is not None else f"request error {code or error!r}"
        kind = f"batch_{status or code or 'error'}"
        client.count_error(kind)
        return JudgeUnavailable("batch_error", detail)
    usage = body.get("usage")
    pt, ct, cached = parse_usage(usage)
    # billed whether or not the judgment is usable; usage that cannot be read is charged at the worst case
    client.record_usage(usage, batch=True, worst_usd=client.worst_case_usd(r.messages, batch=True))
    try:
        content = content_text(body["choices"][0]["message"].get("content"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return JudgeUnavailable("batch_error", "response body is not a chat completion")
    try:
        parsed = judge.parse(content)
    except ValueError as e:
        return _Invalid(pt + ct, str(e))
    if client.cache is not None:
        client.cache.put(client.key_for(r.messages, judge.response_format, rubric.spec_sha256),
                         CachedResponse(content, pt, ct, cached), client.decoding.model)
    # The Batch API reports no per-request timing, and a batch line is not an online call.
    return judge.judgment(parsed, tokens_used=pt + ct, latency_ms=0, calls=0, cached=False)


class _BatchOutcomes:
    """A Judge for grade_one that hands back the batch's outcome for the sample at ``index``."""

    def __init__(self, judge: LLMJudge, outcomes: dict[int, Judgment | JudgeUnavailable | _Invalid]):
        self.name = judge.name
        self.client = judge.client
        self._judge, self._outcomes = judge, outcomes
        self.index = -1

    def judge(self, sample: Sample) -> Judgment:
        outcome = self._outcomes.get(self.index)
        if outcome is None:  # not submitted: in the response cache (or it entered it meanwhile), judged as online
            return self._judge.judge(sample)
        if isinstance(outcome, Judgment):
            return outcome
        if isinstance(outcome, JudgeUnavailable):
            raise outcome
        try:  # an invalid batch judgment: one online re-ask through the normal judge (retries, budget, validation)
            j = self._judge.judge(sample)
        except JudgeUnavailable as err:
            err.tokens_used += outcome.tokens
            raise
        j.tokens_used += outcome.tokens
        j.flags = ["judge_output_invalid_retried", *j.flags]
        return j
