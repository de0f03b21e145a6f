"""`python -m bench.soak`: the realistic order mix at a constant arrival rate, for a set time.

An open model: orders arrive on a fixed schedule whatever the stack's latency, as customers do,
so a stack that falls behind shows as growing latency and orders in flight, not as a politely
slower load. Each arriving order lives a whole life through the API, a step at a time with the
buyer and the seller reading their dashboards in between:

  create (escrow or crypto; the card provider needs a Stripe and is measured by make bench)
  -> seller: order_confirmed, processing, ready_to_ship, shipped -> carrier webhooks:
  in_transit, delivered (each sent twice) -> buyer: completed
  with 10 % cancelled by the buyer after creation and 5 % disputed after delivery and refunded
  in part by an operator.

Reports throughput, p50/p99/p99.9 per endpoint, every unexpected answer, and the memory (RSS)
of the API, the worker and the Temporal server sampled over the run, with its growth over the
second half (after warm-up) as MB per minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.auth import Role, mint_token
from bench.stack import BUYER, JWT_SECRET, SELLER, Stack, running_stack
from oms.settings import DEV_SHIPPING_SECRET
from tests.factories import checkout_body
from webhooks.signature import sign

SELLER_STEPS = ("order_confirmed", "processing", "ready_to_ship")


@dataclass
class Tally:
    """Latency per endpoint and every answer that was not the expected one."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unexpected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_unexpected: dict[str, str] = field(default_factory=dict)
    server_errors: int = 0

    async def call(self, http: httpx.AsyncClient, label: str, method: str, url: str, *,
                   expect: int = 200, **kw) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await http.request(method, url, **kw)
        except httpx.HTTPError as err:
            self._unexpected(label, f"{type(err).__name__}: {err}")
            return None
        self.latencies[label].append(time.perf_counter() - started)
        if response.status_code >= 500:
            self.server_errors += 1
        if response.status_code != expect:
            self._unexpected(label, f"{response.status_code} {response.text[:200]}")
            return None
        return response

    def _unexpected(self, label: str, what: str) -> None:
        self.unexpected[label] += 1
        self.first_unexpected.setdefault(label, what)


class Journeys:
    def __init__(self, http: httpx.AsyncClient, stack: Stack, tally: Tally, *,
                 think: float, rng: random.Random) -> None:
        self.http, self.stack, self.tally, self.think, self.rng = http, stack, tally, think, rng
        self.buyer = _bearer(BUYER)
        self.seller = _bearer(SELLER)
        self.operator = _bearer("soak-operator", Role.OPERATOR)
        self.in_flight = 0
        self.finished = 0

    async def one_order(self, n: int) -> None:
        self.in_flight += 1
        try:
            await self._live(n)
        finally:
            self.in_flight -= 1
            self.finished += 1

    async def _live(self, n: int) -> None:
        method = "crypto" if n % 3 == 0 else "escrow"
        body = checkout_body(buyer_id=BUYER, seller_id=SELLER, method=method,
                             listing_id=self.stack.listings[n % len(self.stack.listings)])
        created = await self._call("POST /api/orders", "POST", "/api/orders", expect=201,
                                   json=body, headers=self.buyer)
        if created is None:
            return
        order = created.json()["order"]["id"]
        roll = self.rng.random()
        await self._read(order)
        if roll < 0.10:
            await self._call("POST /api/orders/{id}/cancel", "POST", f"/api/orders/{order}/cancel",
                             json={"reasonCode": "buyer_request"}, headers=self.buyer)
            return
        for status in SELLER_STEPS:
            await self._status(order, {"status": status}, self.seller)
        await self._status(order, {"status": "shipped", "trackingNumber": f"1Z{n:016d}",
                                   "carrier": "UPS"}, self.seller)
        await self.tally.call(self.http, "GET /api/orders/seller/{id}", "GET",
                              f"/api/orders/seller/{SELLER}?limit=20", headers=self.seller)
        for i, scan in enumerate(("in_transit", "delivered")):
            await self._scan(order, f"soak-{order}-{i}", scan, n)
        await self._read(order)
        if roll < 0.15:
            await self._call("POST /api/orders/{id}/dispute", "POST",
                             f"/api/orders/{order}/dispute",
                             json={"reason": "arrived damaged", "evidence": ["photo"]},
                             headers=self.buyer)
            await self._call("POST /api/orders/{id}/dispute/resolve", "POST",
                             f"/api/orders/{order}/dispute/resolve",
                             json={"outcome": "refund", "amount": "50", "note": "half back"},
                             headers=self.operator)
            return
        await self._status(order, {"status": "completed"}, self.buyer)

    async def _call(self, label: str, method: str, url: str, **kw) -> httpx.Response | None:
        await asyncio.sleep(self.rng.expovariate(1 / self.think) if self.think else 0)
        return await self.tally.call(self.http, label, method, url, **kw)

    async def _status(self, order: str, body: dict, headers: dict) -> None:
        await self._call("PUT /api/orders/{id}/status", "PUT", f"/api/orders/{order}/status",
                         json=body, headers=headers)

    async def _read(self, order: str) -> None:
        await self._call("GET /api/orders/{id}", "GET", f"/api/orders/{order}",
                         headers=self.buyer)

    async def _scan(self, order: str, event_id: str, status: str, n: int) -> None:
        event = {"eventId": event_id, "orderId": order, "status": status,
                 "trackingNumber": f"1Z{n:016d}", "carrier": "UPS",
                 "occurredAt": datetime.now(UTC).isoformat()}
        raw = json.dumps(event).encode()
        for _ in range(2):  # carriers resend; the second is a duplicate
            headers = {"X-OMS-Signature": sign(DEV_SHIPPING_SECRET, raw, int(time.time())),
                       "content-type": "application/json"}
            await self._call("POST /api/webhooks/shipping", "POST", "/api/webhooks/shipping",
                             content=raw, headers=headers)


