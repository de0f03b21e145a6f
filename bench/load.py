"""A fixed number of operations driven at a fixed concurrency, with per-operation latency."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Recorder:
    """Latencies of the operations that succeeded; failures are counted, never timed."""

    op_timeout: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    async def measure(self, operation: Awaitable[R]) -> R:
        started = time.perf_counter()
        # A timeout per operation: one stuck call fails alone instead of stalling the run.
        result = await asyncio.wait_for(operation, self.op_timeout)
        self.latencies.append(time.perf_counter() - started)
        return result

    def failed(self, err: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(err).__name__}: {err}"[:300]


@dataclass
class PhaseResult:
    name: str
    seconds: float
    latencies: list[float]
    errors: int
    first_error: str | None
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process

    @property
    def ops(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ops": self.ops, "errors": self.errors,
                "seconds": round(self.seconds, 3), "throughput": round(self.throughput, 2),
                "p50_ms": round(self.percentile(50), 2), "p99_ms": round(self.percentile(99), 2),
                "first_error": self.first_error,
                "cpu_seconds": {k: round(v, 3) for k, v in self.cpu.items()}}


async def run_phase(name: str, items: Iterable[T], job: Callable[[T, Recorder], Awaitable[R]], *,
                    concurrency: int, op_timeout: float, phase_timeout: float
                    ) -> tuple[PhaseResult, list[R]]:
    """Run `job` once per item with `concurrency` lanes; a job times its steps with the recorder.

    Returns the phase's figures and the results of the jobs that succeeded.
    """
    recorder = Recorder(op_timeout)
    pending = iter(items)  # shared by the lanes: each takes the next item when it is free
    results: list[R] = []

    async def lane() -> None:
        for item in pending:
            try:
                results.append(await job(item, recorder))
            except Exception as err:  # noqa: BLE001 - counted and reported, the run goes on
                recorder.failed(err)

    started = time.perf_counter()
    async with asyncio.timeout(phase_timeout):
        await asyncio.gather(*(lane() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return PhaseResult(name, seconds, recorder.latencies, recorder.errors,
                       recorder.first_error), results


def combine(name: str, parts: list[PhaseResult]) -> PhaseResult:
    """Phases of one kind run in several rounds, taken together as one."""
    cpu: dict[str, float] = {}
    for part in parts:
        for process, seconds in part.cpu.items():
            cpu[process] = cpu.get(process, 0.0) + seconds
    first_errors = [p.first_error for p in parts if p.first_error]
    return PhaseResult(name, sum(p.seconds for p in parts),
                       [x for p in parts for x in p.latencies], sum(p.errors for p in parts),
                       first_errors[0] if first_errors else None, cpu)
