"""The one client every LLM call goes through: retries, budget, cache and call accounting.

* Retries belong to tenacity (the SDK's own are off): 408/409/429/5xx, timeouts, dropped connections and malformed
  bodies, with exponential backoff and full jitter, honouring ``Retry-After`` / ``retry-after-ms``.
* Budget: each call reserves its worst case (prompt tokens counted + the completion cap, at list price) before it
  is sent and settles at the reported usage afterwards, so concurrent calls cannot overshoot ``budget_usd``.
  HTTP 402 stops all calls for the rest of the run.
* Cache: a valid response is stored under a hash of everything that determines it; a hit costs no call.
Thread-safe: the grading pool calls ``complete`` from many threads.
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import httpx2
import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from .cache import CachedResponse, ResponseCache, cache_key
from .formats import FormatNegotiator, FormatRejected, key_material, mode_fields, rejection_reason, shape_messages
from .pricing import cost_usd, count_message_tokens
from .types import BudgetExhausted, JudgeUnavailable

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
FATAL_STATUSES = {401: "authentication failed", 403: "permission denied", 404: "model or endpoint not found"}
"""Errors that every further call would repeat: stop calling at once (as for 402) rather than spend a doomed call
per sample. A 400 stays per sample: it can come from one sample's content (e.g. too long for the context)."""
UNUSABLE_AFTER = 10
"""Consecutive calls that got no usable answer (connection failures, timeouts, HTTP 400), with no success between
them, after which calling stops: a dead endpoint would otherwise cost every sample max_attempts x timeout, and an
endpoint that rejects the request's shape (say, strict json_schema) one doomed call per sample. One 400 alone stays
with its sample."""
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters sent with every call; all of them are part of the cache key."""

    model: str = "gpt-4o-mini"
    temperature: float = 0.0
    seed: int = 0
    max_completion_tokens: int = 350

    def as_dict(self) -> dict:
        return {"model": self.model, "temperature": self.temperature, "seed": self.seed,
                "max_completion_tokens": self.max_completion_tokens}


@dataclass(frozen=True)
class ChatResult:
    content: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms: int
    calls: int  # HTTP requests made for this result, retries included (0 for a cache hit)
    from_cache: bool
    mode: str = "json_schema"  # the response-format mode it was asked (or cached) in: grader.formats


def parse_usage(usage: dict | None) -> tuple[int, int, int]:
    """``(prompt_tokens, completion_tokens, cached_prompt_tokens)`` from a chat completion's reported usage."""
    usage = usage or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), int(cached)


class MalformedResponse(Exception):
    """A 2xx whose body is not a chat completion: retried like a transport error."""


@dataclass
class Usage:
    """Running totals for the summary; read under the client's lock."""

    calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    spent_usd: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


