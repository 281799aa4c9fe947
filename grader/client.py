"""The one client every LLM call goes through: retries, budget, cache and call accounting.

* Retries belong to tenacity (the SDK's own are off): 408/409/429/5xx, timeouts, dropped connections and malformed
  bodies, with exponential backoff and full jitter, honouring ``Retry-After`` / ``retry-after-ms``. No single wait
  exceeds ``max_wait_s`` and the whole run waits at most ``max_total_wait_s``; a long wait is announced on stderr.
* Budget: each call reserves its worst case (prompt tokens counted + the completion cap, at list price) before it
  is sent and settles in the same locked step that releases the reservation, so concurrent calls cannot overshoot
  ``budget_usd``. A call is charged its reported usage; one whose usage cannot be read, that timed out or whose
  connection dropped (the provider bills work it finishes after we hang up) is charged its reserved worst case, and
  counted (``charged_at_worst_case``). HTTP 402, or a 429 that says the account is out of credit, stops all calls.
* Each call has a total deadline (``timeout_s``), not only a per-read timeout: a body that trickles in is cut off.
* Failures that may be a blip (dropped connections, timeouts, 200s that are not a completion) go to a half-open
  circuit breaker (grader.breaker); only sustained failure stops the run.
* Cache: a valid response is stored under a hash of the endpoint and the request body (what determines the reply);
  a hit costs no call. Identical requests in flight at once are sent once and share the reply.
Thread-safe: the grading pool calls ``complete`` from many threads.
"""
from __future__ import annotations

import json
import math
import random
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import httpx2
import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from .breaker import Breaker
from .cache import CachedResponse, ResponseCache, cache_key
from .formats import FormatNegotiator, FormatRejected, mode_fields, rejection_reason, shape_messages
from .pricing import PRICES_READ_ON, Price, content_text, count_message_tokens, price_cost, price_for
from .replies import (OUT_OF_CREDIT_CODES, MalformedResponse, describe, error_code, error_text, is_retryable,
                      retry_after_s, usable_usage)
from .types import BudgetExhausted, JudgeUnavailable

