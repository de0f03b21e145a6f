"""Every operation of the app's own OpenAPI document, fuzzed by schemathesis with every check on:
no server error, each status code and content type documented, each body matching its declared
schema, invalid input refused, a request without its token refused.

Requests go to the real app (uvicorn, the session's Temporal, worker and SQLite) as a real
caller: an operator, or for the buyer's own routes the buyer of a seeded order. Path ids are
either generated or those of seeded orders, listings and people, so the order routes are
exercised past 404. Webhook bodies are signed as their senders sign them, or sent unsigned
(the documented 401).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import requests
import schemathesis
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.auth import Role, mint_token
from api.main import create_app
from oms.settings import DEV_ESCROW_SECRET, DEV_SHIPPING_SECRET, DEV_STRIPE_WEBHOOK_SECRET, Settings
from tests.conftest import JWT_SECRET
from tests.fuzz.conftest import SeededOrder, ServedApi, place_order
from webhooks import signature

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}

# Examples per operation and generation mode: 30 operations stay within about a minute.
EXAMPLES = 12
OPERATOR_TOKEN = mint_token(JWT_SECRET, "fuzz-operator", Role.OPERATOR)
# The buyer's own routes, called with the seeded buyer's token; everything else as an operator.
BUYER_OPERATIONS = {"POST /api/orders/{order_id}/dispute", "GET /api/notifications",
                    "POST /api/notifications/{notification_id}/read",
                    "GET /api/orders/buyer/{buyer_id}"}


# positive_data_acceptance says a body that matches the schema must not get a 422. These
# operations hold rules JSON Schema does not state, so a schema-valid request may still be
# refused with their documented 422; every other check, and this one for every other status,
# stays on for them.
RULES_BEYOND_THE_SCHEMA = {
    "GET /api/orders": "status: a comma-separated list of known statuses",
    "GET /api/orders/buyer/{buyer_id}": "status: as GET /api/orders",
    "GET /api/orders/seller/{seller_id}": "status: as GET /api/orders",
    "GET /api/orders/seller/{seller_id}/export.csv": "status: as GET /api/orders",
    "POST /api/orders": "the fields each payment method needs; countries and postal codes",
    "PUT /api/users/{user_id}": "free text without control characters; a wallet's EIP-55 "
                                "checksum",
    "PUT /api/listings/{listing_id}": "free text without control characters",
    "PUT /api/orders/{order_id}/status": "free text without control characters; dates",
    "POST /api/orders/{order_id}/cancel": "free text without control characters",
    "POST /api/orders/{order_id}/dispute": "free text without control characters",
    "POST /api/orders/{order_id}/dispute/resolve": "free text; an amount in its currency's scale",
    "POST /api/orders/{order_id}/refunds": "free text; an amount in its currency's scale; "
                                           "items of the order",
    "POST /api/orders/{order_id}/shipments": "free text; dates; items of the order",
    "POST /api/webhooks/shipping": "free text without control characters",
    "POST /api/webhooks/escrow": "orderId or escrowId, one of them",
    "POST /api/webhooks/stripe": "the event's object as Stripe shapes it",
}


def positive_data_acceptance_but_documented_rules(ctx, response, case):
    if response.status_code == 422 and case.operation.label in RULES_BEYOND_THE_SCHEMA:
        return None
    return positive_data_acceptance(ctx, response, case)


def negative_data_rejection_413_included(ctx, response, case):
    # A 413 (body over the size limit) refuses the request before it is read, as a 422 would;
    # schemathesis' default list of refusals does not name it.
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


# Who calls: the seeded buyer once the orders exist (the fixture below fills it in).
BUYER: dict[str, str] = {}


@SCHEMA.auth(refresh_interval=None)
class Callers:
    """The caller's token, as a registered auth so schemathesis knows it: its negative cases
    leave the token out on purpose, and its ignored-auth check resends without it."""

    def get(self, case, context) -> str:
        return BUYER["token"] if case.operation.label in BUYER_OPERATIONS else OPERATOR_TOKEN

    def set(self, case, token, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def seeded(served_api: ServedApi, session_db) -> list[SeededOrder]:
    orders = [await place_order(served_api.http, session_db, method)
              for method in ("escrow", "fiat", "crypto")]
    BUYER["token"] = mint_token(JWT_SECRET, orders[0].buyer_id, Role.USER)
    return orders


class _SignedWith(requests.auth.AuthBase):
    """Signs the exact bytes requests is about to send, as the webhook's sender would."""

    def __init__(self, operation: str):
        self.operation = operation

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        now = int(time.time())
        if self.operation.endswith("/stripe"):
            request.headers["Stripe-Signature"] = stripe.WebhookSignature \
                .generate_signature_header(body.decode("utf-8", "replace"),
                                           DEV_STRIPE_WEBHOOK_SECRET, now)
        else:
            secret = DEV_SHIPPING_SECRET if self.operation.endswith("/shipping") \
                else DEV_ESCROW_SECRET
            request.headers[signature.HEADER] = signature.sign(secret, body, now)
        return request


def _path_ids(seeded: list[SeededOrder]) -> st.SearchStrategy[dict[str, str]]:
    """Path parameters naming things that exist (a seeded order, its people and listing)."""
    return st.sampled_from([
        {"order_id": o.order_id, "buyer_id": o.buyer_id, "seller_id": o.seller_id,
         "listing_id": o.listing_id, "user_id": o.buyer_id} for o in seeded])


def _cases(operation, seeded: list[SeededOrder]):
    names = {p.name for p in operation.path_parameters}
    strategies = [operation.as_strategy(generation_mode=mode)
                  for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    if names:
        strategies += [_path_ids(seeded).flatmap(lambda ids: operation.as_strategy(
            path_parameters={name: ids[name] for name in names if name in ids}))]
    return st.one_of(strategies)


def _fuzz(api: ServedApi, seeded: list[SeededOrder], label: str) -> None:
    operation = OPERATIONS[label]
    plain, signed = requests.Session(), requests.Session()
    signed.auth = _SignedWith(label)
    is_webhook = label.startswith("POST /api/webhooks/")

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=_cases(operation, seeded), sign=st.booleans())
    def run(case, sign):
        session = signed if is_webhook and sign else plain
        case.call_and_validate(base_url=api.base_url, session=session,
                               excluded_checks=[positive_data_acceptance, negative_data_rejection],
                               additional_checks=[positive_data_acceptance_but_documented_rules,
                                                  negative_data_rejection_413_included])

    try:
        run()
    finally:
        plain.close()
        signed.close()


# Known defect, found by this test: a codec body with an unknown top-level key is accepted and its
# non-object payloads read as empty ones (`{"x": 1, "payloads": [1.5]}` -> 200 with one empty
# payload; without "x" it is a 422). Strict, so the fix turns these green.
KNOWN_DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize("label", [
    pytest.param(label, marks=pytest.mark.xfail(reason=KNOWN_DEFECTS[label], strict=True))
    if label in KNOWN_DEFECTS else label for label in sorted(OPERATIONS)])
async def test_operation_conforms_to_its_schema(served_api, seeded, label):
    await asyncio.to_thread(_fuzz, served_api, seeded, label)
