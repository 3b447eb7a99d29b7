"""The import's progress on stderr: a bar redrawn in place on a terminal, a line every tenth of
the file elsewhere (a log or CI output, where carriage returns would pile up on one line)."""

from __future__ import annotations

import time
from typing import TextIO

WIDTH = 30
REDRAW_SECONDS = 0.1  # redrawing for every row of a fast run would cost more than the row


class Progress:
    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.counts = {"opened": 0, "already there": 0, "refused": 0}
        self.started = time.monotonic()
        self._live = stream.isatty()
        self._drawn_at = 0.0
        self._next_tenth = 1

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        if self._live:
            now = time.monotonic()
            if now - self._drawn_at >= REDRAW_SECONDS or self.done == self.total:
                self._drawn_at = now
                self.stream.write("\r" + self.line())
                self.stream.flush()
        elif self.total and self.done * 10 >= self._next_tenth * self.total:
            self._next_tenth = self.done * 10 // self.total + 1
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * WIDTH)
        seconds = time.monotonic() - self.started
        rate = f"{self.done / seconds:,.0f} rows/s" if seconds > 0 else ""
        # Numbers as wide as the total's, so the redrawn line does not jitter.
        w = len(f"{self.total:,}")
        opened, there, refused = self.counts.values()
        return (
            f"[{bar:<{WIDTH}}] {self.done:>{w},}/{self.total:,} {share:4.0%}  "
            f"opened {opened:>{w},}, already there {there:>{w},}, refused {refused:>{w},}  {rate}"
        )

    def finish(self) -> None:
        """Ends the redrawn line, so what follows starts on a line of its own."""
        if self._live and self.done:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