FATAL_STATUSES = {401: "authentication failed", 403: "permission denied", 404: "model or endpoint not found"}
"""Errors that every further call would repeat: stop calling at once (as for 402) rather than spend a doomed call
per sample. A 400 stays per sample: it can come from one sample's content (e.g. too long for the context)."""
UNUSABLE_AFTER = 10
"""Consecutive HTTP 400s, with no success between them, after which calling stops: an endpoint that rejects the
request's shape (say, strict json_schema) would otherwise cost one doomed call per sample. One 400 alone stays with
its sample. Transport failures go to the circuit breaker instead, which waits out a blip."""
MAX_RETRY_AFTER_S = 60.0
MAX_TOTAL_WAIT_S = 900.0
ANNOUNCE_WAIT_S = 2.0  # waits at least this long are said on stderr
_STREAM = {"headers": {"X-Stainless-Raw-Response": "stream"}}  # the SDK hands back the response before its body


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters sent with every call; all of them are part of the cache key."""

    model: str = "gpt-4o-mini"
    temperature: float = 0.0
    seed: int = 0
    max_completion_tokens: int = 350
    top_p: float | None = None  # sent only when set (generation); judging leaves the endpoint's default

    def as_dict(self) -> dict:
        d = {"model": self.model, "temperature": self.temperature, "seed": self.seed,
             "max_completion_tokens": self.max_completion_tokens}
        return d if self.top_p is None else {**d, "top_p": self.top_p}


@dataclass(frozen=True)
class ChatResult:
    content: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms: int
    calls: int  # HTTP requests made for this result, retries included (0 for a cache hit)
    from_cache: bool
    finish_reason: str | None = None  # as the endpoint reported it; None for a cache hit (not stored)
    mode: str = "json_schema"  # the response-format mode it was asked (or cached) in: grader.formats


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
    charged_worst_case: int = 0  # replies without usable usage, timed-out or dropped calls: charged at worst case
    coalesced: int = 0  # requests answered by an identical request already in flight
    waited_s: float = 0.0  # backoff and Retry-After waits, all threads summed
    errors: dict[str, int] = field(default_factory=dict)


class _Flight:
    """An identical request already in flight: later callers wait for its outcome instead of paying again."""

    __slots__ = ("done", "result", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: ChatResult | None = None
        self.error: BaseException | None = None


class JudgeClient:
    def __init__(self, decoding: Decoding, budget_usd: float, *, cache: ResponseCache | None = None,
                 base_url: str | None = None, api_key: str | None = None, timeout_s: float = 60.0,
                 max_attempts: int = 6, backoff_base_s: float = 0.5, backoff_max_s: float = 20.0,
                 sdk_client: openai.OpenAI | None = None, sleep: Callable[[float], None] = time.sleep,
                 price: Price | None = None, max_wait_s: float = MAX_RETRY_AFTER_S,
                 max_total_wait_s: float = MAX_TOTAL_WAIT_S, breaker: Breaker | None = None,
                 log: Callable[[str], None] | None = None, response_format_mode: str = "json_schema"):
        if not isinstance(budget_usd, (int, float)) or not math.isfinite(budget_usd) or budget_usd < 0:
            raise ValueError(f"budget_usd must be a finite number of dollars, not negative: got {budget_usd!r}")
        self.decoding = decoding
        self.formats = FormatNegotiator(response_format_mode)  # which response_format the endpoint takes
        self.budget_usd = budget_usd
        self.cache = cache
        # The price every call is reserved and charged at: the list price, --price-per-mtok, or for a model not
        # in the table an upper bound of every listed price.
        listed, known = price_for(decoding.model)
        self.price = price or listed
        self.price_source = ("--price-per-mtok" if price else f"list price read on {PRICES_READ_ON}" if known
                             else "unlisted model: upper bound of every listed price")
        # OpenAI() picks up OPENAI_API_KEY and OPENAI_BASE_URL from the environment; retries are ours, not the SDK's.
        self.sdk = sdk_client or openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)
        self.endpoint = str(self.sdk.base_url)
        self.timeout_s = timeout_s
        self.max_attempts, self.backoff_base_s, self.backoff_max_s = max_attempts, backoff_base_s, backoff_max_s
        self.max_wait_s, self.max_total_wait_s = max_wait_s, max_total_wait_s
        self._sleep = sleep
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.breaker = breaker or Breaker(log=self._log)
        self._lock = threading.Lock()
        self._reserved_usd = 0.0
        self._stopped: tuple[str, str] | None = None  # (fallback reason, why): no further call may be made
        self._rejected_streak = 0  # consecutive HTTP 400s; reset by a success
        self._in_flight: dict[str, _Flight] = {}
        self._announced_at = -math.inf
        self.usage = Usage()

    # ---- public ------------------------------------------------------------------------------------------------
    @property
    def stopped(self) -> str | None:
        """Why calling has stopped for the rest of the run (HTTP 402 or 401/403/404, the budget), or None."""
        return self._stopped[1] if self._stopped else None

    @property
    def stop_reason(self) -> str | None:
        """The fallback reason token of the stop (``budget_exhausted``, ``api_error``), or None."""
        return self._stopped[0] if self._stopped else None

    def key_for(self, messages: list[dict], response_format: dict | None, rubric_sha: str = "",
                decoding: Decoding | None = None, mode: str | None = None) -> str:
        """The cache key of a judged completion: the endpoint and the request body, which is all the reply depends on
        (``rubric_sha`` is accepted for compatibility and ignored: a spec edit the prompt never shows changes nothing).
        The body is the one sent in ``mode`` (default: the negotiated one), so the key names the mode."""
        return self._key(self.request_body(messages, response_format, decoding, mode))

    def cached(self, messages: list[dict], response_format: dict | None, rubric_sha: str = "",
               decoding: Decoding | None = None) -> tuple[str, CachedResponse] | None:
        """A cached reply in the current response-format mode or a weaker one an earlier run negotiated with this
        endpoint (whose mode this run then adopts, so a re-run makes no call to rediscover it), or None."""
        if self.cache is None:
            return None
        modes = self.formats.modes_from_current() if response_format is not None else (self.formats.mode,)
        for mode in modes:
            hit = self.cache.get(self.key_for(messages, response_format, rubric_sha, decoding, mode))
            if hit is not None:
                if response_format is not None:
                    self.formats.adopt(mode, "its replies are in the response cache")
                return mode, hit
        return None

    def complete(self, messages: list[dict], response_format: dict | None, rubric_sha: str = "",
                 validate: Callable[[str], object] | None = None, decoding: Decoding | None = None) -> ChatResult:
        """One judged completion. A cache hit makes no call; a fresh response is cached only if ``validate``
        (which raises ValueError on a bad judgment) accepts it. An identical request already in flight is not sent
        again: this call waits for it and shares its outcome. Raises BudgetExhausted or JudgeUnavailable.

        ``response_format=None`` asks for plain text (model generation, not judging); ``decoding`` overrides the
        client's decoding for this call (e.g. one seed per sample), in the request, the key and the budget."""
        decoding = decoding or self.decoding
        found = self.cached(messages, response_format, rubric_sha, decoding)
        if found is not None:
            mode, hit = found
            with self._lock:
                self.usage.cache_hits += 1
            return ChatResult(hit.content, hit.prompt_tokens, hit.completion_tokens, hit.cached_tokens,
                              0, 0, True, mode=mode)
        key = self.key_for(messages, response_format, rubric_sha, decoding)
        with self._lock:
            flight = self._in_flight.get(key)
            leader = flight is None
            if leader:
                flight = self._in_flight[key] = _Flight()
        if not leader:
            return self._follow(flight)
        try:
            result = self._call_negotiated(messages, response_format, decoding)
            if self.cache is not None and validate is not None:
                try:
                    validate(result.content)
                except ValueError:
                    flight.result = result
                    return result  # the caller sees the invalid judgment; the cache never does
                self.cache.put(self.key_for(messages, response_format, rubric_sha, decoding, result.mode),
                               CachedResponse(result.content, result.prompt_tokens, result.completion_tokens,
                                              result.cached_tokens), decoding.model)
            flight.result = result
            return result
        except BaseException as e:
            flight.error = e
            raise
        finally:
            with self._lock:
                del self._in_flight[key]
            flight.done.set()

    def body_key(self, body: dict) -> str:
        """The cache key of a request body as sent (e.g. a Batch API line of an earlier job)."""
        return self._key(body)

    def keep_reply(self, messages: list[dict], response_format: dict, result: ChatResult) -> None:
        """Cache a reply that ``validate`` rejected, once the re-ask it led to was valid: a re-run then replays the
        same path (this reply, the re-ask, its valid answer) from the cache with zero calls. A reply whose re-ask
        failed too is never kept, so such a sample is asked again on the next run."""
        if self.cache is not None and not result.from_cache:
            self.cache.put(self.key_for(messages, response_format, mode=result.mode), CachedResponse(
                result.content, result.prompt_tokens, result.completion_tokens, result.cached_tokens),
                self.decoding.model)

    def request_body(self, messages: list[dict], response_format: dict | None,
                     decoding: Decoding | None = None, mode: str | None = None) -> dict:
        """The chat-completions request body for one completion: what ``complete`` sends and what a Batch API line
        carries (grader.batch), built in one place so the two paths cannot drift. No ``response_format``: plain
        text (generation)."""
        d = decoding or self.decoding
        if response_format is not None:  # a judgment: sent in the negotiated response-format mode (grader.formats)
            mode = mode or self.formats.mode
            messages = shape_messages(mode, messages, response_format)
        body = {"model": d.model, "messages": messages, "temperature": d.temperature, "seed": d.seed,
                "max_completion_tokens": d.max_completion_tokens}
        if d.top_p is not None:
            body["top_p"] = d.top_p
        if response_format is not None:
            body.update(mode_fields(mode, response_format, d.max_completion_tokens))
        return body

    def cost_usd(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
                 batch: bool = False) -> float:
        """Dollars for these tokens at the client's price (list, --price-per-mtok, or the unlisted upper bound)."""
        return price_cost(self.price, prompt_tokens, completion_tokens, cached_tokens, batch)

    def worst_case_usd(self, messages: list[dict], batch: bool = False) -> float:
        return self.cost_usd(count_message_tokens(messages), self.decoding.max_completion_tokens, batch=batch)

    # ---- for call paths other than chat completions (the Batch API): the same budget, accounting and retries ----
    def check_budget(self, worst_usd: float, what: str) -> None:
        """Raise BudgetExhausted (and stop all further calls) unless ``worst_usd`` more still fits the budget."""
        with self._lock:
            self._check_budget_locked(worst_usd, what)

    def record_usage(self, usage: object, batch: bool = False, worst_usd: float | None = None) -> None:
        """Add a reply's reported usage to the running totals and spend (at the batch price when ``batch``). When
        the usage cannot be read, ``worst_usd`` (the request's worst case) is charged instead and counted."""
        tokens = usable_usage(usage)
        charge = self.cost_usd(*tokens, batch=batch) if tokens else (worst_usd or 0.0)
        self._settle(0.0, charge, tokens, unmetered=tokens is None and worst_usd is not None)

    def count_error(self, kind: str) -> None:
        with self._lock:
            self.usage.errors[kind] = self.usage.errors.get(kind, 0) + 1

    def retrying(self, retry_if: Callable[[BaseException], bool] | None = None) -> Retrying:
        """The client's retry policy (attempts, Retry-After, jittered backoff, capped waits) for any API call."""
        return Retrying(retry=retry_if_exception(retry_if or is_retryable), stop=stop_after_attempt(self.max_attempts),
                        wait=self._wait, sleep=self._sleep, reraise=True, before_sleep=lambda _: self._count_retry())

    def summary(self) -> dict:
        with self._lock:
            u = self.usage
            return {"calls": u.calls, "retries": u.retries, "cache_hits": u.cache_hits, "coalesced": u.coalesced,
                    "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                    "cached_prompt_tokens": u.cached_tokens, "spent_usd": round(u.spent_usd, 6),
                    "charged_at_worst_case": u.charged_worst_case, "budget_usd": self.budget_usd,
                    "price_per_mtok": {"input": self.price.input, "output": self.price.output,
                                       "source": self.price_source},
                    "waited_s": round(u.waited_s, 3), "breaker_opened": self.breaker.opened,
                    "stopped": self.stopped, "errors": dict(u.errors), "response_format": self.formats.summary()}

    # ---- internals ---------------------------------------------------------------------------------------------
    def _key(self, body: dict) -> str:
        return cache_key(endpoint=self.endpoint, body=body)

    def _follow(self, flight: _Flight) -> ChatResult:
        flight.done.wait()
        with self._lock:
            self.usage.coalesced += 1
        if flight.error is not None:
            e = flight.error
            if isinstance(e, BudgetExhausted):
                raise BudgetExhausted(e.detail)
            if isinstance(e, JudgeUnavailable):
                raise JudgeUnavailable(e.reason, e.detail)
            raise e
        r = flight.result
        return ChatResult(r.content, r.prompt_tokens, r.completion_tokens, r.cached_tokens, 0, 0, True)

    def _call_negotiated(self, messages: list[dict], response_format: dict | None,
                         decoding: Decoding | None = None) -> ChatResult:
        """Send in the negotiated response-format mode; a rejected mode moves the whole run to the next one."""
        if response_format is None:  # plain text: nothing to negotiate
            return self._call_with_retries(self.request_body(messages, None, decoding), decoding)
        t0 = time.perf_counter()
        calls = 0
        while True:
            mode = self.formats.mode
            try:
                result = self._call_with_retries(self.request_body(messages, response_format, decoding, mode),
                                                 decoding, mode)
            except FormatRejected as e:
                calls += e.calls
                if self.formats.reject(mode, e.why):
                    continue
                why = f"the endpoint rejected every response format (last, {mode}: {e.why})"
                self._stop("api_error", why)
                raise JudgeUnavailable("api_error", why, calls=calls) from None
            return replace(result, calls=result.calls + calls, latency_ms=round((time.perf_counter() - t0) * 1000))

    def _call_with_retries(self, body: dict, decoding: Decoding | None = None,
                           mode: str = "json_schema") -> ChatResult:
        """One request body, retried; reserved and charged on the messages as sent (schema included)."""
        calls = 0
        t0 = time.perf_counter()
        max_out = (decoding or self.decoding).max_completion_tokens
        worst_tokens = count_message_tokens(body["messages"])
        worst = self.cost_usd(worst_tokens, max_out)

        def attempt() -> tuple[dict, tuple[int, int, int] | None]:
            nonlocal calls
            probe = self.breaker.gate(lambda: self._stopped is not None)
            try:
                self._reserve(worst)
                calls += 1
                return self._attempt(body, worst, mode)
            finally:
                if probe:
                    self.breaker.end_probe()

        try:
            reply, tokens = self.retrying()(attempt)
        except BudgetExhausted:
            raise
        except FormatRejected as e:
            e.calls = calls
            raise
        except JudgeUnavailable as e:
            raise JudgeUnavailable(e.reason, f"{e.detail} (after {calls} attempt(s))", calls=calls) from None
        except openai.APIStatusError as e:
            raise JudgeUnavailable("api_error", f"HTTP {e.status_code} after {calls} attempt(s)") from None
        except (openai.APIConnectionError, MalformedResponse) as e:
            raise JudgeUnavailable("api_error", f"{type(e).__name__} after {calls} attempt(s)") from None
        pt, ct, cached = tokens or (worst_tokens, max_out, 0)  # as charged
        return ChatResult(content=reply["_content"], prompt_tokens=pt, completion_tokens=ct, cached_tokens=cached,
                          latency_ms=round((time.perf_counter() - t0) * 1000), calls=calls, from_cache=False,
                          finish_reason=reply.get("_finish_reason"), mode=mode)

    def _attempt(self, body: dict, worst: float,
                 mode: str = "json_schema") -> tuple[dict, tuple[int, int, int] | None]:
        """One HTTP call, already reserved at ``worst``: settled here whatever happens."""
        try:
            reply = self._post(body)
        except openai.APIStatusError as e:
            self._settle(worst, 0.0)  # an error answer is not billed
            code = error_code(e)
            if e.status_code == 402 or (e.status_code == 429 and code in OUT_OF_CREDIT_CODES):
                why = f"HTTP {e.status_code}" + (f" {code}" if code else "") + " from the endpoint (out of credit)"
                self._stop("budget_exhausted", f"{why}: budget exhausted")
                self.count_error(f"http_{e.status_code}" + (f"_{code}" if code else ""))
                raise BudgetExhausted(why) from None
            self.count_error(f"http_{e.status_code}")
            if e.status_code in FATAL_STATUSES:
                self._stop("api_error", f"HTTP {e.status_code} from the endpoint: {FATAL_STATUSES[e.status_code]}")
            why = rejection_reason(e.status_code, error_text(e))  # the request's shape refused: grader.formats
            if why:
                raise FormatRejected(mode, why) from None  # not retried: the same shape meets the same answer
            if e.status_code == 400:
                self._rejected()
            raise
        except (openai.APIConnectionError, MalformedResponse) as e:  # APITimeoutError is a connection error
            # The provider may have finished (and billed) the work after we stopped listening: worst case.
            self._settle(worst, worst, unmetered=True)
            self.count_error(type(e).__name__)
            dead = self.breaker.failure()
            if dead:
                self._stop("api_error", dead)
            raise
        except BaseException:
            self._settle(worst, worst, unmetered=True)
            raise
        tokens = usable_usage(reply.get("usage"))
        self._settle(worst, self.cost_usd(*tokens) if tokens else worst, tokens, unmetered=tokens is None)
        self.breaker.success()
        with self._lock:
            self._rejected_streak = 0
        return reply, tokens

    def _post(self, body: dict) -> dict:
        # The SDK's own POST (its transport, auth, headers and typed errors) with the body as built: create() would
        # re-walk the whole json_schema and messages through its TypedDict transform, over a third of the harness's
        # CPU per call, for a body that is already plain JSON. We read and parse the reply ourselves: so that the
        # call has a total deadline (a per-read timeout never ends a body that trickles in), and so that a garbled
        # body becomes a retryable error rather than a crash.
        deadline = time.monotonic() + self.timeout_s
        raw = self.sdk.post("/chat/completions", body=body, cast_to=httpx2.Response, options=_STREAM)
        try:
            chunks = []
            for chunk in raw.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise openai.APITimeoutError(request=raw.request)
        except httpx2.TimeoutException:
            raise openai.APITimeoutError(request=raw.request) from None
        except (httpx2.TransportError, httpx2.StreamError, httpx2.DecodingError):
            raise openai.APIConnectionError(request=raw.request) from None
        finally:
            raw.close()
        try:
            reply = json.loads(b"".join(chunks))
            message = reply["choices"][0]["message"]
            reply["_content"] = content_text(message.get("content"))
            reply["_finish_reason"] = reply["choices"][0].get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise MalformedResponse("response body is not a chat completion") from None
        return reply

    def _reserve(self, worst: float) -> None:
        with self._lock:
            self._check_budget_locked(worst, "next call")
            self._reserved_usd += worst
            self.usage.calls += 1

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

    def _settle(self, reserved: float, charge: float, tokens: tuple[int, int, int] | None = None,
                unmetered: bool = False) -> None:
        """Release a reservation and record what the call cost in ONE locked step: between two steps another
        thread's reservation would see neither, and slip past the budget."""
        with self._lock:
            u = self.usage
            self._reserved_usd = max(self._reserved_usd - reserved, 0.0)
            u.spent_usd += charge
            if tokens:
                u.prompt_tokens += tokens[0]
                u.completion_tokens += tokens[1]
                u.cached_tokens += tokens[2]
            if unmetered:
                u.charged_worst_case += 1

    def _rejected(self) -> None:
        with self._lock:
            self._rejected_streak += 1
            if self._rejected_streak >= UNUSABLE_AFTER and not self._stopped:
                self._stopped = ("api_error", f"endpoint unusable: {self._rejected_streak} consecutive calls were "
                                              "rejected (HTTP 400) with no success between")

    def _stop(self, reason: str, why: str) -> None:
        with self._lock:
            self._stopped = self._stopped or (reason, why)

    def _count_retry(self) -> None:
        with self._lock:
            self.usage.retries += 1

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gives one, else exponential backoff with full jitter; never longer than
        ``max_wait_s``, and never past the run's ``max_total_wait_s`` (calling stops instead)."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = retry_after_s(exc)
        if retry_after is not None:
            wait = min(retry_after, self.max_wait_s)
        else:
            wait = min(random.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (state.attempt_number - 1))),
                       self.max_wait_s)
        what = describe(exc) + (f", Retry-After {retry_after:g}s" if retry_after is not None else "")
        with self._lock:
            if self.usage.waited_s + wait > self.max_total_wait_s:
                if not self._stopped:
                    self._stopped = ("api_error", f"the run has waited {self.usage.waited_s:.0f}s for the endpoint "
                                                  f"(limit {self.max_total_wait_s:g}s); last: {what}")
                return 0.0  # the next attempt finds calling stopped
            self.usage.waited_s += wait
            announce = wait >= ANNOUNCE_WAIT_S and time.monotonic() - self._announced_at > 5.0
            if announce:
                self._announced_at = time.monotonic()
        if announce:
            self._log(f"waiting {wait:.1f}s before retrying ({what}); "
                      f"waited {self.usage.waited_s:.0f}s of at most {self.max_total_wait_s:g}s this run")
        return wait
