"""Random sequences of order commands through the API, checked against the pure domain model.

A Hypothesis state machine creates orders (card at localstripe, escrow, crypto), changes their
status as buyer, seller or operator, sends signed carrier scans, opens and resolves disputes
and cancels. Each answer must agree with `domain/`: a 200 only for a transition
`check_transition` allows, a refusal only for one it forbids; a scan moves the order exactly
where `decide` says. After every step each order's status, read back through the API, equals
the model's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain.commands import OrderPolicy
from domain.errors import DomainError
from domain.events import (
    DISPUTE_OUTCOMES,
    SHIPPING_STATUSES,
    EventSource,
    ExternalEvent,
    decide,
)
from domain.order import (
    TRANSITIONS,
    ActorKind,
    OrderStatus,
    PaymentMethod,
    check_transition,
    flow_for,
)
from oms.settings import DEV_SHIPPING_SECRET
from tests.conftest import bearer, carrier
from tests.factories import unique
from tests.fuzz.conftest import OPERATOR, ServedApi, place_order
from tests.polling import eventually
from webhooks import signature

S = OrderStatus
DISPUTE_WINDOW = OrderPolicy().dispute_window
# Targets of PUT /status; cancel and dispute have their own routes (a reason code, a reason).
PUT_TARGETS = sorted(set(S) - {S.CANCELLED, S.DISPUTED})
# SYSTEM: a carrier integration's token, which may report shipping progress.
ACTORS = [ActorKind.BUYER, ActorKind.SELLER, ActorKind.OPERATOR, ActorKind.SYSTEM]
SCAN_FOR = {status: kind for kind, status in SHIPPING_STATUSES.items() if status}
REFUSALS = {403, 409}
# What the run exercised, so a run that never got past the first status fails too.
SEEN: Counter[str] = Counter()


class Order:
    def __init__(self, seeded):
        self.seeded = seeded
        self.status = flow_for(PaymentMethod(seeded.method))[0]
        self.delivered_at: datetime | None = None

    def headers(self, actor: ActorKind) -> dict[str, str]:
        if actor is ActorKind.OPERATOR:
            return OPERATOR
        if actor is ActorKind.SYSTEM:
            return carrier()
        return bearer(self.seeded.buyer_id if actor is ActorKind.BUYER else self.seeded.seller_id)

    def allows(self, actor: ActorKind, target: OrderStatus, tracking: str | None = None) -> bool:
        try:
            check_transition(actor, self.status, target, tracking_number=tracking,
                             delivered_at=self.delivered_at, now=datetime.now(UTC),
                             dispute_window=DISPUTE_WINDOW)
        except DomainError:
            return False
        return True

    def moved_to(self, target: OrderStatus) -> None:
        self.status = target
        if target is S.DELIVERED:
            self.delivered_at = datetime.now(UTC)


def machine_for(api: ServedApi, session_db):
    class OrderCommands(RuleBasedStateMachine):
        orders = Bundle("orders")

        def __init__(self):
            super().__init__()
            self.known: list[Order] = []

        def call(self, method: str, path: str, **kwargs):
            return api.run(api.http.request(method, path, **kwargs))

        def expect(self, order: Order, allowed: bool, target: OrderStatus, response, what: str):
            if allowed:
                assert response.status_code == 200, f"{what}: {order.status} -> {target} " \
                    f"is allowed, got {response.status_code} {response.text}"
                order.moved_to(target)
                SEEN["accepted"] += 1
            else:
                SEEN["refused"] += 1
                assert response.status_code in REFUSALS, f"{what}: {order.status} -> {target} " \
                    f"is forbidden, got {response.status_code} {response.text}"
                assert response.headers["content-type"] == "application/problem+json"

        @precondition(lambda self: len(self.known) < 3)  # a few orders, each taken far
        @rule(target=orders, method=st.sampled_from(["escrow", "fiat", "crypto"]))
        def create(self, method):
            seeded = api.run(place_order(api.http, session_db, method))
            order = Order(seeded)
            self.known.append(order)
            return order

        @rule(order=orders, data=st.data())
        def advance(self, order, data):
            """A next step of the order's flow by someone who may take it, so sequences get far
            along it (the rules below try anything by anyone)."""
            onward = sorted(TRANSITIONS[order.status] & set(PUT_TARGETS))
            target = data.draw(st.sampled_from(onward), "to") if onward else S.COMPLETED
            if target in SCAN_FOR and data.draw(st.booleans(), "by scan"):
                self.scan(order, SCAN_FOR[target])
            else:
                self.put_status(order, target, data)

        @rule(order=orders, data=st.data())
        def change_status(self, order, data):
            self.put_status(order, data.draw(st.sampled_from(PUT_TARGETS), "to"), data)

        def put_status(self, order, target, data):
            tracking = "1Z999AA1234567890" if target is S.SHIPPED else None
            able = [a for a in ACTORS if order.allows(a, target, tracking)] or ACTORS
            actor = data.draw(st.sampled_from(able) | st.sampled_from(ACTORS), "actor")
            body = {"status": target.value}
            if tracking:
                body["trackingNumber"] = tracking
            response = self.call("PUT", f"/api/orders/{order.seeded.order_id}/status",
                                 json=body, headers=order.headers(actor))
            self.expect(order, order.allows(actor, target, tracking), target, response,
                        f"PUT /status as {actor}")

        @rule(order=orders, data=st.data())
        def named_action(self, order, data):
            """Cancel (as anyone), open a dispute (the buyer) or resolve one (an operator)."""
            action = data.draw(st.sampled_from(["cancel", "dispute", "resolve"]), "action")
            path = f"/api/orders/{order.seeded.order_id}/{action}".replace("resolve",
                                                                             "dispute/resolve")
            if action == "cancel":
                actor = data.draw(st.sampled_from(ACTORS), "actor")
                target, body = S.CANCELLED, {"reasonCode": "other", "note": "changed plans"}
            elif action == "dispute":
                actor, target, body = ActorKind.BUYER, S.DISPUTED, {"reason": "not as described"}
            else:
                outcome = data.draw(st.sampled_from(sorted(DISPUTE_OUTCOMES)), "outcome")
                actor, target = ActorKind.OPERATOR, DISPUTE_OUTCOMES[outcome]
                body = {"outcome": outcome, "note": "settled"}
            response = self.call("POST", path, json=body, headers=order.headers(actor))
            self.expect(order, order.allows(actor, target), target, response,
                        f"{action} as {actor}")

        @rule(order=orders, data=st.data())
        def carrier_scan(self, order, data):
            onward = [kind for kind, status in SHIPPING_STATUSES.items()
                      if status in TRANSITIONS[order.status]] or sorted(SHIPPING_STATUSES)
            self.scan(order, data.draw(st.sampled_from(onward)
                                       | st.sampled_from(sorted(SHIPPING_STATUSES)), "scan"))

        def scan(self, order, scan):
            event_id = unique("evt")
            now = datetime.now(UTC)
            body = json.dumps({"eventId": event_id, "orderId": order.seeded.order_id,
                               "status": scan, "trackingNumber": "1Z999AA1234567890",
                               "carrier": "UPS", "occurredAt": now.isoformat()}).encode()
            header = signature.sign(DEV_SHIPPING_SECRET, body, int(time.time()))
            response = self.call("POST", "/api/webhooks/shipping", content=body, headers={
                signature.HEADER: header, "content-type": "application/json"})
            assert response.status_code == 200, response.text
            predicted = decide(order.status, ExternalEvent(
                source=EventSource.SHIPPING, event_id=event_id, kind=scan, occurred_at=now,
                tracking_number="1Z999AA1234567890", carrier="UPS")).target
            if predicted is not None:
                order.moved_to(predicted)
                SEEN["moved by scans"] += 1

        @invariant()
        def every_status_is_the_models(self):
            # A scan is a signal, applied by the workflow after its 200: wait for its effect
            # (a wrong status fails once the wait is over).
            for order in self.known:
                api.run(eventually(lambda order=order: status_is(order), timeout=10))

    async def status_is(order: Order) -> bool:
        response = await api.http.get(f"/api/orders/{order.seeded.order_id}", headers=OPERATOR)
        assert response.status_code == 200, response.text
        status = response.json()["order"]["status"]
        assert status == order.status, f"{order.seeded}: API says {status}, model {order.status}"
        return True

    return OrderCommands


# Bounded for CI: ten sequences of up to thirty steps, the same ones on every run. No shrinking:
# each replay places real orders, so a failure is reported with its whole sequence at once.
BOUNDS = settings(max_examples=10, stateful_step_count=30, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck),
                  phases=(Phase.explicit, Phase.generate))


async def test_random_command_sequences_follow_the_domain_model(served_api, session_db):
    machine = machine_for(served_api, session_db)
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=BOUNDS)
    assert SEEN["accepted"] >= 20 and SEEN["refused"] >= 20 and SEEN["moved by scans"] >= 3, SEEN
