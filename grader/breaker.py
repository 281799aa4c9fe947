"""A half-open circuit breaker: tells a blip from a dead endpoint.

A burst of failures (dropped connections, timeouts, 200s that are not a completion) opens the breaker: no call is
sent for a pause, then ONE call probes the endpoint while the others wait. A success closes it and grading goes on;
a failed probe reopens it with twice the pause. Only failure sustained over time - ``dead_after_s`` since the first
failure of an unbroken streak of at least ``open_after`` - declares the endpoint dead. Counting alone cannot tell
the two apart: at concurrency 8, one second of dropped connections is already ten failures.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class Breaker:
    def __init__(self, open_after: int = 10, pause_s: float = 2.0, max_pause_s: float = 30.0,
                 dead_after_s: float = 120.0, log: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.open_after, self.pause_s, self.max_pause_s, self.dead_after_s = open_after, pause_s, max_pause_s, dead_after_s
        self._log, self._clock = log, clock
        self._cond = threading.Condition()
        self.streak = 0  # failures since the last success
        self._since = 0.0  # when the streak began
        self._open_until: float | None = None
        self._pause = pause_s
        self._probing = False
        self.dead: str | None = None  # why the endpoint is declared dead, once it is
        self.opened = 0  # times the breaker opened (for the summary)

    def gate(self, stopped: Callable[[], bool]) -> bool:
        """Wait while the breaker is open; return True when this caller is the half-open probe. Returns at once
        (False) when ``stopped()`` becomes true: the caller then checks why."""
        if self._open_until is None:
            return False  # closed: the common case, without taking the lock
        with self._cond:
            while True:
                if stopped() or self.dead or self._open_until is None:
                    return False
                now = self._clock()
                if now < self._open_until:
                    self._cond.wait(self._open_until - now)
                elif not self._probing:
                    self._probing = True
                    return True
                else:
                    self._cond.wait(0.5)

    def end_probe(self) -> None:
        with self._cond:
            self._probing = False
            self._cond.notify_all()

    def success(self) -> None:
        if self.streak == 0 and self._open_until is None:
            return  # the common case, without taking the lock
        with self._cond:
            self.streak, self._open_until, self._pause = 0, None, self.pause_s
            self._cond.notify_all()

    def failure(self) -> str | None:
        """Count a call without a usable answer; return why the endpoint is dead when this failure decides it."""
        with self._cond:
            now = self._clock()
            self.streak += 1
            if self.streak == 1:
                self._since = now
            if self.streak < self.open_after or self.dead:
                return None
            if now - self._since >= self.dead_after_s:
                self.dead = (f"endpoint unusable: {self.streak} consecutive calls failed over {now - self._since:.0f}s "
                             "(connection failures, timeouts or replies that are not a completion), with no success "
                             "between and none after pausing")
                self._cond.notify_all()
                return self.dead
            if self._open_until is None or now >= self._open_until:
                self._open_until = now + self._pause
                self.opened += 1
                if self._log:
                    self._log(f"endpoint failing ({self.streak} consecutive failures): pausing calls for "
                              f"{self._pause:g}s, then one probe call")
                self._pause = min(self._pause * 2, self.max_pause_s)
            return None
