"""`python -m bench.webhook_bench`: webhook ingest against bare Temporal signals, on one server.

Four measurements, same concurrency and number of operations:

  api  ingest      POST /api/webhooks/shipping (signed `picked_up`) over HTTP: signature,
                   inbox lookup, signal to the order's workflow, answer
  bare signal      client.signal to a running trivial workflow whose handler runs one no-op
                   activity, from this process, served by a worker subprocess
  order signal     client.signal of the same `picked_up` event straight to other orders'
                   workflows, from this process: the same work in the worker, no HTTP
  api  resend      the ingested events again, once applied: each answered `duplicate`
  api  visible     a signed `in_transit` event, then GET /api/orders/{id} every 10 ms until
                   the status shows it: the latency a dashboard sees

Orders are created and brought to `ready_to_ship` beforehand, uncounted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from api.auth import mint_token
from bench import cpu
from bench.load import PhaseResult, Recorder, run_phase
from bench.run_bench import print_cpu
from bench.stack import BUYER, JWT_SECRET, SELLER, running_stack
from domain.order import PaymentMethod
from oms import processes
from oms.settings import DEV_SHIPPING_SECRET
from oms.temporal import connect
from tests.factories import checkout_body
from webhooks.schemas import ShippingEventIn
from webhooks.signature import sign
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

STEPS = ("order_confirmed", "processing", "ready_to_ship")
TARGET = 0.5  # ingest throughput as a share of bare signal throughput


@activity.defn
async def noop(value: str) -> str:
    return value


@workflow.defn
class SignalledWorkflow:
    """Takes signals; each runs one no-op activity, as an order's projection write does."""

    def __init__(self) -> None:
        self._seen = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)  # left open; the server goes away

    @workflow.signal
    async def event(self, value: str) -> None:
        await workflow.execute_activity(noop, value, start_to_close_timeout=timedelta(seconds=30))
        self._seen += 1


async def _serve(address: str, task_queue: str) -> None:
    client = await connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[SignalledWorkflow],
                      activities=[noop]):
        await asyncio.Event().wait()


class WebhookBench:
    def __init__(self, args, api: httpx.AsyncClient, client: Client, bare_queue: str,
                 pids: dict[str, int]) -> None:
        self.args, self.api, self.client, self.bare_queue = args, api, client, bare_queue
        self.pids = pids
        self.workflow_ids: dict[str, str] = {}  # order id -> workflow id, for order signals
        self.sent: dict[str, bytes] = {}  # order id -> the ingested body, for resends
        self.buyer = {"Authorization": f"Bearer {mint_token(JWT_SECRET, BUYER)}"}
        self.seller = {"Authorization": f"Bearer {mint_token(JWT_SECRET, SELLER)}"}

    async def phase(self, name, items, job) -> PhaseResult:
        before = cpu.snapshot(self.pids)
        result, _ = await run_phase(name, items, job, concurrency=self.args.concurrency,
                                    op_timeout=30, phase_timeout=300)
        result.cpu = cpu.spent(before, cpu.snapshot(self.pids))
        print(f"  {name:<12} {result.ops:>5} ops {result.errors:>3} errors "
              f"{result.seconds:6.1f} s {result.throughput:8.1f} ops/s", flush=True)
        return result

    async def ready_orders(self, count: int, listings: list[str]) -> list[str]:
        ids: list[str] = []

        async def job(n: int, rec: Recorder) -> None:
            body = checkout_body(buyer_id=BUYER, seller_id=SELLER,
                                 listing_id=listings[n % len(listings)])
            order = (await self.api.post("/api/orders", json=body, headers=self.buyer)).json()
            self.workflow_ids[order["order"]["id"]] = workflow_id_for(
                PaymentMethod.ESCROW, body["paymentResult"]["escrowId"])
            for status in STEPS:
                await self.api.put(f"/api/orders/{order['order']['id']}/status",
                                   json={"status": status}, headers=self.seller)
            ids.append(order["order"]["id"])

        await self.phase("setup", range(count), job)
        return ids

    @staticmethod
    def event_body(order_id: str, status: str) -> bytes:
        return json.dumps({"eventId": uuid.uuid4().hex, "orderId": order_id, "status": status,
                           "trackingNumber": "1ZBENCH0001", "carrier": "UPS",
                           "occurredAt": datetime.now(UTC).isoformat()}).encode()

    async def post_event(self, order_id: str, status: str, *, body: bytes | None = None,
                         expect: str = "accepted") -> bytes:
        body = body or self.event_body(order_id, status)
        response = await self.api.post("/api/webhooks/shipping", content=body, headers={
            "X-OMS-Signature": sign(DEV_SHIPPING_SECRET, body, int(time.time())),
            "content-type": "application/json"})
        if response.status_code != 200 or response.json()["status"] != expect:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        return body

    async def ingest(self, order_ids: list[str]) -> PhaseResult:
        async def job(order_id: str, rec: Recorder) -> None:
            self.sent[order_id] = await rec.measure(self.post_event(order_id, "picked_up"))

        return await self.phase("api ingest", order_ids, job)

    async def resend(self, order_ids: list[str]) -> PhaseResult:
        """The same events again, once the worker has applied them: the API's own work (a
        signed, validated request and one read) with nothing for Temporal or the worker."""
        async def job(order_id: str, rec: Recorder) -> None:
            await rec.measure(self.post_event(order_id, "picked_up", body=self.sent[order_id],
                                              expect="duplicate"))

        return await self.phase("api resend", order_ids, job)

    async def order_signal(self, order_ids: list[str]) -> PhaseResult:
        async def job(order_id: str, rec: Recorder) -> None:
            event = ShippingEventIn.model_validate_json(
                self.event_body(order_id, "picked_up")).to_event()
            handle = self.client.get_workflow_handle(self.workflow_ids[order_id])
            await rec.measure(handle.signal(OrderWorkflow.external_event, event))

        return await self.phase("order signal", order_ids, job)

    async def visible(self, order_ids: list[str]) -> PhaseResult:
        async def job(order_id: str, rec: Recorder) -> None:
            async def until_visible() -> None:
                await self.post_event(order_id, "in_transit")
                while True:
                    order = (await self.api.get(f"/api/orders/{order_id}",
                                                headers=self.buyer)).json()["order"]
                    if order["status"] == "in_transit":
                        return
                    await asyncio.sleep(0.01)

            await rec.measure(until_visible())

        return await self.phase("api visible", order_ids, job)

    async def drained(self, order_ids: list[str], limit_s: float = 300) -> float:
        """Seconds until every order shows the ingested event (the worker's backlog)."""
        started = time.perf_counter()
        pending = list(order_ids)
        async with asyncio.timeout(limit_s):
            while pending:
                order = (await self.api.get(f"/api/orders/{pending[-1]}",
                                            headers=self.buyer)).json()["order"]
                if order["status"] == "shipped":
                    pending.pop()
                else:
                    await asyncio.sleep(0.05)
        return time.perf_counter() - started

    async def bare_signal(self, count: int) -> PhaseResult:
        ids = [f"signalled-{uuid.uuid4().hex[:8]}-{n}" for n in range(count)]
        for workflow_id in ids:  # started beforehand, uncounted
            await self.client.start_workflow(SignalledWorkflow.run, id=workflow_id,
                                             task_queue=self.bare_queue)

        async def job(workflow_id: str, rec: Recorder) -> None:
            handle = self.client.get_workflow_handle_for(SignalledWorkflow.run, workflow_id)
            await rec.measure(handle.signal(SignalledWorkflow.event, "picked_up"))

        return await self.phase("bare signal", ids, job)


