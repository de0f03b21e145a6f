"""What goes wrong while the load runs: workers killed with -9 (one of two, then both), the
API killed, the Temporal server restarted, PostgreSQL stopped for a while.

Faults come one after another at random moments (the run's seed decides them), so a kill lands
wherever the orders happen to be: mid-activity, between an activity and its record, mid-update.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.chaos.stack import ChaosStack


@dataclass(frozen=True)
class FaultPlan:
    rounds: int  # how many times the whole list of faults is gone through
    postgres_outage: float  # seconds PostgreSQL is down each time
    gap: tuple[float, float] = (1.0, 4.0)  # seconds between two faults, at random


@dataclass
class FaultLog:
    entries: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, what: str, in_flight: int, started: float) -> None:
        self.count += 1
        self.entries.append(f"{time.monotonic() - started:6.1f} s  {what} "
                            f"({in_flight} orders in flight)")


async def break_things(stack: ChaosStack, plan: FaultPlan, rng: random.Random,
                       in_flight: Callable[[], int], log: FaultLog) -> None:
    started = time.monotonic()
    one, two = stack.workers

    async def off_and_on(stop: Callable[[], None], start: Callable[[], None],
                         down: float) -> None:
        await asyncio.to_thread(stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(start)

    def kill_both() -> None:
        one.kill()
        two.kill()

    def start_both() -> None:
        one.start()
        two.start()

    faults: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("kill -9 worker 1 (worker 2 carries on)",
         lambda: off_and_on(one.kill, one.start, rng.uniform(0.5, 3))),
        ("kill -9 the API",
         lambda: off_and_on(stack.api.kill, stack.api.start, rng.uniform(0.5, 2))),
        ("kill -9 worker 2 (worker 1 carries on)",
         lambda: off_and_on(two.kill, two.start, rng.uniform(0.5, 3))),
        ("restart the Temporal server",
         lambda: off_and_on(stack.temporal.stop, stack.temporal.start, rng.uniform(0.5, 2))),
        (f"stop PostgreSQL for {plan.postgres_outage:.0f} s",
         lambda: off_and_on(stack.postgres.stop, stack.postgres.start, plan.postgres_outage)),
        ("kill -9 both workers",
         lambda: off_and_on(kill_both, start_both, rng.uniform(1, 4))),
    ]
    for _ in range(plan.rounds):
        for what, fault in faults:
            await asyncio.sleep(rng.uniform(*plan.gap))
            log.add(what, in_flight(), started)
            await fault()
