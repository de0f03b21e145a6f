"""`python -m bench.cart_bench`: what several items and parcels cost, through the API.

On one stack (SQLite read model, uvicorn and worker subprocesses, as `bench.run_bench`), in
alternating rounds so drift on a shared machine falls on both sides alike:

  create 1 item    POST /api/orders of one listing (2 units)
  create 5 items   POST /api/orders of five listings (2 units each)
  status change    PUT /api/orders/{id}/status to order_confirmed
  ship a parcel    POST /api/orders/{id}/shipments with one item of a ready 5-item order
                   (a parcel that leaves the rest to ship: the order keeps its status)

Targets (issue "Orders with several items and several parcels"): a 5-item create costs at most
1.3x a 1-item create; a parcel costs at most a status change.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx

from api.auth import mint_token
from bench.load import PhaseResult, Recorder, combine, run_phase
from bench.stack import BUYER, JWT_SECRET, PRICE, SELLER, running_stack
from tests.factories import checkout_body

TARGETS = {"create": 1.3, "parcel": 1.0}  # 5-item create / 1-item; parcel / status change


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cart_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=150, help="orders per kind and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    return parser.parse_args()


def _cart(listings: list[str], items: int) -> dict[str, Any]:
    body = checkout_body(buyer_id=BUYER, seller_id=SELLER, listing_id=listings[0],
                         method="crypto", total=str(PRICE * 2 * items))
    if items > 1:
        data = body["checkoutData"]
        del data["listingId"], data["quantity"]
        data["items"] = [{"listingId": x, "quantity": 2} for x in listings[:items]]
    return body


async def _ok(request, expected: int) -> httpx.Response:
    response = await request
    if response.status_code != expected:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


def main(args: argparse.Namespace) -> None:
    # The stack is started outside the event loop: it migrates and seeds with asyncio.run.
    with tempfile.TemporaryDirectory() as tmp, running_stack(
            Path(tmp), listings=5, inventory=10_000_000, log_level="WARNING") as stack:
        kinds = asyncio.run(drive(stack, args))
    report(kinds)


async def drive(stack, args: argparse.Namespace) -> dict[str, list[PhaseResult]]:
    buyer = {"Authorization": f"Bearer {mint_token(JWT_SECRET, BUYER)}"}
    seller = {"Authorization": f"Bearer {mint_token(JWT_SECRET, SELLER)}"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:

        async def phase(name, items, job) -> tuple[PhaseResult, list]:
            result, done = await run_phase(name, items, job, concurrency=args.concurrency,
                                           op_timeout=30, phase_timeout=900)
            print(f"  {name:<15} {result.ops:>5} ops {result.errors:>3} errors "
                  f"p50 {result.percentile(50):6.1f} ms", flush=True)
            return result, done

        def create(items: int):
            async def job(_: int, rec: Recorder) -> str:
                answer = await rec.measure(_ok(http.post(
                    "/api/orders", json=_cart(stack.listings, items), headers=buyer), 201))
                return answer.json()["order"]["id"]
            return job

        async def confirm(order_id: str, rec: Recorder) -> None:
            await rec.measure(_ok(http.put(f"/api/orders/{order_id}/status", headers=seller,
                                           json={"status": "order_confirmed"}), 200))

        async def ready(order_id: str, rec: Recorder) -> str:
            for status in ("order_confirmed", "processing", "ready_to_ship"):
                await _ok(http.put(f"/api/orders/{order_id}/status", headers=seller,
                                   json={"status": status}), 200)
            details = await _ok(http.get(f"/api/orders/{order_id}", headers=seller), 200)
            return f"{order_id}/{details.json()['order']['items'][0]['id']}"

        async def ship(target: str, rec: Recorder) -> None:
            order_id, item_id = target.split("/")
            await rec.measure(_ok(http.post(
                f"/api/orders/{order_id}/shipments", headers=seller,
                json={"trackingNumber": f"1Z{order_id[:8].upper()}",
                      "items": [{"itemId": item_id, "quantity": 2}]}), 201))

        await phase("warm-up", range(20), create(5))
        kinds: dict[str, list[PhaseResult]] = {k: [] for k in
                                               ("one", "five", "status", "parcel")}
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}", flush=True)
            one, singles = await phase("create 1 item", range(args.orders), create(1))
            five, carts = await phase("create 5 items", range(args.orders), create(5))
            status, _ = await phase("status change", singles, confirm)
            _, targets = await phase("(ready to ship)", carts, ready)
            parcel, _ = await phase("ship a parcel", targets, ship)
            for key, result in zip(kinds, (one, five, status, parcel), strict=True):
                kinds[key].append(result)
    return kinds


def report(kinds: dict[str, list[PhaseResult]]) -> None:
    total = {key: combine(key, results) for key, results in kinds.items()}
    create_ratio = total["five"].percentile(50) / total["one"].percentile(50)
    parcel_ratio = total["parcel"].percentile(50) / total["status"].percentile(50)
    print(f"\n{'':15}{'p50 ms':>9}{'p99 ms':>9}{'ops/s':>8}")
    for key, label in (("one", "create 1 item"), ("five", "create 5 items"),
                       ("status", "status change"), ("parcel", "ship a parcel")):
        r = total[key]
        print(f"{label:15}{r.percentile(50):9.1f}{r.percentile(99):9.1f}{r.throughput:8.1f}")
    print(f"\n5-item create / 1-item create (p50): {create_ratio:.2f} "
          f"(target <= {TARGETS['create']})")
    print(f"parcel / status change (p50): {parcel_ratio:.2f} (target <= {TARGETS['parcel']})")


if __name__ == "__main__":
    main(parse_args())
