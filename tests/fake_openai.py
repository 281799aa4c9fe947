"""A real, scriptable OpenAI-compatible HTTP server for tests and benchmarks (standard library only).

The official ``openai`` SDK (3.x, built on httpx2) is not intercepted by httpx-mocking libraries, so the
tests talk to this server over loopback instead::

    with FakeOpenAI(latency_s=0.0) as server:
        server.script(RateLimit(0.01), Valid())          # consumed one per chat request, in arrival order
        client = openai.OpenAI(api_key="test", base_url=server.url, max_retries=0)
        ...
        assert len(server.chat_calls()) == 2

Endpoints (all under ``/v1``; the prefix is optional):

* ``POST /chat/completions``  -> the next action: ``responder(body)`` if set and not None, else the scripted
  queue, else ``Valid()``.
* ``POST /files`` (multipart), ``GET /files/{id}``, ``GET /files/{id}/content``
* ``POST /batches``, ``GET /batches``, ``GET /batches/{id}``, ``POST /batches/{id}/cancel``.
  A batch is ``validating`` when created, ``in_progress`` on retrieves before ``batch_polls_to_complete``
  and ``completed`` on that retrieve; completion runs every input line through the same action logic
  (without latency or sleeping).  2xx lines go to the output file, the others to the error file.

Run standalone: ``python -m tests.fake_openai --port 8089 --latency 0.3``.
"""

from __future__ import annotations

import argparse
import email.message
import json
import socket
import sys
import threading
import time
import traceback
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

__all__ = [
    "FakeOpenAI", "Recorded",
    "Valid", "RateLimit", "ServerError", "Drop", "Malformed", "Content", "PaymentRequired", "Slow", "Status",
    "NoUsage", "NullCounter", "NullMessage", "ContentParts", "InsufficientQuota", "Html", "Trickle",
    "default_scores", "schema_dimensions", "schema_label_enum", "user_text",
    "RejectFormats", "request_schema", "response_format_mode",
]


# --------------------------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Valid:
    """200 chat.completion whose content is ``json.dumps({"rationale", "scores", "injection_attempt"})`` (for a
    request without ``response_format``, a plain-text generation: ``"Fake completion <crc32 of the user text>..."``).

    ``scores=None`` derives them from the request's JSON schema via the server's ``scores_fn``;
    ``usage=(prompt_tokens, completion_tokens)`` overrides the server's usage.
    """
    scores: Optional[dict] = None
    rationale: str = "Deterministic fake judgment."
    injection_attempt: bool = False
    usage: Optional[tuple[int, int]] = None


@dataclass
class RateLimit:
    """429 with ``Retry-After`` (seconds) and ``retry-after-ms`` headers unless ``retry_after`` is None."""
    retry_after: Optional[float] = 0.05


@dataclass
class ServerError:
    status: int = 500


@dataclass
class Drop:
    """Close the connection without sending any response."""


@dataclass
class Malformed:
    """200 whose body is not JSON.  With the default ``application/json`` content type the SDK raises
    ``json.JSONDecodeError``; with ``text/html`` it silently returns the text as a ``str``."""
    body: str = "<html>oops</html>"
    content_type: str = "application/json"


@dataclass
class Content:
    """200 with a valid chat.completion envelope whose message content is exactly ``text``."""
    text: str
    usage: Optional[tuple[int, int]] = None
    finish_reason: str = "stop"


@dataclass
class PaymentRequired:
    message: str = "budget exhausted"


@dataclass
class Slow:
    """Sleep ``seconds`` (on top of the server latency), then respond with ``then``."""
    seconds: float
    then: Any = field(default_factory=Valid)


@dataclass
class Status:
    """Anything else.  ``body``: dict/list (sent as JSON), str/bytes (sent raw), or None (an OpenAI error body)."""
    code: int
    body: Any = None
    headers: Optional[dict] = None


@dataclass
class NoUsage:
    """``then`` (a Valid or Content) with the ``usage`` object left out of the reply; the work is still done."""
    then: Any = field(default_factory=Valid)


@dataclass
class NullCounter:
    """``then`` with ``usage[counter]`` sent as null."""
    counter: str = "completion_tokens"
    then: Any = field(default_factory=Valid)


