"""Latency samples of several ways to do one thing, taken in turns (the order rotating each
round) so that drift (cache, autovacuum, a neighbour on the machine) weighs on all alike."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float  # seconds
    p99: float
    mean: float

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        ordered = sorted(samples)
        # Nearest rank: with 200 samples p99 is the second slowest, a sample that happened.
        rank = max(1, math.ceil(0.99 * len(ordered)))
        return cls(n=len(ordered), p50=statistics.median(ordered), p99=ordered[rank - 1],
                   mean=statistics.fmean(ordered))


async def compare(calls: Sequence[Call], *, repeat: int, warmup: int, budget: float,
                  minimum: int = 10, block: int = 1) -> list[Summary]:
    """`repeat` timed rounds after `warmup` untimed ones; each round runs every call once, or
    with `block` > 1 that many times in a row, the first of them untimed.

    Blocks measure each path warm. Single calls taking turns pay, each, for waking a database
    backend that sat idle while the others ran: on this VM 0.3-0.5 ms, as much as the
    fastest queries themselves (BENCHMARKS.md).

    Slow cases stop early: the warm-up after a fifth of `budget` seconds (two rounds at
    least), the timed rounds once `budget` seconds are spent (`minimum` rounds at least)."""
    started = time.perf_counter()
    for i in range(warmup):
        for call in calls:
            await call()
        if i >= 1 and time.perf_counter() - started > budget / 5:
            break
    samples: list[list[float]] = [[] for _ in calls]
    started = time.perf_counter()
    rounds = repeat if block == 1 else -(-repeat // (block - 1))
    for i in range(rounds):
        for k in range(len(calls)):
            which = (i + k) % len(calls)
            if block > 1:
                await calls[which]()
            for _ in range(max(1, block - 1)):
                t0 = time.perf_counter()
                await calls[which]()
                samples[which].append(time.perf_counter() - t0)
        if i + 1 >= minimum and time.perf_counter() - started > budget:
            break
    return [Summary.of(s) for s in samples]
