"""After the storm: what the read model, the API, Temporal and localstripe hold, against what
each order's script says it must. Every check names what it found wrong; none stops the others,
so one run reports everything that was lost or duplicated."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import httpx
import stripe
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus

from api.auth import Role, mint_token
from db import tables as t
from db.engine import Database
from domain.money import to_minor_units
from domain.order import PaymentMethod
from tests.chaos.load import Answer, Order
from tests.chaos.stack import JWT_SECRET


class Findings:
    def __init__(self) -> None:
        self.by_check: dict[str, list[str]] = defaultdict(list)
        self.checked: Counter = Counter()  # how many things each check looked at

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checked[name] += 1
        if not ok:
            self.by_check[name].append(detail)

    def report(self) -> str:
        return "\n".join(f"{name}: {len(found)} wrong, e.g. {found[:3]}"
                         for name, found in self.by_check.items())


async def read_model(db: Database, orders: list[Order], stock: dict[str, int],
                     found: Findings) -> None:
    by_id = {o.order_id: o for o in orders}
    async with db.reader.connect() as conn:
        rows = {r.id: r for r in (await conn.execute(select(t.orders))).all()}
        history = Counter(r.order_id for r in (await conn.execute(
            select(t.order_status_history.c.order_id))).all())
        timeline = (await conn.execute(select(t.order_tracking_events.c.order_id,
                                              t.order_tracking_events.c.sequence))).all()
        notes = Counter(r.order_id for r in (await conn.execute(
            select(t.notifications.c.order_id))).all())
        ledger = defaultdict(list)
        for r in (await conn.execute(select(t.payment_operations))).all():
            ledger[r.order_id].append(r)
        inbox = (await conn.execute(select(t.webhook_events.c.event_id,
                                           t.webhook_events.c.status))).all()
        alerts = (await conn.execute(select(t.alerts.c.kind, t.alerts.c.order_number))).all()
        listings = dict((await conn.execute(select(t.listings.c.id, t.listings.c.inventory))
                         ).all())
        references = (await conn.execute(
            select(t.orders.c.payment_reference, func.count())
            .group_by(t.orders.c.payment_reference).having(func.count() > 1))).all()

    found.check("every scripted order exists, and no other", set(rows) == set(by_id),
                f"missing {set(by_id) - set(rows)}, extra {set(rows) - set(by_id)}")
    found.check("one order per payment reference", not references, f"{references}")
    for order_id, order in by_id.items():
        row, exp = rows.get(order_id), order.expected
        name = f"{order.script.name} ({order.script.method}) {order_id}"
        if row is None:
            continue
        found.check("final status", row.status == exp.status.value,
                    f"{name}: {row.status}, expected {exp.status}")
        found.check("payment state", row.payment_status == exp.payment_state.value,
                    f"{name}: {row.payment_status}, expected {exp.payment_state}")
        found.check("one history row per change", history[order_id] == exp.changes,
                    f"{name}: {history[order_id]} rows, expected {exp.changes}")
        sequences = [s for o, s in timeline if o == order_id]
        moved = sorted(s for s in sequences if s >= 0)
        found.check("one timeline entry per change", moved == list(range(exp.changes)),
                    f"{name}: sequences {moved}, expected 0..{exp.changes - 1}")
        found.check("one timeline entry per scan that moved nothing",
                    sequences.count(-1) == exp.events_that_moved_nothing,
                    f"{name}: {sequences.count(-1)}, expected {exp.events_that_moved_nothing}")
        found.check("one notification per change and recipient",
                    notes[order_id] == 2 * exp.changes,
                    f"{name}: {notes[order_id]}, expected {2 * exp.changes}")
        money = sorted((r.kind, r.amount) for r in ledger[order_id])
        wanted = sorted([("refund", a) for a in exp.refunds]
                        + [("release", a) for a in exp.releases])
        found.check("one ledger entry per money movement", money == wanted,
                    f"{name}: {money}, expected {wanted}")
    inbox_ids = Counter(event_id for event_id, _ in inbox)
    for order in orders:
        for event_id in order.scan_ids:
            found.check("one inbox row per carrier event", inbox_ids[event_id] == 1,
                        f"{order.order_id} event {event_id}: {inbox_ids[event_id]} rows")
    found.check("every carrier event applied", all(s == "accepted" for _, s in inbox),
                f"{Counter(s for _, s in inbox)}")
    found.check("no alerts (nothing refused, nothing stuck)", not alerts, f"{alerts[:5]}")
    for listing, initial in stock.items():
        sold = sum(o.script.quantity for o in orders if o.listing == listing)
        back = sum(o.script.quantity for o in orders
                   if o.listing == listing and o.expected.restocked)
        found.check("stock = initial - sold + restored", listings[listing] == initial - sold + back,
                    f"{listing}: {listings[listing]}, expected {initial} - {sold} + {back}")


def card_refunds(stripe_base: str, orders: list[Order], db_ledger: dict[str, list],
                 found: Findings) -> None:
    """The refunds localstripe holds for each card payment: the script's, each once."""
    client = stripe.StripeClient("sk_test_oms_chaos", base_addresses={"api": stripe_base})
    for order in orders:
        if order.script.method is not PaymentMethod.FIAT:
            continue
        intent = order.body["paymentResult"]["paymentIntentId"]
        refunds = client.v1.refunds.list({"payment_intent": intent, "limit": 100}).data
        amounts = sorted(r.amount for r in refunds)
        wanted = sorted(to_minor_units(a, "USD") for a in order.expected.refunds)
        found.check("one provider refund per card money movement", amounts == wanted,
                    f"{order.order_id} {intent}: {amounts}, expected {wanted}")
        found.check("the ledger names the provider's refunds",
                    sorted(r.id for r in refunds) == sorted(db_ledger.get(order.order_id, [])),
                    f"{order.order_id}: localstripe {[r.id for r in refunds]}, "
                    f"ledger {db_ledger.get(order.order_id)}")


