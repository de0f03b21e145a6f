"""The load: every order's script played through the API as its buyer, seller, carrier and
operator would, retrying as careful clients do, with every answer recorded.

Duplicates are part of the script: each create is submitted twice at once, each status change
is sent again with the same Idempotency-Key, and every carrier scan is resent after the others.
Retries keep the same body and key (a new signature for webhooks, whose timestamp ages), so
nothing a retry does may show in the read model.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from api.auth import Role, mint_token
from domain.order import PaymentMethod
from oms.settings import DEV_SHIPPING_SECRET
from tests.chaos.scripts import TRACKING, Command, Expected, Scans, Script
from tests.chaos.stack import JWT_SECRET
from webhooks.signature import HEADER, sign

# A step that got no answer for this long is lost as far as its client can tell.
STEP_DEADLINE = 180.0
RETRYABLE = {429, 503}


@dataclass(frozen=True)
class Answer:
    label: str
    status: int | None  # None: no answer at all (connection refused or cut, timeout)
    code: str | None = None
    retry_after: bool = False


@dataclass
class Order:
    """One scripted order as the load knows it."""

    script: Script
    expected: Expected
    buyer: str
    seller: str
    listing: str
    body: dict
    order_id: str | None = None
    scan_ids: list[str] = field(default_factory=list)


class Load:
    """The clients of the service; `answers` is every answer they got, `wrong` every answer a
    correct service would not have given (the step, what came and what should have)."""

    def __init__(self, api_url: str, rng: random.Random) -> None:
        self.http = httpx.AsyncClient(base_url=api_url, timeout=20)
        self.rng = rng
        self.answers: list[Answer] = []
        self.wrong: list[str] = []
        # Whether the last send needed more than one attempt: an attempt that went unanswered
        # (the API killed mid-request) or got a 503 may still have been applied.
        self.retried = False

    async def aclose(self) -> None:
        await self.http.aclose()

    # ---- one request, retried ----------------------------------------------------------------

    async def send(self, label: str, method: str, path: str, *, token: str | None,
                   json_body: dict | None = None, webhook: dict | None = None,
                   key: str | None = None) -> httpx.Response:
        """The request until it is answered with something other than 'try again'."""
        deadline = time.monotonic() + STEP_DEADLINE
        delay = 0.2
        self.retried = False
        for attempt in itertools.count():
            self.retried = attempt > 0
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if key:
                headers["Idempotency-Key"] = key
            content = None
            if webhook is not None:
                content = json.dumps(webhook).encode()
                headers.update({HEADER: sign(DEV_SHIPPING_SECRET, content, int(time.time())),
                                "content-type": "application/json"})
            try:
                response = await self.http.request(method, path, json=json_body,
                                                   content=content, headers=headers)
            except httpx.TransportError:
                self.answers.append(Answer(label, None))
            else:
                code = _code(response)
                self.answers.append(Answer(label, response.status_code, code,
                                           "retry-after" in response.headers))
                if response.status_code not in RETRYABLE:
                    return response
            if time.monotonic() > deadline:
                raise AssertionError(f"{label} {path}: no answer within {STEP_DEADLINE:.0f} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    # ---- one order -----------------------------------------------------------------------------

    async def run(self, order: Order) -> None:
        buyer = mint_token(JWT_SECRET, order.buyer)
        # The checkout submits twice at once (a double click, a retried request).
        first, second = await asyncio.gather(*(
            self.send("create", "POST", "/api/orders", token=buyer, json_body=order.body)
            for _ in range(2)))
        ids = set()
        for response in (first, second):
            if response.status_code != 201:
                self._wrong(order, "create", response, "201")
                return
            ids.add(response.json()["order"]["id"])
        if len(ids) != 1:
            self.wrong.append(f"{order.script.name}: one payment made orders {sorted(ids)}")
        order.order_id = ids.pop()
        for step, status_after in zip(order.script.steps, order.expected.path, strict=True):
            if isinstance(step, Command):
                await self._command(order, step)
            else:
                await self._scans(order, step)
            await self._shows(order, status_after.value)

    async def _command(self, order: Order, step: Command) -> None:
        actor = {"seller": order.seller, "buyer": order.buyer}.get(step.actor.value)
        token = (mint_token(JWT_SECRET, actor) if actor
                 else mint_token(JWT_SECRET, "chaos-operator", Role.OPERATOR))
        path, body = _request(order.order_id, step)
        key = uuid.uuid4().hex
        label = f"{step.route} {step.target.value}"
        for attempt in ("first", "again with the same key"):
            response = await self.send(label, "PUT" if step.route == "status" else "POST",
                                       path, token=token, json_body=body, key=key)
            shown = response.json()["order"]["status"] if response.status_code == 200 else None
            if response.status_code != 200 or shown != step.target.value:
                self._wrong(order, f"{label} ({attempt})", response, f"200 {step.target}")

    async def _scans(self, order: Order, step: Scans) -> None:
        """Each scan once in the script's order (each accepted before the next is sent, as one
        carrier's events come), then every one of them again, shuffled."""
        scans = [(uuid.uuid4().hex, status) for status in step.statuses]
        order.scan_ids += [event_id for event_id, _ in scans]
        resends = scans * 2
        self.rng.shuffle(resends)
        for n, (event_id, status) in enumerate(scans + resends):
            event = {"eventId": event_id, "orderId": order.order_id, "status": status,
                     "trackingNumber": TRACKING, "carrier": "UPS", "location": "Newark, NJ",
                     "occurredAt": datetime.now(UTC).isoformat()}
            label = f"shipping {status}"
            response = await self.send(label, "POST", "/api/webhooks/shipping", token=None,
                                       webhook=event)
            outcome = response.json().get("status") if response.status_code == 200 else None
            # A resend is a duplicate or, if the first send has not reached the workflow yet,
            # accepted; so is the first send when an earlier attempt of it may have got through.
            resent = n >= len(scans) or self.retried
            allowed = {"accepted", "duplicate"} if resent else {"accepted"}
            if outcome not in allowed:
                self._wrong(order, label, response, f"200 {' or '.join(sorted(allowed))}")

    async def _shows(self, order: Order, status: str) -> None:
        """Wait until the API shows the status the step leads to (events are applied after
        they are acknowledged; a move is shown once the workflow has written it)."""
        operator = mint_token(JWT_SECRET, "chaos-operator", Role.OPERATOR)
        deadline = time.monotonic() + STEP_DEADLINE
        shown = None
        while time.monotonic() < deadline:
            response = await self.send("get order", "GET", f"/api/orders/{order.order_id}",
                                       token=operator)
            if response.status_code != 200:
                self._wrong(order, "get order", response, "200")
                return
            shown = response.json()["order"]["status"]
            if shown == status:
                return
            await asyncio.sleep(0.2)
        self.wrong.append(f"{order.script.name} {order.order_id}: shows {shown}, "
                          f"not {status}, {STEP_DEADLINE:.0f} s after the step")

    def _wrong(self, order: Order, step: str, response: httpx.Response, wanted: str) -> None:
        self.wrong.append(f"{order.script.name} ({order.script.method}) {order.order_id}: "
                          f"{step} answered {response.status_code} {response.text[:300]}; "
                          f"wanted {wanted}")

    def summary(self) -> Counter:
        return Counter(a.status for a in self.answers)


def _request(order_id: str | None, step: Command) -> tuple[str, dict]:
    base = f"/api/orders/{order_id}"
    if step.route == "cancel":
        return f"{base}/cancel", {"reasonCode": "buyer_request" if step.actor.value == "buyer"
                                  else "seller_out_of_stock"}
    if step.route == "dispute":
        return f"{base}/dispute", {"reason": "the item arrived damaged"}
    if step.route == "resolve":
        body = {"outcome": "refund" if step.target.value == "refunded" else "release",
                "note": "settled after review"}
        if step.refund_amount is not None:
            body["amount"] = str(step.refund_amount)
        return f"{base}/dispute/resolve", body
    body = {"status": step.target.value}
    if step.target.value == "shipped":
        body.update(trackingNumber=TRACKING, carrier="UPS")
    return f"{base}/status", body


def _code(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        return response.json().get("code")
    except ValueError:
        return None


def currency_of(method: PaymentMethod) -> str:
    return "USD" if method is PaymentMethod.FIAT else "USDC"
