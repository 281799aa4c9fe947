"""What an endpoint's answer means: usable usage counters, which errors are worth a retry, error codes, Retry-After.

Pure functions over replies and the SDK's exceptions, shared by the online client and the Batch API path.
"""
from __future__ import annotations

import math

import openai

from .types import JudgeUnavailable

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
OUT_OF_CREDIT_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "access_terminated"}
"""429 error codes that no wait will cure (OpenAI answers an exhausted account with 429 insufficient_quota, not 402):
they stop all calls like a 402."""


def usable_usage(usage: object) -> tuple[int, int, int] | None:
    """``(prompt_tokens, completion_tokens, cached_prompt_tokens)`` from a reply's reported usage, or None when the
    usage is missing or its counters are not counts (null, negative, text): such a reply is charged its worst case."""
    if not isinstance(usage, dict):
        return None
    pt, ct = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (pt, ct)):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) and not isinstance(cached, bool) and 0 <= cached <= pt else 0
    return pt, ct, cached


def parse_usage(usage: object) -> tuple[int, int, int]:
    """Like ``usable_usage`` but zeros when unusable (for token counts shown to the user, never for the spend)."""
    return usable_usage(usage) or (0, 0, 0)


class MalformedResponse(Exception):
    """A 2xx whose body is not a chat completion: retried like a transport error."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, JudgeUnavailable):
        return False
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429 and error_code(exc) in OUT_OF_CREDIT_CODES:
            return False
        return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
    return isinstance(exc, (openai.APIConnectionError, MalformedResponse))


def error_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # a streamed or unread body: the SDK's message still names the error
        return str(exc)


def error_code(exc: BaseException) -> str | None:
    """The ``error.code`` (or ``error.type``) of an OpenAI-style error body."""
    body = getattr(exc, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None
    code = err.get("code") or err.get("type")
    return code if isinstance(code, str) else None


def describe(exc: BaseException | None) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def retry_after_s(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            v = float(value) * scale
        except ValueError:
            continue  # an HTTP-date Retry-After: fall back to backoff
        if math.isfinite(v):
            return max(v, 0.0)
    return None
