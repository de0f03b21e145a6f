"""CPU time per process, read from /proc: where a phase's work was done (Linux only).

On a two-core machine the server, the API, the worker and the load driver share the cores,
so CPU milliseconds per operation in each process say more than wall-clock figures alone.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system time of every thread of `pid`, or None where /proc is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain spaces:
    # state is the first, utime and stime the 12th and 13th.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_seconds() -> float | None:
    """CPU time all processes on the machine have used (all cores), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    ticks = [int(v) for v in first[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK


OTHER = "other"  # everything on the machine outside the benchmark's processes


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    taken = {name: cpu_seconds(pid) for name, pid in pids.items()}
    taken[OTHER] = machine_busy_seconds()
    return {name: seconds for name, seconds in taken.items() if seconds is not None}


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    used = {name: after[name] - before[name] for name in before if name in after}
    if OTHER in used:
        # Machine-wide time minus ours: a test suite or build running alongside shows up here
        # and makes the run's figures suspect.
        ours = sum(v for name, v in used.items() if name != OTHER)
        used[OTHER] = max(0.0, used[OTHER] - ours)
    return used
