"""Model list prices and token counting that works offline.

Prices are USD per 1M tokens, OpenAI list prices as last read on PRICES_READ_ON; re-check before relying on them.
The Batch API bills half of these. Unknown models are priced at the most expensive entry, so a budget check
errs towards stopping early, never towards overspending.
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
    output: float  # USD per 1M completion tokens
    cached_input: float  # USD per 1M prompt tokens served from the provider's prompt cache


PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4o": Price(2.50, 10.00, 1.25),
}
BATCH_DISCOUNT = 0.5


def price_for(model: str) -> tuple[Price, bool]:
    """The model's price and whether it is known; dated snapshots (gpt-4o-mini-2024-07-18) match their family."""
    for name in sorted(PRICES, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            return PRICES[name], True
    worst = max(PRICES.values(), key=lambda p: p.output)
    return worst, False


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
             batch: bool = False) -> float:
    p, _ = price_for(model)
    uncached = max(prompt_tokens - cached_tokens, 0)
    usd = (uncached * p.input + cached_tokens * p.cached_input + completion_tokens * p.output) / 1e6
    return usd * (BATCH_DISCOUNT if batch else 1.0)


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
    return sum(count_tokens(m["content"]) + 4 for m in messages) + 3