@dataclass
class NullMessage:
    """A 200 chat.completion whose ``choices[0].message`` is null (usage still reported)."""


@dataclass
class ContentParts:
    """``then`` with its message content sent as a list of text parts (split in two) instead of a string."""
    then: Any = field(default_factory=Valid)


@dataclass
class InsufficientQuota:
    """OpenAI's real out-of-credit answer: 429 with code ``insufficient_quota`` (optionally a Retry-After)."""
    retry_after: Optional[float] = None


@dataclass
class Html:
    """200 with an HTML page (a proxy's or captive portal's), ``text/html``."""
    body: str = "<html><body><h1>Service temporarily unavailable</h1></body></html>"


@dataclass
class Trickle:
    """``then``'s full headers at once, then its body ``chunk`` bytes every ``interval_s`` (forever if ``forever``:
    the body is padded with spaces without end)."""
    chunk: int = 25
    interval_s: float = 0.4
    then: Any = field(default_factory=Valid)
    forever: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict            # lower-cased header names
    t_start: float           # time.monotonic() when the request headers had been read
    t_end: Optional[float] = None   # time.monotonic() after the response was written (or the socket dropped)
    status: Optional[int] = None    # None for Drop (and until the response is written)
    action: Optional[str] = None    # action class name for chat calls, e.g. "files.create" for the others
    billed: Optional[tuple[int, int]] = None  # (prompt, completion) tokens of a completion the server produced,
    #                                           whether or not the reply showed usage or the client read it


# --------------------------------------------------------------------------------------------------------------
# Helpers for deriving a judgment from a request
# --------------------------------------------------------------------------------------------------------------

