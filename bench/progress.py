"""A progress line on stderr: a bar, the count, the rate and the time left.

On a terminal it redraws one line; into a file or pipe it prints one line per update, so a
log keeps the history without carriage returns.
"""

from __future__ import annotations

import sys
import time

WIDTH = 30


class Progress:
    def __init__(self, total: int, unit: str, *, out=sys.stderr) -> None:
        self.total, self.unit, self.out = total, unit, out
        self.started = time.perf_counter()
        self.done = 0
        self.tty = out.isatty()

    def update(self, done: int) -> None:
        self.done = done
        elapsed = time.perf_counter() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else float("nan")
        filled = WIDTH * done // max(self.total, 1)
        line = (f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{self.total:,} {self.unit} "
                f"{100 * done / max(self.total, 1):3.0f}%  {rate:,.0f}/s  "
                f"elapsed {_clock(elapsed)}  ETA {_clock(left)}")
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n",
              file=self.out, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=self.out, flush=True)


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: no rate yet
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:d}:{secs:02d}"
