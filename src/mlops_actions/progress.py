"""Progress of long chunked or distributed runs on stderr: rows done, rows/s, ETA.

Nothing is printed for runs shorter than ``quiet_for`` seconds. On a terminal one line is
rewritten in place; anywhere else (an Actions log) a plain line is written every ``every``
seconds, so the log reads as a short list of timestamps, not a smear of carriage returns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

QUIET_FOR = 5.0  # seconds before the first line
EVERY_LOG = 15.0  # seconds between lines in a log
EVERY_TTY = 0.5  # seconds between redraws on a terminal


class Progress:
    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet_for: float = QUIET_FOR,
        every: float | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.quiet_for = quiet_for
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every if every is not None else (EVERY_TTY if self.tty else EVERY_LOG)
        self.rows = 0
        self.share: float | None = None  # done share when rows give no ETA (e.g. files done)
        self.start = clock()
        self.last: float | None = None

    def add(self, rows: int, *, share: float | None = None) -> None:
        """``rows`` more are done; ``share`` is the done share when ``total`` is unknown."""
        self.rows += rows
        if share is not None:
            self.share = share
        now = self.clock()
        if now - self.start < self.quiet_for:
            return
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        self._write(self.line(now), end="" if self.tty else "\n")

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.rows / elapsed
        done = self.rows / self.total if self.total else self.share
        text = f"{self.label}: {self.rows:,} rows"
        if self.total:
            text += f" of {self.total:,} ({done:.0%})"
        text += f", {rate:,.0f} rows/s"
        if done:
            text += f", ETA {_duration(elapsed * (1 - done) / done)}"
        return text

    def close(self) -> None:
        """The last line, when anything was shown (a finished run's total and time)."""
        if self.last is None:
            return
        elapsed = self.clock() - self.start
        self._write(
            f"{self.label}: {self.rows:,} rows in {_duration(elapsed)}, "
            f"{self.rows / max(elapsed, 1e-9):,.0f} rows/s",
            end="\n",
        )

    def _write(self, text: str, *, end: str) -> None:
        if self.tty:
            text = "\r\x1b[K" + text
        self.stream.write(text + end)
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