def user_text(body: dict) -> str:
    """Text of the last user message (content parts joined)."""
    for msg in reversed((body or {}).get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _content_text(msg.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def request_schema(body: dict) -> Optional[dict]:
    """The JSON schema a request asks for, in any response-format mode: ``response_format.json_schema.schema``
    (json_schema), ``response_format.schema`` (json_object with the schema attached), or a line of the system
    message that is a JSON schema (text mode, the schema in the prompt)."""
    rf = (body or {}).get("response_format")
    if isinstance(rf, dict):
        inner = rf.get("json_schema") if rf.get("type") == "json_schema" else rf
        schema = inner.get("schema") if isinstance(inner, dict) else None
        if isinstance(schema, dict):
            return schema
    for msg in (body or {}).get("messages") or []:
        if isinstance(msg, dict) and msg.get("role") == "system":
            for line in _content_text(msg.get("content")).splitlines():
                if line.startswith("{") and '"properties"' in line:
                    try:
                        return json.loads(line)
                    except ValueError:
                        pass
    return None


def response_format_mode(body: dict) -> str:
    """``json_schema``, ``json_object`` or ``text`` (no response_format): how a request asks for structure."""
    rf = (body or {}).get("response_format")
    return str(rf.get("type", "text")) if isinstance(rf, dict) else "text"


@dataclass
class RejectFormats:
    """A responder (``server.responder = RejectFormats(...)``) that refuses every request in one of ``modes``, the
    way engines that lack a structured-output mode do, and leaves the others to the queue / ``Valid()``.

    ``status`` picks the engine's style: 400 (OpenAI-style invalid parameter), 422 (a FastAPI validation error that
    lists the field) or 500 (llama-cpp-python: the request model's validation error, wrapped as a server error).
    ``rejected`` counts the refusals per mode."""
    modes: tuple = ("json_schema",)
    status: int = 500
    rejected: dict = field(default_factory=dict)

    def __call__(self, body: dict) -> Any:
        mode = response_format_mode(body)
        if mode not in self.modes:
            return None
        self.rejected[mode] = self.rejected.get(mode, 0) + 1
        if self.status == 422:
            return Status(422, {"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                                            "msg": "Input should be 'text' or 'json_object'", "input": mode}]})
        if self.status == 500:
            return Status(500, {"error": {"message": "1 validation error:\n  {'type': 'literal_error', 'loc': "
                                                     "('body', 'response_format', 'type'), 'msg': \"Input should be "
                                                     f"'text' or 'json_object'\", 'input': '{mode}'}}",
                                          "type": "internal_server_error", "param": None, "code": None}})
        return Status(self.status, _err(f"Invalid parameter: 'response_format' of type '{mode}' is not supported "
                                        "with this model.", "invalid_request_error", None, "response_format"))


def schema_dimensions(body: dict) -> dict[str, list]:
    """{dimension: allowed values} from the requested schema's properties.scores.properties (see request_schema)."""
    try:
        props = request_schema(body)["properties"]["scores"]["properties"]
    except (KeyError, TypeError):
        return {}
    dims: dict[str, list] = {}
    for key, spec in (props or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            dims[key] = list(spec["enum"])
        elif isinstance(spec.get("minimum"), int) and isinstance(spec.get("maximum"), int):
            dims[key] = list(range(spec["minimum"], spec["maximum"] + 1))
        else:
            dims[key] = [1, 2, 3, 4, 5]
    return dims


def schema_label_enum(body: dict) -> list:
    """The allowed values of response_format.json_schema.schema.properties.label.enum, or []."""
    try:
        enum = body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"]
    except (KeyError, TypeError):
        return []
    return list(enum) if isinstance(enum, list) else []


def default_scores(dimension: str, options: list, user_message: str) -> Any:
    """Deterministic per (dimension, user message): the same request always gets the same score."""
    return options[zlib.crc32(f"{dimension}\x00{user_message}".encode("utf-8")) % len(options)]


def _default_prompt_tokens(body: dict) -> int:
    return sum(len(_content_text(m.get("content"))) for m in (body or {}).get("messages") or []
               if isinstance(m, dict)) // 4


def _err(message: str, type_: str, code: Any = None, param: Any = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


# A rendered response: (status, headers, body bytes, content type).  None means "drop the connection".
_Rendered = Optional[tuple[int, dict, bytes, str]]


# --------------------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeOpenAI"

    def handle_error(self, request, client_address):  # noqa: D401 - quiet on client disconnects
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # silence
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- request / response primitives --------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, rec: Recorded, rendered: _Rendered) -> None:
        if rendered is None:
            self._drop(rec)
            return
        status, headers, body, ctype = rendered
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
                 f"x-request-id: {_new_id('req_')}"]
        for k, v in headers.items():
            lines.append(f"{k}: {v}")
        if self.close_connection:
            lines.append("Connection: close")
        rec.status = status
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:  # the client gave up (e.g. its timeout fired during Slow)
            self.close_connection = True
        rec.t_end = time.monotonic()

    def _drop(self, rec: Recorded) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        rec.status = None
        rec.t_end = time.monotonic()

    def _dispatch(self) -> None:
        fake = self.server.fake
        t_start = time.monotonic()
        parts = urlsplit(self.path)
        path = parts.path
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = Recorded(method=self.command, path=path, body=None, headers=headers, t_start=t_start)
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        ctype = headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            parsed: Any = None
        else:
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            rec.body = parsed
        fake._record(rec)
        route = path[3:] if path.startswith("/v1/") else path
        try:
            if self.command == "POST" and route == "/chat/completions":
                rec.action = "chat.completions"
                self._chat(fake, rec, parsed)
                return
            rendered = fake._route(self.command, route, parsed, raw, ctype, rec, parts.query)
        except Exception as exc:  # a bug in the fake must be visible, not a hang
            fake.errors.append(traceback.format_exc())
            rendered = _json_response(500, _err(f"fake server bug: {exc!r}", "server_error"))
        self._write(rec, rendered)

    def _chat(self, fake: "FakeOpenAI", rec: Recorded, body: Any) -> None:
        if not isinstance(body, dict):
            rec.action = "invalid_request"
            self._write(rec, _json_response(400, _err("We could not parse the JSON body of your request.",
                                                      "invalid_request_error")))
            return
        action = fake._next_action(body)
        rec.action = type(action).__name__
        if isinstance(action, Drop):
            self._drop(rec)
            return
        if fake.latency_s > 0:
            time.sleep(fake.latency_s)
        while isinstance(action, Slow):
            time.sleep(action.seconds)
            action = action.then
        try:
            rendered = fake._render(action, body, rec)
        except Exception as exc:
            fake.errors.append(traceback.format_exc())
            rendered = _json_response(500, _err(f"fake server bug: {exc!r}", "server_error"))
        if isinstance(action, Trickle) and rendered is not None:
            self._trickle(rec, rendered, action)
            return
        self._write(rec, rendered)

    def _trickle(self, rec: Recorded, rendered: tuple[int, dict, bytes, str], action: Trickle) -> None:
        status, _headers, body, ctype = rendered
        length = 10 ** 9 if action.forever else len(body)
        head = (f"HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n"
                "Connection: close\r\n\r\n").encode("latin-1")
        self.close_connection = True
        rec.status = status
        try:
            self.wfile.write(head)
            self.wfile.flush()
            sent = 0
            while sent < length:
                piece = body[sent:sent + action.chunk] if sent < len(body) else b" " * action.chunk
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
                if sent < length:
                    time.sleep(action.interval_s)
        except OSError:
            pass  # the client hung up
        rec.t_end = time.monotonic()


def _json_response(status: int, obj: Any, headers: Optional[dict] = None) -> tuple[int, dict, bytes, str]:
    return status, headers or {}, json.dumps(obj).encode("utf-8"), "application/json"


def _parse_multipart(raw: bytes, ctype: str) -> dict[str, tuple[Optional[str], bytes]]:
    """{field name: (filename or None, content)} for a multipart/form-data body."""
    m = email.message.Message()
    m["content-type"] = ctype
    boundary = m.get_param("boundary")
    if not boundary:
        raise ValueError("multipart body without a boundary")
    delim = b"--" + str(boundary).encode("latin-1")
    fields: dict[str, tuple[Optional[str], bytes]] = {}
    for part in raw.split(delim)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        hm = email.message.Message()
        for line in head.split(b"\r\n"):
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if sep:
                hm[name.strip()] = value.strip()
        fname = hm.get_param("name", header="content-disposition")
        if fname is None:
            continue
        filename = hm.get_param("filename", header="content-disposition")
        fields[str(fname)] = (str(filename) if filename is not None else None, content)
    return fields


# --------------------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------------------

class FakeOpenAI:
    """A threaded OpenAI-compatible server on 127.0.0.1 (ephemeral port unless ``port`` is given)."""

    def __init__(self, latency_s: float = 0.0,
                 scores_fn: Optional[Callable[[str, list, str], Any]] = None,
                 usage: tuple[Optional[Callable[[dict], int]], int] = (None, 60), *,
                 host: str = "127.0.0.1", port: int = 0, batch_polls_to_complete: int = 2) -> None:
        self.latency_s = latency_s
        self.batch_create_delay_s = 0.0  # batches.create creates the batch, then waits this long before answering
        self.scores_fn = scores_fn or default_scores          # (dimension, options, user_message) -> value
        self.prompt_tokens_fn = usage[0] or _default_prompt_tokens
        self.completion_tokens = usage[1]
        self.batch_polls_to_complete = batch_polls_to_complete
        self.responder: Optional[Callable[[dict], Any]] = None
        self.requests: list[Recorded] = []
        self.batch_requests: list[Recorded] = []              # one per batch input line, when a batch completes
        self.errors: list[str] = []                           # tracebacks of bugs inside the fake
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._batch_lock = threading.RLock()   # serializes batch state changes (never held with _lock inverted)
        self._conns: set = set()
        self._host, self._port = host, port
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> "FakeOpenAI":
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.fake = self
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"FakeOpenAI:{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # close keep-alive connections so no handler outlives the server
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0]) if self.url else 0

    # -- scripting ------------------------------------------------------------------------------------------

    def script(self, *actions: Any) -> "FakeOpenAI":
        """Append actions; each chat-completions request (HTTP or batch line) consumes one, in arrival order."""
        with self._lock:
            self._queue.extend(actions)
        return self

    def pending(self) -> int:
        """How many scripted actions have not been consumed yet."""
        with self._lock:
            return len(self._queue)

    def chat_calls(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if r.method == "POST" and r.path in ("/v1/chat/completions", "/chat/completions")]

    def billed(self) -> list[tuple[int, int]]:
        """(prompt, completion) tokens of every completion the server produced (HTTP or batch line), shown or not."""
        with self._lock:
            return [r.billed for r in [*self.requests, *self.batch_requests] if r.billed]

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _track(self, conn: Any, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _next_action(self, body: dict) -> Any:
        responder = self.responder
        if responder is not None:
            action = responder(body)
            if action is not None:
                return action
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Valid()

    # -- rendering actions ----------------------------------------------------------------------------------

    def _usage(self, body: dict, override: Optional[tuple[int, int]]) -> dict:
        if override is not None:
            pt, ct = override
        else:
            pt, ct = int(self.prompt_tokens_fn(body)), int(self.completion_tokens)
        return {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}

    def completion(self, body: dict, content: str, usage: Optional[tuple[int, int]] = None,
                   finish_reason: str = "stop") -> dict:
        """A chat.completion object for ``body`` with the given message content."""
        return {
            "id": _new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model") or "gpt-fake",
            "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None,
                                     "annotations": []}}],
            "usage": self._usage(body, usage), "system_fingerprint": "fp_fake", "service_tier": "default",
        }

    def judgment(self, body: dict, action: Optional[Valid] = None) -> dict:
        """The {"rationale", "scores", "injection_attempt"} a Valid action would return for ``body``; for a schema
        with a ``label`` enum (the refusal judge), {"rationale", "label"} with a label chosen like a score."""
        action = action or Valid()
        label_enum = schema_label_enum(body)
        if label_enum:
            return {"rationale": action.rationale, "label": self.scores_fn("label", label_enum, user_text(body))}
        scores = action.scores
        if scores is None:
            text = user_text(body)
            scores = {dim: self.scores_fn(dim, opts, text) for dim, opts in schema_dimensions(body).items()}
        return {"rationale": action.rationale, "scores": scores, "injection_attempt": action.injection_attempt}

    def _completion_obj(self, action: Any, body: dict) -> dict:
        """The chat.completion a (possibly wrapped) Valid / Content action produces, before any fault is applied."""
        if isinstance(action, (NoUsage, NullCounter, ContentParts, Trickle)):
            return self._completion_obj(action.then, body)
        if isinstance(action, Valid):
            if request_schema(body) is None:  # plain-text generation (no schema anywhere): a deterministic answer
                text = user_text(body)
                content = f"Fake completion {zlib.crc32(text.encode('utf-8')):08x} (seed {body.get('seed')})."
                return self.completion(body, content, action.usage)
            return self.completion(body, json.dumps(self.judgment(body, action)), action.usage)
        if isinstance(action, Content):
            return self.completion(body, action.text, action.usage, action.finish_reason)
        if isinstance(action, NullMessage):
            return self.completion(body, "")
        raise TypeError(f"{action!r} does not produce a completion")

    def _render(self, action: Any, body: dict, rec: Optional[Recorded] = None) -> _Rendered:
        """Turn a (non-Slow) action into (status, headers, body, content type); None for Drop."""
        if isinstance(action, (Valid, Content, NoUsage, NullCounter, NullMessage, ContentParts, Trickle)):
            obj = self._completion_obj(action, body)
            u = obj["usage"]
            if rec is not None:
                rec.billed = (u["prompt_tokens"], u["completion_tokens"])
            while isinstance(action, Trickle):
                action = action.then
            if isinstance(action, NoUsage):
                del obj["usage"]
            elif isinstance(action, NullCounter):
                u[action.counter] = None
            elif isinstance(action, NullMessage):
                obj["choices"][0]["message"] = None
            elif isinstance(action, ContentParts):
                text = obj["choices"][0]["message"]["content"]
                half = len(text) // 2
                obj["choices"][0]["message"]["content"] = [{"type": "text", "text": text[:half]},
                                                           {"type": "text", "text": text[half:]}]
            return _json_response(200, obj)
        if isinstance(action, InsufficientQuota):
            headers = {} if action.retry_after is None else {"Retry-After": f"{action.retry_after:g}"}
            return _json_response(429, _err("You exceeded your current quota, please check your plan and billing "
                                            "details.", "insufficient_quota", "insufficient_quota"), headers)
        if isinstance(action, Html):
            return 200, {}, action.body.encode("utf-8"), "text/html; charset=utf-8"
        if isinstance(action, RateLimit):
            headers = {}
            if action.retry_after is not None:
                headers = {"Retry-After": f"{action.retry_after:g}",
                           "retry-after-ms": str(int(round(action.retry_after * 1000)))}
            return _json_response(429, _err("Rate limit reached for requests (fake).", "rate_limit_exceeded",
                                            "rate_limit_exceeded"), headers)
        if isinstance(action, ServerError):
            msg = ("The server had an error while processing your request." if action.status != 503
                   else "The server is overloaded or not ready yet.")
            return _json_response(action.status, _err(msg, "server_error"))
        if isinstance(action, PaymentRequired):
            return _json_response(402, _err(action.message, "insufficient_quota", "insufficient_quota"))
        if isinstance(action, Malformed):
            return 200, {}, action.body.encode("utf-8"), action.content_type
        if isinstance(action, Status):
            headers = dict(action.headers or {})
            ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
            if action.body is None:
                return _json_response(action.code, _err(f"fake status {action.code}", "fake_status"), headers)
            if isinstance(action.body, (dict, list)):
                return action.code, headers, json.dumps(action.body).encode("utf-8"), ctype or "application/json"
            data = action.body if isinstance(action.body, bytes) else str(action.body).encode("utf-8")
            return action.code, headers, data, ctype or "text/plain; charset=utf-8"
        if isinstance(action, Slow):
            return self._render(action.then, body, rec)
        if isinstance(action, Drop):
            return None
        raise TypeError(f"unknown action {action!r}")

    # -- files and batches ------------------------------------------------------------------------------------

    def _route(self, method: str, route: str, body: Any, raw: bytes, ctype: str, rec: Recorded,
               query: str) -> _Rendered:
        segs = [s for s in route.split("/") if s]
        if segs[:1] == ["files"]:
            if method == "POST" and len(segs) == 1:
                rec.action = "files.create"
                return self._files_create(raw, ctype, rec)
            if method == "GET" and len(segs) == 2:
                rec.action = "files.retrieve"
                f = self.files.get(segs[1])
                return _json_response(200, self._file_obj(f)) if f else self._not_found("file", segs[1])
            if method == "GET" and len(segs) == 3 and segs[2] == "content":
                rec.action = "files.content"
                f = self.files.get(segs[1])
                if not f:
                    return self._not_found("file", segs[1])
                return 200, {}, f["data"], "application/octet-stream"
        if segs[:1] == ["batches"]:
            if method == "POST" and len(segs) == 1:
                rec.action = "batches.create"
                return self._batches_create(body)
            if method == "GET" and len(segs) == 1:
                rec.action = "batches.list"
                with self._batch_lock, self._lock:
                    data = [self._batch_obj(b) for b in self.batches.values()]
                return _json_response(200, {"object": "list", "data": data, "has_more": False,
                                            "first_id": data[0]["id"] if data else None,
                                            "last_id": data[-1]["id"] if data else None})
            if method == "GET" and len(segs) == 2:
                rec.action = "batches.retrieve"
                return self._batches_retrieve(segs[1])
            if method == "POST" and len(segs) == 3 and segs[2] == "cancel":
                rec.action = "batches.cancel"
                return self._batches_cancel(segs[1])
        if method == "GET" and segs == ["models"]:
            rec.action = "models.list"
            return _json_response(200, {"object": "list", "data": [
                {"id": "gpt-fake", "object": "model", "created": 0, "owned_by": "fake"}]})
        rec.action = "not_found"
        return _json_response(404, _err(f"Invalid URL ({method} /v1{route})", "invalid_request_error"))

    @staticmethod
    def _not_found(kind: str, ident: str) -> _Rendered:
        return _json_response(404, _err(f"No such {kind}: '{ident}'", "invalid_request_error",
                                        "resource_not_found" if kind == "file" else None, "id"))

    @staticmethod
    def _file_obj(f: dict) -> dict:
        return {k: f[k] for k in ("id", "object", "bytes", "created_at", "filename", "purpose", "status",
                                  "expires_at", "status_details")}

    def _new_file(self, data: bytes, filename: str, purpose: str) -> dict:
        f = {"id": _new_id("file-"), "object": "file", "bytes": len(data), "created_at": int(time.time()),
             "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
             "status_details": None, "data": data}
        with self._lock:
            self.files[f["id"]] = f
        return f

    def _files_create(self, raw: bytes, ctype: str, rec: Recorded) -> _Rendered:
        try:
            fields = _parse_multipart(raw, ctype)
        except ValueError as exc:
            return _json_response(400, _err(str(exc), "invalid_request_error"))
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if "file" not in fields:
            return _json_response(400, _err("Missing required parameter: 'file'.", "invalid_request_error",
                                            None, "file"))
        filename, data = fields["file"]
        rec.body = {"purpose": purpose, "file": {"filename": filename, "bytes": len(data)}}
        f = self._new_file(data, filename or "upload", purpose or "batch")
        return _json_response(200, self._file_obj(f))

    @staticmethod
    def _batch_obj(b: dict) -> dict:
        return {k: v for k, v in b.items() if not k.startswith("_")}

    def _batches_create(self, body: Any) -> _Rendered:
        if not isinstance(body, dict):
            return _json_response(400, _err("We could not parse the JSON body of your request.",
                                            "invalid_request_error"))
        for key in ("input_file_id", "endpoint", "completion_window"):
            if key not in body:
                return _json_response(400, _err(f"Missing required parameter: '{key}'.",
                                                "invalid_request_error", None, key))
        if body["input_file_id"] not in self.files:
            return self._not_found("file", body["input_file_id"])
        now = int(time.time())
        b = {"id": _new_id("batch_"), "object": "batch", "endpoint": body["endpoint"], "errors": None,
             "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
             "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": now,
             "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None, "completed_at": None,
             "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
             "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata"),
             "model": None, "usage": None, "_polls": 0}
        try:
            lines = self._batch_lines(b)
        except ValueError as exc:
            b.update(status="failed", failed_at=now, errors={"object": "list", "data": [exc.args[0]]})
            lines = []
        b["_lines"] = lines
        b["request_counts"]["total"] = len(lines)
        if lines and isinstance(lines[0].get("body"), dict):
            b["model"] = lines[0]["body"].get("model")
        with self._batch_lock:
            with self._lock:
                self.batches[b["id"]] = b
            if b["status"] != "failed" and self.batch_polls_to_complete <= 0:
                self._complete_batch(b)
            obj = self._batch_obj(b)
        if self.batch_create_delay_s > 0:  # created, but the client may have given up waiting for the answer
            time.sleep(self.batch_create_delay_s)
        return _json_response(200, obj)

    def _batch_lines(self, b: dict) -> list[dict]:
        data = self.files[b["input_file_id"]]["data"].decode("utf-8")
        lines, seen = [], set()
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise ValueError({"code": "invalid_json_line", "line": n, "param": None,
                                  "message": "This line is not parseable as valid JSON."}) from None
            if not isinstance(item, dict) or not {"custom_id", "method", "url", "body"} <= set(item):
                raise ValueError({"code": "invalid_request", "line": n, "param": None,
                                  "message": "Each line needs custom_id, method, url and body."})
            if item["url"] != b["endpoint"]:
                raise ValueError({"code": "mismatched_endpoint", "line": n, "param": "url",
                                  "message": f"The url {item['url']!r} does not match the batch endpoint."})
            if item["custom_id"] in seen:
                raise ValueError({"code": "duplicate_custom_id", "line": n, "param": "custom_id",
                                  "message": "The custom_id for this request is a duplicate of another request."})
            seen.add(item["custom_id"])
            lines.append(item)
        if not lines:
            raise ValueError({"code": "empty_file", "line": None, "param": None,
                              "message": "The batch input file is empty."})
        return lines

    def _batches_retrieve(self, batch_id: str) -> _Rendered:
        with self._batch_lock:
            return self._batches_retrieve_locked(batch_id)

    def _batches_retrieve_locked(self, batch_id: str) -> _Rendered:
        with self._lock:
            b = self.batches.get(batch_id)
        if b is None:
            return self._not_found("batch", batch_id)
        now = int(time.time())
        if b["status"] == "cancelling":
            b.update(status="cancelled", cancelled_at=now)
        elif b["status"] in ("validating", "in_progress"):
            b["_polls"] += 1
            if b["_polls"] >= self.batch_polls_to_complete:
                self._complete_batch(b)
            else:
                b.update(status="in_progress", in_progress_at=b["in_progress_at"] or now)
        return _json_response(200, self._batch_obj(b))

    def _batches_cancel(self, batch_id: str) -> _Rendered:
        with self._batch_lock:
            return self._batches_cancel_locked(batch_id)

    def _batches_cancel_locked(self, batch_id: str) -> _Rendered:
        with self._lock:
            b = self.batches.get(batch_id)
        if b is None:
            return self._not_found("batch", batch_id)
        if b["status"] not in ("validating", "in_progress"):
            return _json_response(409, _err(f"Cannot cancel a batch with status '{b['status']}'.",
                                            "invalid_request_error"))
        b.update(status="cancelling", cancelling_at=int(time.time()))
        return _json_response(200, self._batch_obj(b))

    def _complete_batch(self, b: dict) -> None:
        now = int(time.time())
        b.update(in_progress_at=b["in_progress_at"] or now, finalizing_at=now)
        out, err = [], []
        ok = failed = 0
        usage = {"input_tokens": 0, "output_tokens": 0}
        for item in b["_lines"]:
            body = item["body"] if isinstance(item["body"], dict) else {}
            rec = Recorded(method=item["method"], path=item["url"], body=body, headers={},
                           t_start=time.monotonic())
            action = self._next_action(body)
            rec.action = type(action).__name__
            while isinstance(action, Slow):
                action = action.then
            line: dict = {"id": _new_id("batch_req_"), "custom_id": item["custom_id"]}
            while isinstance(action, Trickle):
                action = action.then
            rendered = self._render(action, body, rec)
            if rendered is None:
                line.update(response=None, error={"code": "server_error",
                                                  "message": "The connection was closed (fake Drop)."})
                status = None
            else:
                status, _headers, data, _ctype = rendered
                try:
                    resp_body: Any = json.loads(data)
                except ValueError:
                    resp_body = data.decode("utf-8", "replace")
                line.update(response={"status_code": status, "request_id": _new_id("req_"),
                                      "body": resp_body}, error=None)
                if rec.billed:
                    usage["input_tokens"] += rec.billed[0]
                    usage["output_tokens"] += rec.billed[1]
            rec.status, rec.t_end = status, time.monotonic()
            with self._lock:
                self.batch_requests.append(rec)
            if status is not None and 200 <= status < 300:
                ok += 1
                out.append(line)
            else:
                failed += 1
                err.append(line)

        def jsonl(rows: list[dict]) -> bytes:
            return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")

        if out:
            b["output_file_id"] = self._new_file(jsonl(out), f"{b['id']}_output.jsonl", "batch_output")["id"]
        if err:
            b["error_file_id"] = self._new_file(jsonl(err), f"{b['id']}_error.jsonl", "batch_output")["id"]
        b["request_counts"] = {"total": len(b["_lines"]), "completed": ok, "failed": failed}
        b["usage"] = {"input_tokens": usage["input_tokens"], "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": usage["output_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": usage["input_tokens"] + usage["output_tokens"]}
        b.update(status="completed", completed_at=int(time.time()))


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description="Run the fake OpenAI server until Ctrl-C.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds to sleep before every response")
    ap.add_argument("--batch-polls", type=int, default=2, help="retrieves until a batch completes")
    args = ap.parse_args(argv)
    server = FakeOpenAI(latency_s=args.latency, host=args.host, port=args.port,
                        batch_polls_to_complete=args.batch_polls).start()
    print(f"FakeOpenAI listening on {server.url} (latency {args.latency:g}s); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(f"stopped after {len(server.requests)} requests", flush=True)


if __name__ == "__main__":
    main()