async def ledger_ids(db: Database) -> dict[str, list]:
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(t.payment_operations.c.order_id,
                                          t.payment_operations.c.external_id))).all()
    out: dict[str, list] = defaultdict(list)
    for order_id, external_id in rows:
        out[order_id].append(external_id)
    return out


async def through_the_api(api_url: str, orders: list[Order], found: Findings) -> None:
    token = mint_token(JWT_SECRET, "chaos-operator", Role.OPERATOR)
    operator = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, timeout=30, headers=operator) as http:
        for order in orders:
            if order.order_id is None:
                continue  # never created: the load reported its answer
            exp = order.expected
            got = await http.get(f"/api/orders/{order.order_id}")
            listed = await http.get(f"/api/orders/{order.order_id}/history")
            found.check("the API answers for every order",
                        (got.status_code, listed.status_code) == (200, 200),
                        f"{order.order_id}: {got.status_code} {got.text[:200]}, "
                        f"history {listed.status_code}")
            if (got.status_code, listed.status_code) != (200, 200):
                continue
            details, history = got.json()["order"], listed.json()
            found.check("the API shows the final status and payment state",
                        (details["status"], details["payment"]["status"])
                        == (exp.status.value, exp.payment_state.value),
                        f"{order.order_id}: {details['status']}, {details['payment']['status']}")
            found.check("the API's timeline and history",
                        (len(details["timeline"]), len(history["history"]))
                        == (exp.changes + exp.events_that_moved_nothing, exp.changes),
                        f"{order.order_id}: {len(details['timeline'])} timeline entries, "
                        f"{len(history['history'])} history rows")
            refunded = sum((Decimal(op["amount"]) for op in details["payment"].get(
                "operations", []) if op["kind"] == "refund"), Decimal(0))
            found.check("the API's refunds", refunded == sum(exp.refunds, Decimal(0)),
                        f"{order.order_id}: {refunded}, expected {sum(exp.refunds)}")


async def workflows_closed(client: Client, workflow_ids: dict[str, str],
                           found: Findings) -> None:
    for order_id, workflow_id in workflow_ids.items():
        status = (await client.get_workflow_handle(workflow_id).describe()).status
        found.check("every order's workflow completed",
                    status is WorkflowExecutionStatus.COMPLETED, f"{order_id}: {status}")


def answers(all_answers: list[Answer], found: Findings) -> None:
    """No 500 ever; a 503 always says when to come back."""
    for answer in all_answers:
        if answer.status is None:
            continue
        found.check("no 5xx but 503", answer.status < 500 or answer.status == 503,
                    f"{answer.label}: {answer.status} {answer.code}")
        if answer.status == 503:
            found.check("a 503 has Retry-After", answer.retry_after, f"{answer.label}")
