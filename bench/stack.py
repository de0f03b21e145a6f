"""The processes under test: a Temporal dev server, the order API and worker, the bare worker.

All on loopback, all children of this process (they die with it), all stopped on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from db import reference_repo
from db.engine import create_database
from db.migrate import upgrade
from oms import processes
from oms.temporal import connect
from tests import servers

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
BUYER = "bench-buyer"
SELLER = "bench-seller"
PRICE = Decimal("100")  # tests.factories.checkout_body orders 2 for 200 USDC


@dataclass(frozen=True)
class Stack:
    temporal_address: str
    api_url: str
    task_queue: str
    bare_task_queue: str
    listings: list[str]
    logs: Path
    pids: dict[str, int]  # the processes whose CPU time each phase accounts for


def seed(database_url: str, listings: int, inventory: int) -> list[str]:
    """Migrate the read model and add the buyer, the seller and listings that never run out."""
    upgrade(database_url)
    ids = [f"bench-listing-{n}" for n in range(listings)]

    async def _seed() -> None:
        db = create_database(database_url)
        async with db.transaction() as conn:
            for user_id, name in ((BUYER, "Bench Buyer"), (SELLER, "Bench Seller")):
                await reference_repo.upsert_user(conn, user_id, name=name,
                                                 email=f"{user_id}@example.com",
                                                 store_name="Bench" if user_id == SELLER else None)
            for listing_id in ids:
                await reference_repo.upsert_listing(
                    conn, listing_id, seller_id=SELLER, title="Wireless Headphones",
                    description="Over-ear", unit_price=PRICE, currency="USDC",
                    inventory=inventory)
        await db.dispose()

    asyncio.run(_seed())
    return ids


Launch = Callable[[int], tuple[list[str], dict[str, str] | None]]


def _listening(stack: contextlib.ExitStack, launch: Launch, *, log: Path, timeout: float
               ) -> tuple[int, subprocess.Popen]:
    """Start a server on a free port; retried because the port can be taken before we bind.

    `launch(port)` gives the command line and environment of a server listening on `port`.
    """
    for attempt in range(3):
        port = processes.free_port()
        args, env = launch(port)
        proc = processes.spawn(args, env=env, log=log)
        stack.callback(processes.stop, proc)
        try:
            processes.wait_for_port(port, proc, timeout=timeout)
            return port, proc
        except RuntimeError:
            processes.stop(proc)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _watch(stack: contextlib.ExitStack, args: list[str], env: dict[str, str], log: Path
           ) -> subprocess.Popen:
    proc = processes.spawn(args, env=env, log=log)
    stack.callback(processes.stop, proc)
    return proc


def rate_limit_settings(on: bool) -> dict[str, str]:
    """The limiter off, or on with every limit far above what a benchmark's few callers send
    from one address: each request pays for its checks, none is refused."""
    if not on:
        return {"OMS_RATE_LIMIT_ENABLED": "false"}
    high = "1000000/minute"
    return {f"OMS_RATE_LIMIT_{name}": high
            for name in ("PER_PRINCIPAL", "PER_CLIENT", "WEBHOOKS", "FAILED_AUTH")}


@contextlib.contextmanager
def running_stack(workdir: Path, *, listings: int, inventory: int, log_level: str,
                  database: str = "sqlite", payload_encryption: bool = True,
                  settings: dict[str, str] | None = None) -> Iterator[Stack]:
    """The stack on the embedded SQLite read model, or with `database="postgres"` on a
    throwaway PostgreSQL cluster (whose server is then one more process on the cores); the
    API and worker encrypt payloads unless `payload_encryption` is off. `settings` are more
    OMS_* variables for the API and the worker; the abuse limits are on, and never refuse,
    unless they say otherwise."""
    with contextlib.ExitStack() as outer:
        if database == "postgres":
            bin_dir = servers.postgres_bin_dir()
            if bin_dir is None:
                raise SystemExit("no PostgreSQL server binaries (initdb) found")
            base_url = outer.enter_context(servers.postgres_cluster(bin_dir))
            database_url = servers.create_database(base_url, "oms_bench")
        else:
            database_url = f"sqlite+aiosqlite:///{workdir / 'oms.db'}"
        yield outer.enter_context(_running(workdir, database_url, listings=listings,
                                           inventory=inventory, log_level=log_level,
                                           payload_encryption=payload_encryption,
                                           settings={**rate_limit_settings(True),
                                                     **(settings or {})}))


@contextlib.contextmanager
def _running(workdir: Path, database_url: str, *, listings: int, inventory: int,
             log_level: str, payload_encryption: bool, settings: dict[str, str]
             ) -> Iterator[Stack]:
    listing_ids = seed(database_url, listings, inventory)
    task_queue = f"orders-bench-{uuid.uuid4().hex[:8]}"
    bare_queue = f"bare-bench-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        # In memory (no db file), search attributes registered from the command line.
        temporal_port, temporal = _listening(
            stack, lambda port: (processes.temporal_dev_server_args(port), None),
            log=workdir / "temporal.log", timeout=60)
        address = f"127.0.0.1:{temporal_port}"
        # Only our OMS_* settings: a stray one in the shell (say, injected gateway failures)
        # would change what is measured.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        env = {**inherited,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")])),
               "OMS_TEMPORAL_ADDRESS": address, "OMS_DATABASE_URL": database_url,
               "OMS_JWT_SECRET": JWT_SECRET, "OMS_TASK_QUEUE": task_queue,
               "OMS_API_HOST": "127.0.0.1", "OMS_LOG_LEVEL": log_level,
               # The load's crypto orders carry made-up hashes: no chain in the measurement.
               "OMS_CHAIN_STAND_IN": "true",
               "OMS_PAYLOAD_ENCRYPTION": str(payload_encryption).lower(),
               # The worker's metrics stay on, as deployed, on ports of their own: the fixed
               # defaults may belong to a dev stack already running on this machine.
               "OMS_WORKER_METRICS_PORT": str(processes.free_port()),
               "OMS_TEMPORAL_METRICS_PORT": str(processes.free_port()),
               **settings}
        python = sys.executable
        worker = _watch(stack, [python, "-m", "oms.cli", "worker"], env,
                        workdir / "worker.log")
        bare_worker = _watch(stack, [python, "-m", "bench.bare_worker", "--address", address,
                                     "--task-queue", bare_queue], env,
                             workdir / "bare_worker.log")
        api_port, api = _listening(
            stack, lambda port: ([python, "-m", "oms.cli", "api"],
                                 {**env, "OMS_API_PORT": str(port)}),
            log=workdir / "api.log", timeout=60)
        api_url = f"http://127.0.0.1:{api_port}"
        asyncio.run(_ready(address, api_url, [task_queue, bare_queue], [worker, bare_worker]))
        pids = {"temporal": temporal.pid, "api": api.pid, "worker": worker.pid,
                "bare worker": bare_worker.pid, "driver": os.getpid()}
        yield Stack(address, api_url, task_queue, bare_queue, listing_ids, workdir, pids)


async def _ready(address: str, api_url: str, queues: list[str],
                 workers: list[subprocess.Popen]) -> None:
    """Wait until the API's health check passes and both workers poll their queues."""
    client = await connect(address)
    try:
        async with asyncio.timeout(60), httpx.AsyncClient(base_url=api_url, timeout=5) as http:
            while (await _health(http)) != 200:  # noqa: ASYNC110 - polling other processes
                await asyncio.sleep(0.2)
            for queue in queues:
                while not await _has_pollers(client, queue):
                    for proc in workers:
                        if proc.poll() is not None:
                            raise RuntimeError(f"{proc.args} exited with code {proc.returncode}")
                    await asyncio.sleep(0.2)
    except TimeoutError:
        raise TimeoutError("the API or a worker was not ready within 60 s") from None


async def _health(http: httpx.AsyncClient) -> int:
    try:
        return (await http.get("/health")).status_code
    except httpx.HTTPError:
        return 0


async def _has_pollers(client: Client, queue: str) -> bool:
    described = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return bool(described.pollers)