class JudgeClient:
    def __init__(self, decoding: Decoding, budget_usd: float, *, cache: ResponseCache | None = None,
                 base_url: str | None = None, api_key: str | None = None, timeout_s: float = 60.0,
                 max_attempts: int = 6, backoff_base_s: float = 0.5, backoff_max_s: float = 20.0,
                 sdk_client: openai.OpenAI | None = None, sleep: Callable[[float], None] = time.sleep,
                 response_format_mode: str = "json_schema"):
        self.decoding = decoding
        self.budget_usd = budget_usd
        self.cache = cache
        # OpenAI() picks up OPENAI_API_KEY and OPENAI_BASE_URL from the environment; retries are ours, not the SDK's.
        self.sdk = sdk_client or openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)
        self.endpoint = str(self.sdk.base_url)
        self.max_attempts, self.backoff_base_s, self.backoff_max_s = max_attempts, backoff_base_s, backoff_max_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._reserved_usd = 0.0
        self._stopped: tuple[str, str] | None = None  # (fallback reason, why): no further call may be made
        self._failure_streak = 0  # consecutive calls without a usable answer; reset by a success
        self.usage = Usage()
        self.formats = FormatNegotiator(response_format_mode)  # which response_format the endpoint takes

    # ---- public ------------------------------------------------------------------------------------------------
    @property
    def stopped(self) -> str | None:
        """Why calling has stopped for the rest of the run (HTTP 402 or 401/403/404, the budget), or None."""
        return self._stopped[1] if self._stopped else None

    @property
    def stop_reason(self) -> str | None:
        """The fallback reason token of the stop (``budget_exhausted``, ``api_error``), or None."""
        return self._stopped[0] if self._stopped else None

    def key_for(self, messages: list[dict], response_format: dict, rubric_sha: str, mode: str | None = None) -> str:
        return cache_key(endpoint=self.endpoint, decoding=self.decoding.as_dict(), messages=messages,
                         response_format=key_material(mode or self.formats.mode, response_format), rubric=rubric_sha)

    def cached(self, messages: list[dict], response_format: dict, rubric_sha: str) -> tuple[str, CachedResponse] | None:
        """A cached reply in the current response-format mode or a weaker one an earlier run negotiated with this
        endpoint (whose mode this run then adopts, so a re-run makes no call to rediscover it), or None."""
        if self.cache is None:
            return None
        for mode in self.formats.modes_from_current():
            hit = self.cache.get(self.key_for(messages, response_format, rubric_sha, mode))
            if hit is not None:
                self.formats.adopt(mode, "its replies are in the response cache")
                return mode, hit
        return None

    def complete(self, messages: list[dict], response_format: dict, rubric_sha: str = "",
                 validate: Callable[[str], object] | None = None) -> ChatResult:
        """One judged completion. A cache hit makes no call; a fresh response is cached only if ``validate``
        (which raises ValueError on a bad judgment) accepts it. Raises BudgetExhausted or JudgeUnavailable."""
        found = self.cached(messages, response_format, rubric_sha)
        if found is not None:
            mode, hit = found
            with self._lock:
                self.usage.cache_hits += 1
            return ChatResult(hit.content, hit.prompt_tokens, hit.completion_tokens, hit.cached_tokens,
                              0, 0, True, mode)
        result = self._call_negotiated(messages, response_format)
        key = self.key_for(messages, response_format, rubric_sha, result.mode) if self.cache is not None else ""
        if self.cache is not None and validate is not None:
            try:
                validate(result.content)
            except ValueError:
                return result  # the caller sees the invalid judgment; the cache never does
            self.cache.put(key, CachedResponse(result.content, result.prompt_tokens, result.completion_tokens,
                                               result.cached_tokens), self.decoding.model)
        return result

    def request_body(self, messages: list[dict], response_format: dict, mode: str | None = None) -> dict:
        """The chat-completions request body for one judged completion: what ``complete`` sends and what a Batch API
        line carries (grader.batch), built in one place so the two paths cannot drift. ``response_format`` is the
        strict schema; ``mode`` (default: the negotiated one) decides how it is sent (grader.formats)."""
        d = self.decoding
        mode = mode or self.formats.mode
        body = {"model": d.model, "messages": shape_messages(mode, messages, response_format),
                "temperature": d.temperature, "seed": d.seed, "max_completion_tokens": d.max_completion_tokens}
        body.update(mode_fields(mode, response_format, d.max_completion_tokens))
        return body

    def worst_case_usd(self, messages: list[dict]) -> float:
        return cost_usd(self.decoding.model, count_message_tokens(messages), self.decoding.max_completion_tokens)

    # ---- for call paths other than chat completions (the Batch API): the same budget, accounting and retries ----
    def check_budget(self, worst_usd: float, what: str) -> None:
        """Raise BudgetExhausted (and stop all further calls) unless ``worst_usd`` more still fits the budget."""
        with self._lock:
            self._check_budget_locked(worst_usd, what)

    def record_usage(self, usage: dict, batch: bool = False) -> None:
        """Add a reply's reported usage to the running totals and spend (at the batch price when ``batch``)."""
        pt, ct, cached = parse_usage(usage)
        with self._lock:
            self.usage.prompt_tokens += pt
            self.usage.completion_tokens += ct
            self.usage.cached_tokens += cached
            self.usage.spent_usd += cost_usd(self.decoding.model, pt, ct, cached, batch=batch)

    def count_error(self, kind: str) -> None:
        with self._lock:
            self.usage.errors[kind] = self.usage.errors.get(kind, 0) + 1

    def retrying(self, retry_if: Callable[[BaseException], bool] | None = None) -> Retrying:
        """The client's retry policy (attempts, Retry-After, jittered backoff) for any API call."""
        return Retrying(retry=retry_if_exception(retry_if or is_retryable), stop=stop_after_attempt(self.max_attempts),
                        wait=self._wait, sleep=self._sleep, reraise=True, before_sleep=lambda _: self._count_retry())

    def summary(self) -> dict:
        with self._lock:
            u = self.usage
            return {"calls": u.calls, "retries": u.retries, "cache_hits": u.cache_hits,
                    "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                    "cached_prompt_tokens": u.cached_tokens, "spent_usd": round(u.spent_usd, 6),
                    "budget_usd": self.budget_usd, "stopped": self.stopped, "errors": dict(u.errors),
                    "response_format": self.formats.summary()}

    # ---- internals ---------------------------------------------------------------------------------------------
    def _call_negotiated(self, messages: list[dict], response_format: dict) -> ChatResult:
        """Send in the negotiated response-format mode; a rejected mode moves the whole run to the next one."""
        t0 = time.perf_counter()
        calls = 0
        while True:
            mode = self.formats.mode
            try:
                result = self._call_with_retries(messages, response_format, mode)
            except FormatRejected as e:
                calls += e.calls
                if self.formats.reject(mode, e.why):
                    continue
                why = f"the endpoint rejected every response format (last, {mode}: {e.why})"
                self._stop("api_error", why)
                raise JudgeUnavailable("api_error", why, calls=calls) from None
            return replace(result, calls=result.calls + calls, latency_ms=round((time.perf_counter() - t0) * 1000))

    def _call_with_retries(self, messages: list[dict], response_format: dict, mode: str = "json_schema") -> ChatResult:
        calls = 0
        t0 = time.perf_counter()

        def attempt() -> dict:
            nonlocal calls
            reserve = self._reserve(messages)
            calls += 1
            try:
                body = self._post(messages, response_format, mode)
            except openai.APIStatusError as e:
                self._settle(reserve, None)
                why = rejection_reason(e.status_code, _error_text(e))  # the request's shape refused: grader.formats
                if e.status_code == 400 and not why:
                    self._no_usable_answer()
                if e.status_code == 402:
                    self._stop("budget_exhausted", "HTTP 402 from the endpoint (budget exhausted)")
                    raise BudgetExhausted("the endpoint answered HTTP 402") from None
                self.count_error(f"http_{e.status_code}")
                if e.status_code in FATAL_STATUSES:
                    self._stop("api_error", f"HTTP {e.status_code} from the endpoint: {FATAL_STATUSES[e.status_code]}")
                if why:
                    raise FormatRejected(mode, why) from None  # not retried: the same shape meets the same answer
                raise
            except openai.APIConnectionError as e:  # APITimeoutError is a subclass
                self._settle(reserve, None)
                self.count_error(type(e).__name__)
                self._no_usable_answer()
                raise
            except MalformedResponse as e:
                self._settle(reserve, None)
                self.count_error(type(e).__name__)
                raise
            except BaseException:
                self._settle(reserve, None)
                raise
            self._settle(reserve, body.get("usage") or {})
            self._succeeded()
            return body

        try:
            body = self.retrying()(attempt)
        except BudgetExhausted:
            raise
        except FormatRejected as e:
            e.calls = calls
            raise
        except openai.APIStatusError as e:
            raise JudgeUnavailable("api_error", f"HTTP {e.status_code} after {calls} attempt(s)") from None
        except (openai.APIConnectionError, MalformedResponse) as e:
            raise JudgeUnavailable("api_error", f"{type(e).__name__} after {calls} attempt(s)") from None
        pt, ct, cached = parse_usage(body.get("usage"))
        return ChatResult(
            content=body["choices"][0]["message"].get("content") or "", prompt_tokens=pt, completion_tokens=ct,
            cached_tokens=cached, latency_ms=round((time.perf_counter() - t0) * 1000), calls=calls, from_cache=False,
            mode=mode)

    def _post(self, messages: list[dict], response_format: dict, mode: str) -> dict:
        # The SDK's own POST (its transport, auth, headers and typed errors) with the body as built: create() would
        # re-walk the whole json_schema and messages through its TypedDict transform, over a third of the harness's
        # CPU per call, for a body that is already plain JSON. We parse the reply ourselves for the same reason,
        # and so that a garbled body becomes a retryable error rather than a crash.
        raw = self.sdk.post("/chat/completions", body=self.request_body(messages, response_format, mode),
                            cast_to=httpx2.Response)
        try:
            body = json.loads(raw.content)
            body["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise MalformedResponse("response body is not a chat completion") from None
        return body

    def _reserve(self, messages: list[dict]) -> float:
        worst = self.worst_case_usd(messages)
        with self._lock:
            self._check_budget_locked(worst, "next call")
            self._reserved_usd += worst
            self.usage.calls += 1
        return worst

    def _check_budget_locked(self, worst_usd: float, what: str) -> None:
        if self._stopped:
            reason, why = self._stopped
            raise BudgetExhausted(why) if reason == "budget_exhausted" else JudgeUnavailable(reason, why)
        if self.usage.spent_usd + self._reserved_usd + worst_usd > self.budget_usd:
            # Stop for good rather than squeeze in cheaper calls later: which samples got the LLM stays predictable.
            why = (f"stopped before --budget-usd {self.budget_usd:g}: spent ${self.usage.spent_usd:.4f}, "
                   f"${self._reserved_usd:.4f} in flight, {what} up to ${worst_usd:.4f}")
            self._stopped = ("budget_exhausted", why)
            raise BudgetExhausted(why)

    def _succeeded(self) -> None:
        with self._lock:
            self._failure_streak = 0

    def _no_usable_answer(self) -> None:
        with self._lock:
            self._failure_streak += 1
            if self._failure_streak >= UNUSABLE_AFTER and not self._stopped:
                self._stopped = ("api_error", f"endpoint unusable: {self._failure_streak} consecutive calls failed "
                                              "(connection failures, timeouts or HTTP 400) with no success between")

    def _settle(self, reserved: float, usage: dict | None) -> None:
        with self._lock:
            self._reserved_usd = max(self._reserved_usd - reserved, 0.0)
        if usage:
            self.record_usage(usage)

    def _stop(self, reason: str, why: str) -> None:
        with self._lock:
            self._stopped = self._stopped or (reason, why)

    def _count_retry(self) -> None:
        with self._lock:
            self.usage.retries += 1

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gives one, else exponential backoff with full jitter."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        cap = min(self.backoff_max_s, self.backoff_base_s * 2 ** (state.attempt_number - 1))
        return random.uniform(0, cap)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, BudgetExhausted):
        return False
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
    return isinstance(exc, (openai.APIConnectionError, MalformedResponse))


def _error_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # a streamed or unread body: the SDK's message still names the error
        return str(exc)


def _retry_after_s(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value) * scale, 0.0)
        except ValueError:
            continue  # an HTTP-date Retry-After: fall back to backoff
    return None