def _bearer(sub: str, role: Role = Role.USER) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, sub, role)}"}


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def sample_memory(stack: Stack, every: float, series: dict[str, list[tuple[float, float]]],
                        started: float) -> None:
    watched = {name: pid for name, pid in stack.pids.items()
               if name in ("api", "worker", "temporal")}
    while True:
        for name, pid in watched.items():
            if (mb := rss_mb(pid)) is not None:
                series[name].append((time.monotonic() - started, mb))
        await asyncio.sleep(every)


def growth_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over the second half of the run, in MB per minute."""
    half = points[len(points) // 2:]
    if len(half) < 2:
        return math.nan
    mean_t = sum(t for t, _ in half) / len(half)
    mean_m = sum(m for _, m in half) / len(half)
    var = sum((t - mean_t) ** 2 for t, _ in half)
    return sum((t - mean_t) * (m - mean_m) for t, m in half) / var * 60 if var else math.nan


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] * 1000 if ordered else math.nan


async def soak(stack: Stack, args: argparse.Namespace) -> int:
    tally, series = Tally(), defaultdict(list)
    rng = random.Random(args.seed)
    limits = httpx.Limits(max_connections=args.connections,
                          max_keepalive_connections=args.connections)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=stack.api_url, limits=limits, timeout=30) as http:
        journeys = Journeys(http, stack, tally, think=args.think, rng=rng)
        sampler = asyncio.create_task(sample_memory(stack, args.sample_every, series, started))
        orders: set[asyncio.Task] = set()
        arrivals = int(args.rate * args.duration)
        for n in range(arrivals):
            # The schedule, not the answers, decides when the next order arrives.
            await asyncio.sleep(max(0.0, started + n / args.rate - time.monotonic()))
            task = asyncio.create_task(journeys.one_order(n))
            orders.add(task)
            task.add_done_callback(orders.discard)
            if n % max(1, int(args.rate * 10)) == 0:
                print(f"  {time.monotonic() - started:6.0f} s  {n:>6} arrived  "
                      f"{journeys.in_flight:>4} in flight  {journeys.finished:>6} finished",
                      flush=True)
        await asyncio.wait_for(asyncio.gather(*orders), timeout=args.drain)
        sampler.cancel()
    elapsed = time.monotonic() - started
    report(tally, series, arrivals, elapsed, args)
    return 1 if tally.server_errors or any(tally.unexpected.values()) else 0


def report(tally: Tally, series: dict, arrivals: int, elapsed: float,
           args: argparse.Namespace) -> None:
    requests = sum(len(v) for v in tally.latencies.values())
    print(f"\n{arrivals} orders arrived at {args.rate}/s over {args.duration:.0f} s "
          f"(all finished after {elapsed:.0f} s): {requests} requests, "
          f"{requests / elapsed:.1f}/s, {tally.server_errors} server errors")
    print(f"{'endpoint':<40} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
          f"{'unexpected':>10}")
    for label in sorted(tally.latencies):
        samples = tally.latencies[label]
        print(f"{label:<40} {len(samples):>8} {percentile(samples, 50):>8.1f} "
              f"{percentile(samples, 99):>8.1f} {percentile(samples, 99.9):>9.1f} "
              f"{tally.unexpected.get(label, 0):>10}")
    for label, what in tally.first_unexpected.items():
        print(f"  first unexpected answer to {label}: {what}")
    print(f"\n{'process':<10} {'RSS start MB':>12} {'max MB':>8} {'end MB':>8} "
          f"{'growth MB/min (2nd half)':>25}")
    for name, points in sorted(series.items()):
        values = [mb for _, mb in points]
        print(f"{name:<10} {values[0]:>12.0f} {max(values):>8.0f} {values[-1]:>8.0f} "
              f"{growth_per_minute(points):>25.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2.0,
                        help="orders arriving per second (default 2; each makes ~15 requests)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of arrivals")
    parser.add_argument("--think", type=float, default=0.5,
                        help="mean seconds between one order's steps (default 0.5)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--sample-every", type=float, default=5, help="seconds between RSS samples")
    parser.add_argument("--drain", type=float, default=300,
                        help="seconds the orders in flight get to finish after the last arrival")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.think < 0:
        parser.error("--rate and --duration must be positive, --think not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="oms-soak-") as tmp, running_stack(
            Path(tmp), listings=8, inventory=10**9, log_level=args.log_level,
            database=args.database) as stack:
        return asyncio.run(soak(stack, args))


if __name__ == "__main__":
    sys.exit(main())
