"""`python -m bench.scale`: many orders left open on their timers, and commands to cold ones.

Creates `--orders` escrow orders through the API and leaves every one at `escrow_locked`, each
workflow waiting on its 72-hour seller-confirmation timer, as a marketplace's backlog does. Then
reports the memory (RSS) of the worker and the Temporal server, and the latency of commands to
orders long evicted from the worker's cache (`OMS_WORKER_MAX_CACHED_WORKFLOWS`), which the worker
must rebuild from their history before it can answer: a seller confirming an old order, one at
a time, and the buyer reading it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import Recorder, run_phase
from bench.soak import Tally, _bearer, percentile, rss_mb
from bench.stack import BUYER, SELLER, Stack, running_stack
from tests.factories import checkout_body


async def scale(stack: Stack, args: argparse.Namespace) -> int:
    buyer, seller = _bearer(BUYER), _bearer(SELLER)
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=stack.api_url, limits=limits, timeout=60) as http:
        async def create(n: int, rec: Recorder) -> str:
            body = checkout_body(buyer_id=BUYER, seller_id=SELLER,
                                 listing_id=stack.listings[n % len(stack.listings)])
            response = await rec.measure(http.post("/api/orders", json=body, headers=buyer))
            if response.status_code != 201:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            return response.json()["order"]["id"]

        print(f"creating {args.orders} orders, {args.concurrency} at a time", flush=True)
        created, ids = await run_phase("create", range(args.orders), create,
                                       concurrency=args.concurrency, op_timeout=60,
                                       phase_timeout=args.orders / 5 + 600)
        print(f"  {created.ops} created in {created.seconds:.0f} s "
              f"({created.throughput:.1f}/s), {created.errors} failed", flush=True)
        await asyncio.sleep(args.settle)  # the server's and worker's memory after the burst
        memory = {name: rss_mb(stack.pids[name]) for name in ("temporal", "worker", "api")}

        # The oldest orders: long out of the worker's cache, rebuilt from history on demand.
        cold = random.Random(7).sample(ids[: len(ids) // 2], min(args.probes, len(ids) // 2))
        tally = Tally()
        for order in cold:  # one at a time: the latency of one command, not of a queue
            await tally.call(http, "PUT status (cold order)", "PUT",
                             f"/api/orders/{order}/status", json={"status": "order_confirmed"},
                             headers=seller)
            await tally.call(http, "GET order (read model)", "GET", f"/api/orders/{order}",
                             headers=buyer)
    print(f"\n{created.ops} orders open, each waiting on its timer")
    for name, mb in memory.items():
        print(f"  {name:<9} RSS {mb:8.0f} MB  ({mb * 1024 / max(created.ops, 1):.1f} KB per order)"
              if mb is not None else f"  {name:<9} RSS unknown")
    print(f"\n{'command':<28} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'unexpected':>10}")
    for label, samples in tally.latencies.items():
        print(f"{label:<28} {len(samples):>5} {percentile(samples, 50):>8.1f} "
              f"{percentile(samples, 99):>8.1f} {max(samples) * 1000:>8.1f} "
              f"{tally.unexpected.get(label, 0):>10}")
    for label, what in tally.first_unexpected.items():
        print(f"  first unexpected answer to {label}: {what}")
    return 1 if created.errors or any(tally.unexpected.values()) else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--probes", type=int, default=200,
                        help="cold orders a command is sent to (default 200)")
    parser.add_argument("--settle", type=float, default=30,
                        help="seconds to wait after the creates before reading memory")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    if args.orders < 2 or args.concurrency < 1 or args.probes < 1:
        parser.error("--orders must be at least 2, --concurrency and --probes positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oms-scale-") as tmp, running_stack(
            Path(tmp), listings=8, inventory=10**9, log_level=args.log_level,
            database=args.database) as stack:
        code = asyncio.run(scale(stack, args))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
