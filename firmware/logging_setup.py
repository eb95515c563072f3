"""Structured, bounded logs: one JSON object per line on stderr, which journald stores.

Under systemd a process's stderr is the journal, so a JSON line per record keeps fields
(logger, level, time) machine-readable for `journalctl -o cat | jq` while costing no extra
dependency. Two caps keep a misbehaving device from filling the SD card: a message longer
than `max_chars` is cut, and each logger may emit at most `burst` records per `window_s`
(a reader unplugged mid-poll would otherwise log hundreds of lines a second); what is
dropped is counted and reported once in the next window. journald adds its own caps on
top (deploy/journald-placecode.conf: SystemMaxUse, rate limit per service).

Personal data never reaches this module: callers log masks only (see firmware/privacy.py).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class JsonFormatter(logging.Formatter):
    def __init__(self, max_chars: int = 1000, max_trace_chars: int = 8000) -> None:
        super().__init__()
        self.max_chars = max_chars
        self.max_trace_chars = max_trace_chars

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        trace = None
        if record.exc_info:
            # The exception type and where it happened; the full traceback for what ends
            # the process (CRITICAL) and at DEBUG.
            exc = record.exc_info[1]
            message += f" [{type(exc).__name__}: {exc}]"
            if record.levelno >= logging.CRITICAL or logging.getLogger().isEnabledFor(
                    logging.DEBUG):
                trace = self.formatException(record.exc_info)[-self.max_trace_chars:]
        if len(message) > self.max_chars:
            message = message[: self.max_chars] + f"… (+{len(message) - self.max_chars} chars)"
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "pri": PRIORITY.get(record.levelname, 6),
            "logger": record.name,
            "msg": message,
        }
        if trace:
            entry["traceback"] = trace
        suppressed = getattr(record, "suppressed", 0)
        if suppressed:
            entry["suppressed"] = suppressed
        return json.dumps(entry, ensure_ascii=False)


class RateLimit(logging.Filter):
    """At most `burst` records per logger per `window_s`; errors get the same budget, since
    a fault repeating every poll is exactly what fills a card."""

    def __init__(self, burst: int = 20, window_s: float = 10.0, clock=time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}  # name -> (start, passed, dropped)

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        start, passed, dropped = self._windows.get(record.name, (now, 0, 0))
        if now - start >= self.window_s:
            if dropped:
                record.suppressed = dropped
            start, passed, dropped = now, 0, 0
        if passed >= self.burst:
            self._windows[record.name] = (start, passed, dropped + 1)
            return False
        self._windows[record.name] = (start, passed + 1, dropped)
        return True

    def dropped(self) -> int:
        return sum(d for _s, _p, d in self._windows.values())


def setup(level: str = "INFO", stream: TextIO | None = None, burst: int = 20,
          window_s: float = 10.0, max_chars: int = 1000) -> RateLimit:
    """Replace the root logger's handlers with one rate-limited JSON handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(max_chars))
    limit = RateLimit(burst, window_s)
    handler.addFilter(limit)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return limit
