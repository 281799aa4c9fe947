"""Response-format negotiation: ask for the strictest structured output the endpoint accepts, once per run.

OpenAI-compatible engines differ in what ``response_format`` they take. The harness asks, in order, for:

* ``json_schema``: strict structured output (OpenAI, vLLM, recent llama.cpp and Ollama): the reply is the schema.
* ``json_object``: JSON mode with the schema attached as ``response_format.schema`` (llama-cpp-python's server
  turns it into a grammar; an engine that ignores the attachment still has the schema in the prompt).
* ``text``: no ``response_format`` at all; the schema is in the prompt and the reply is only validated.

The schema is appended to the system message in the last two modes (the same bytes for every sample, so prompt
caching still applies). Every mode's reply goes through the same validation and single re-ask; the cache key names
the mode, so a judgment from a weaker mode is never mistaken for a strict one.

A rejection is an HTTP 422, or a 400 or 500 whose body names the request's shape (``response_format``,
``json_schema``, ...): a 400 that does not is left to its sample (e.g. a prompt too long for the context). A rejected
mode is given up for the whole run, not retried: every retry would meet the same answer.
"""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import Callable

MODES = ("json_schema", "json_object", "text")
SHAPE_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar", "guided")
"""Words in an error body that say the request's structured-output shape is what was refused."""


class FormatRejected(Exception):
    """The endpoint refused the request's response-format shape; retrying the same shape is pointless."""

    def __init__(self, mode: str, why: str):
        super().__init__(f"{mode}: {why}")
        self.mode, self.why = mode, why
        self.calls = 0  # requests spent in this mode before the rejection, set by the client


def rejection_reason(status: int, body: object) -> str | None:
    """Why an error reply rejects the request's response format, or None if it does not (one line, for people).

    422 is a request-validation error (FastAPI engines list the offending field); a 400 or 500 counts only when
    its body names the shape, since both also carry per-sample problems (context length, a crash in decoding).
    """
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
    named = any(w in text.lower() for w in SHAPE_WORDS)
    if status == 422 or (status in (400, 500) and named):
        detail = " ".join(text.split())
        return f"HTTP {status}: {detail[:200]}" + ("..." if len(detail) > 200 else "")
    return None


def schema_instruction(schema: dict) -> str:
    """What the prompt says in the modes where the endpoint does not enforce the schema itself."""
    return ("\n# Reply format\nReply with only one JSON object, no other text, that matches this JSON schema:\n"
            + json.dumps(schema.get("schema", schema), ensure_ascii=False, separators=(",", ":")) + "\n")


def shape_messages(mode: str, messages: list[dict], schema: dict) -> list[dict]:
    """The messages as sent in ``mode``: unchanged for json_schema, else the schema appended to the system message."""
    if mode == "json_schema":
        return messages
    extra = schema_instruction(schema)
    if messages and messages[0].get("role") == "system":
        return [{**messages[0], "content": messages[0]["content"] + extra}, *messages[1:]]
    return [{"role": "system", "content": extra.lstrip()}, *messages]


def response_format_field(mode: str, schema: dict) -> dict | None:
    """The request's ``response_format`` in ``mode`` (None: send no such field). ``schema`` is the strict
    ``{"name", "strict", "schema"}`` object that json_schema mode sends as is."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": schema}
    if mode == "json_object":
        return {"type": "json_object", "schema": schema.get("schema", schema)}
    return None


def mode_fields(mode: str, schema: dict, max_completion_tokens: int) -> dict:
    """The request fields that depend on the mode: ``response_format`` (absent in text mode) and, in the weaker
    modes, ``max_tokens`` beside ``max_completion_tokens``: engines that lack json_schema also predate the newer
    name of the completion cap (llama-cpp-python's server reads only ``max_tokens``) and would otherwise generate
    until the context is full."""
    fields: dict = {}
    rf = response_format_field(mode, schema)
    if rf is not None:
        fields["response_format"] = rf
    if mode != "json_schema":
        fields["max_tokens"] = max_completion_tokens
    return fields


def key_material(mode: str, schema: dict) -> dict:
    """What the cache key records for the format: the schema alone in json_schema mode (so caches written before
    negotiation existed stay valid), the schema and the mode otherwise."""
    return schema if mode == "json_schema" else {"mode": mode, "schema": schema}


def extract_json_object(text: str) -> str:
    """The JSON object in a free-text reply: the text itself, or the span from its first ``{`` to its last ``}``
    (models in text mode wrap JSON in code fences or a sentence). Validation happens afterwards, as for any reply."""
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


@dataclass(frozen=True)
class Switch:
    frm: str
    to: str
    why: str


class FormatNegotiator:
    """The run's current mode, shared by every thread of one client; it only ever moves down ``MODES``."""

    def __init__(self, start: str = "json_schema", warn: Callable[[str], None] | None = None):
        if start not in MODES:
            raise ValueError(f"unknown response-format mode {start!r} (one of {', '.join(MODES)})")
        self._lock = threading.Lock()
        self._mode = start
        self.start = start
        self.switches: list[Switch] = []
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr))

    @property
    def mode(self) -> str:
        return self._mode

    def modes_from_current(self) -> tuple[str, ...]:
        """The current mode and the weaker ones after it: where an earlier run's cached replies may be."""
        mode = self._mode
        return MODES[MODES.index(mode):]

    def reject(self, mode: str, why: str) -> bool:
        """``mode`` was refused. Move to the next mode (once, whichever thread reports first) and say so on stderr.
        True when a mode other than ``mode`` is now current (send again with it), False when none is left."""
        with self._lock:
            if self._mode != mode:
                return MODES.index(self._mode) > MODES.index(mode)  # another thread already moved on
            nxt = MODES.index(mode) + 1
            if nxt >= len(MODES):
                return False
            self._move(MODES[nxt], why)
        self._warn(f"note: the endpoint rejected response format {mode} ({why}); using {MODES[nxt]} "
                   + ("with the schema attached and in the prompt" if MODES[nxt] == "json_object"
                      else "with the schema in the prompt") + " for the rest of the run")
        return True

    def adopt(self, mode: str, why: str) -> None:
        """Move forward to ``mode`` without a rejection (an earlier run's cached replies in that mode)."""
        with self._lock:
            if MODES.index(mode) <= MODES.index(self._mode):
                return
            self._move(mode, why)
        self._warn(f"note: response format {mode}, as negotiated with this endpoint by an earlier run ({why})")

    def _move(self, to: str, why: str) -> None:
        self.switches.append(Switch(self._mode, to, why))
        self._mode = to

    def summary(self) -> dict:
        """For the run summary and rubric.json: the mode used, how it was arrived at, and what was sent."""
        with self._lock:
            mode = self._mode
            return {"mode": mode, "started_as": self.start, "schema_in_prompt": mode != "json_schema",
                    "enforced_by_endpoint": {"json_schema": "strict schema", "json_object": "JSON (schema attached)",
                                             "text": "nothing: validated only"}[mode],
                    "switches": [{"from": s.frm, "to": s.to, "why": s.why} for s in self.switches]}
