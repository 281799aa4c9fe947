"""A persistent cache of valid judge responses, in SQLite.

Keyed by a hash of everything that determines a response (endpoint, model, messages, decoding parameters, response
format, rubric spec). Only responses that passed validation are stored, so an error or a fallback is never replayed.
Every put is its own committed transaction in WAL mode: a process killed at any point leaves a readable cache, and
several processes may share one file.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


SETUP_TIMEOUT_S = 30.0


def cache_key(**parts: object) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("rubric-harness")) / "judgments.sqlite"


@dataclass(frozen=True)
class CachedResponse:
    content: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Switching to WAL takes an exclusive lock and SQLite reports "database is locked" at once, without its busy
        # timeout, when another process is doing the same: two runs starting on a new cache file. Retry briefly.
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while True:
            try:
                con = self._con()
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, content TEXT NOT NULL, "
                    "prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER, model TEXT, "
                    "created REAL DEFAULT (julianday('now')))")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:  # one connection per thread: sqlite3 connections are not shared across threads
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    def get(self, key: str) -> CachedResponse | None:
        row = self._con().execute(
            "SELECT content, prompt_tokens, completion_tokens, cached_tokens FROM responses WHERE key=?", (key,)
        ).fetchone()
        return CachedResponse(*row) if row else None

    def put(self, key: str, resp: CachedResponse, model: str) -> None:
        self._con().execute(
            "INSERT OR REPLACE INTO responses (key, content, prompt_tokens, completion_tokens, cached_tokens, model) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, resp.content, resp.prompt_tokens, resp.completion_tokens, resp.cached_tokens, model))

    def __len__(self) -> int:
        return self._con().execute("SELECT COUNT(*) FROM responses").fetchone()[0]
