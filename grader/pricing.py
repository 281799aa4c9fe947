"""Model list prices and token counting that works offline.

Prices are USD per 1M tokens, OpenAI list prices as read on PRICES_READ_ON; re-check before relying on them (or pass
``--price-per-mtok IN,OUT``). The Batch API bills half of these. A model is priced only by an exact entry: a dated
snapshot is listed under its own name because snapshots of one family are not priced alike (gpt-4o-2024-05-13 costs
twice gpt-4o). Anything else is priced at UNKNOWN_MODEL_PRICE, an upper bound of every listed price, so a budget
check errs towards stopping early, never towards overspending.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from dataclasses import dataclass

PRICES_READ_ON = "2025-06-01"


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M completion tokens (reasoning tokens included)
    cached_input: float  # USD per 1M prompt tokens served from the provider's prompt cache


def _family(price: Price, *names: str) -> dict[str, Price]:
    return {name: price for name in names}


PRICES: dict[str, Price] = {
    **_family(Price(0.15, 0.60, 0.075), "gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    **_family(Price(2.50, 10.00, 1.25), "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"),
    "gpt-4o-2024-05-13": Price(5.00, 15.00, 5.00),
    **_family(Price(0.10, 0.40, 0.025), "gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
    **_family(Price(0.40, 1.60, 0.10), "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    **_family(Price(2.00, 8.00, 0.50), "gpt-4.1", "gpt-4.1-2025-04-14"),
    **_family(Price(15.00, 60.00, 7.50), "o1", "o1-2024-12-17", "o1-preview", "o1-preview-2024-09-12"),
    **_family(Price(150.00, 600.00, 150.00), "o1-pro", "o1-pro-2025-03-19"),
    **_family(Price(1.10, 4.40, 0.55), "o1-mini", "o1-mini-2024-09-12", "o3-mini", "o3-mini-2025-01-31"),
    **_family(Price(10.00, 40.00, 2.50), "o3", "o3-2025-04-16"),
    **_family(Price(1.10, 4.40, 0.275), "o4-mini", "o4-mini-2025-04-16"),
    **_family(Price(75.00, 150.00, 37.50), "gpt-4.5-preview", "gpt-4.5-preview-2025-02-27"),
    **_family(Price(10.00, 30.00, 10.00), "gpt-4-turbo", "gpt-4-turbo-2024-04-09"),
    "gpt-4": Price(30.00, 60.00, 30.00),
    **_family(Price(0.50, 1.50, 0.50), "gpt-3.5-turbo", "gpt-3.5-turbo-0125"),
}
UNKNOWN_MODEL_PRICE = Price(max(p.input for p in PRICES.values()), max(p.output for p in PRICES.values()),
                            max(p.input for p in PRICES.values()))
"""Every listed price's maximum, input and output separately: an upper bound for a model not listed."""
BATCH_DISCOUNT = 0.5


def price_for(model: str) -> tuple[Price, bool]:
    """The model's list price and whether it is listed; a model (or snapshot) not listed gets the upper bound."""
    price = PRICES.get(model)
    return (price, True) if price is not None else (UNKNOWN_MODEL_PRICE, False)


def parse_price_per_mtok(text: str) -> Price:
    """``"IN,OUT"`` (USD per 1M prompt, completion tokens) as a Price; cached prompt tokens at the input price."""
    try:
        usd_in, usd_out = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError("expected IN,OUT in USD per 1M tokens, e.g. 0.15,0.60") from None
    if not all(math.isfinite(v) and v >= 0 for v in (usd_in, usd_out)):
        raise ValueError("prices must be finite and not negative")
    return Price(usd_in, usd_out, usd_in)


def price_cost(p: Price, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
               batch: bool = False) -> float:
    uncached = max(prompt_tokens - cached_tokens, 0)
    usd = (uncached * p.input + min(cached_tokens, prompt_tokens) * p.cached_input + completion_tokens * p.output) / 1e6
    return usd * (BATCH_DISCOUNT if batch else 1.0)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
             batch: bool = False) -> float:
    return price_cost(price_for(model)[0], prompt_tokens, completion_tokens, cached_tokens, batch)


# ---- token counting --------------------------------------------------------------------------------------------
ESTIMATE_BYTES_PER_TOKEN = 3.0
"""Fallback when tiktoken's encoding file is not in its cache (tiktoken downloads it at first use; we don't: put
the file in TIKTOKEN_CACHE_DIR for exact counts): one token per 3 UTF-8
bytes, rounded up. English prose averages about 4 bytes per token with o200k_base, so this over-counts by roughly a
third: conservative for a budget check. Reported as ``token_count_method: "estimate"``."""

_lock = threading.Lock()
_encoder: object | None = None
_method: str | None = None


ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
ENCODING_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken_ext/openai_public.py


def _encoding_file_cached() -> bool:
    """Is a valid o200k_base file already in tiktoken's own cache? (tiktoken's load.py: same directory and file name
    rules, same hash.)

    Checked first because tiktoken would otherwise download the file, with no timeout, when it is missing or fails
    its hash: on a network that drops packets instead of refusing them, the first token count would hang the run.
    We never download at run time.
    """
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get(
        "DATA_GYM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "data-gym-cache")))
    path = os.path.join(cache_dir, hashlib.sha1(ENCODING_URL.encode()).hexdigest()) if cache_dir else ""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest() == ENCODING_SHA256
    except OSError:
        return False


def _load_encoder() -> None:
    global _encoder, _method
    with _lock:
        if _method is not None:
            return
        _encoder, _method = None, "estimate"
        if not _encoding_file_cached():
            return
        try:
            import tiktoken

            _encoder = tiktoken.get_encoding("o200k_base")
            _method = "tiktoken:o200k_base"
        except Exception:  # anything else wrong with tiktoken: degrade to the documented estimate
            _encoder, _method = None, "estimate"


def token_count_method() -> str:
    _load_encoder()
    return _method or "estimate"


def count_tokens(text: str) -> int:
    _load_encoder()
    if _encoder is not None:
        return len(_encoder.encode(text, disallowed_special=()))
    return math.ceil(len(text.encode("utf-8")) / ESTIMATE_BYTES_PER_TOKEN)


def count_message_tokens(messages: list[dict]) -> int:
    """Prompt tokens of a chat request: content plus ~4 tokens of framing per message and 3 for the reply primer."""
    return sum(count_tokens(content_text(m.get("content"))) + 4 for m in messages) + 3


def content_text(content: object) -> str:
    """A message's text: a string as is, a list of content parts joined, anything else empty."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
