"""The size of a chaos run: the short form in every `make test`, the long one in `make chaos`
(OMS_CHAOS_LONG=1). OMS_CHAOS_ORDERS overrides the number of orders, OMS_CHAOS_SEED replays a
run's faults and choices exactly (each run prints its seed)."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from tests import servers
from tests.chaos.faults import FaultPlan
from tests.chaos.stack import ChaosStack, running_stack


@dataclass(frozen=True)
class ChaosSize:
    orders: int
    concurrency: int  # orders played at once
    plan: FaultPlan
    deadline: float  # seconds the load and its faults may take in all
    seed: int


SHORT = ChaosSize(orders=20, concurrency=5, plan=FaultPlan(rounds=1, postgres_outage=5),
                  deadline=120, seed=0)
LONG = ChaosSize(orders=150, concurrency=10,
                 plan=FaultPlan(rounds=4, postgres_outage=30, gap=(2.0, 8.0)),
                 deadline=900, seed=0)


def chaos_size() -> ChaosSize:
    size = LONG if os.environ.get("OMS_CHAOS_LONG") else SHORT
    if os.environ.get("OMS_CHAOS_ORDERS"):
        size = replace(size, orders=int(os.environ["OMS_CHAOS_ORDERS"]))
    seed = int(os.environ.get("OMS_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    return replace(size, seed=seed)


@pytest.fixture
def size() -> ChaosSize:
    return chaos_size()


@pytest.fixture
async def chaos_stack(tmp_path, stripe_base: str) -> AsyncIterator[ChaosStack]:
    """The stack, started and stopped in a thread: its start migrates the database, which runs
    an event loop of its own."""
    if servers.postgres_bin_dir() is None:
        if os.environ.get("OMS_TEST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL binaries not found and OMS_TEST_REQUIRE_POSTGRES is set")
        pytest.skip("postgres: PostgreSQL server binaries not found")
    # The provider fails the first two attempts of every refund and release.
    stack = running_stack(tmp_path, stripe_api_base=stripe_base,
                          worker_env={"OMS_GATEWAY_FAIL_FIRST_ATTEMPTS": "2"})
    yield await asyncio.to_thread(stack.__enter__)
    await asyncio.to_thread(stack.__exit__, None, None, None)
