"""Prices and offline token counting."""
from __future__ import annotations

import hashlib
import importlib
import math

import pytest

from grader import pricing


def test_cost_uses_list_prices_cached_input_and_batch_discount():
    # gpt-4o-mini: $0.15 / 1M input, $0.075 / 1M cached input, $0.60 / 1M output
    assert pricing.cost_usd("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert pricing.cost_usd("gpt-4o-mini", 1_000_000, 1_000_000, cached_tokens=400_000) == pytest.approx(
        0.6 * 0.15 + 0.4 * 0.075 + 0.60)
    assert pricing.cost_usd("gpt-4o-mini-2024-07-18", 0, 1_000_000, batch=True) == pytest.approx(0.30)


def test_unknown_model_is_priced_at_the_most_expensive_known_one():
    price, known = pricing.price_for("some-new-model")
    assert not known and price.output == max(p.output for p in pricing.PRICES.values())


def test_without_the_encoding_file_counting_degrades_to_the_documented_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: no encoding file, and no download attempted
    importlib.reload(pricing)
    try:
        assert pricing.token_count_method() == "estimate"
        text = "Refunds now return HTTP 422 — ünïcode counts by bytes."
        assert pricing.count_tokens(text) == math.ceil(len(text.encode("utf-8")) / 3)
        msgs = [{"role": "system", "content": "abc"}, {"role": "user", "content": "defg"}]
        assert pricing.count_message_tokens(msgs) == (1 + 4) + (2 + 4) + 3
    finally:
        monkeypatch.undo()
        importlib.reload(pricing)


def test_a_corrupt_cached_encoding_file_degrades_without_handing_it_to_tiktoken(tmp_path, monkeypatch):
    name = hashlib.sha1(pricing.ENCODING_URL.encode()).hexdigest()
    (tmp_path / name).write_bytes(b"not a bpe file")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    importlib.reload(pricing)
    import tiktoken
    # tiktoken would delete a file that fails its hash and download it again (with no timeout): never let it
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: pytest.fail("tiktoken must not be asked"))
    try:
        assert pricing.token_count_method() == "estimate"
        assert (tmp_path / name).read_bytes() == b"not a bpe file"
    finally:
        monkeypatch.undo()
        importlib.reload(pricing)