async def measure(stack, args) -> dict[str, PhaseResult]:
    bare_queue = f"signalled-{uuid.uuid4().hex[:8]}"
    worker = processes.spawn([sys.executable, "-m", "bench.webhook_bench", "--serve",
                              stack.temporal_address, bare_queue],
                             log=stack.logs / "signalled_worker.log")
    try:
        client = await connect(stack.temporal_address)
        limits = httpx.Limits(max_connections=args.concurrency)
        async with httpx.AsyncClient(base_url=stack.api_url, limits=limits, timeout=30) as api:
            pids = {name: pid for name, pid in stack.pids.items() if name != "bare worker"}
            pids["signal worker"] = worker.pid
            bench = WebhookBench(args, api, client, bare_queue, pids)
            warm = await bench.ready_orders(args.warmup, stack.listings)
            await bench.ingest(warm)
            await bench.bare_signal(args.warmup)
            print("measured", flush=True)
            signalled = await bench.ready_orders(args.events, stack.listings)
            orders = await bench.ready_orders(args.events, stack.listings)
            results = {"bare_signal": await bench.bare_signal(args.events),
                       "order_signal": await bench.order_signal(signalled)}
            signals_drained = await bench.drained(signalled)
            print(f"  worker drained the signals {signals_drained:.1f} s after they ended",
                  flush=True)
            results["api_ingest"] = await bench.ingest(orders)
            # The burst above queues work in the worker: time visibility once it has drained.
            drained = await bench.drained(orders)
            print(f"  worker drained the burst {drained:.1f} s after it ended", flush=True)
            # Accepted is not applied: events a second from the first send until the last
            # order shows its event, the same way for both.
            applied = {"order signal": len(signalled) / (results["order_signal"].seconds
                                                         + signals_drained),
                       "api ingest": len(orders) / (results["api_ingest"].seconds + drained)}
            share = applied["api ingest"] / applied["order signal"]
            print("  applied: " + ", ".join(f"{k} {v:.1f}/s" for k, v in applied.items())
                  + f"; ingest / order signal = {share:.2f}", flush=True)
            results["api_resend"] = await bench.resend(orders)
            results["api_visible"] = await bench.visible(orders[: args.visible])
            return results
    finally:
        processes.stop(worker)


def report(results: dict[str, PhaseResult]) -> None:
    print(f"\n{'':<14}{'ops/s':>9}{'p50 ms':>10}{'p99 ms':>10}")
    for name, result in results.items():
        print(f"{name:<14}{result.throughput:>9.1f}{result.percentile(50):>10.1f}"
              f"{result.percentile(99):>10.1f}")
    print_cpu(results, {"bare_signal": "bare signal", "order_signal": "order signal",
                        "api_ingest": "api ingest", "api_resend": "api resend (duplicates)",
                        "api_visible": "api visible"})
    ingest = results["api_ingest"].throughput
    for baseline in ("bare_signal", "order_signal"):
        bare = results[baseline].throughput
        share = ingest / bare if bare else 0.0
        print(f"ingest / {baseline.replace('_', ' ')} = {share:.2f} (target {TARGET}: "
              f"{'met' if share >= TARGET else 'missed'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--visible", type=int, default=100,
                        help="events timed until visible in GET /api/orders/{id}")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="the read model: embedded SQLite, or a throwaway PostgreSQL")
    parser.add_argument("--serve", nargs=2, metavar=("ADDRESS", "TASK_QUEUE"),
                        help=argparse.SUPPRESS)  # the bare worker subprocess
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(*args.serve))
        return 0
    with tempfile.TemporaryDirectory(prefix="oms-webhook-bench-") as tmp, \
            running_stack(Path(tmp), listings=4, inventory=10**9, log_level="INFO",
                          database=args.database) as stack:
        results = asyncio.run(measure(stack, args))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
