"""Input that once found a 500 or a leak: unparseable signed webhook bodies, control
characters in text, made-up countries and postal codes, CSV cells a spreadsheet would run."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from sqlalchemy import update

from api.auth import Role
from db import tables as t
from oms.settings import DEV_ESCROW_SECRET, DEV_SHIPPING_SECRET
from tests.api.test_webhooks import new_order, post_signed, ready_to_ship, scan
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from webhooks.signature import sign

OPS = bearer("ops", Role.OPERATOR)

pytestmark = pytest.mark.usefixtures("stack_worker")

HOSTILE_BODIES = {
    "a 5,000-digit number": b'{"eventId": "e1", "n": ' + b"9" * 5000 + b"}",
    "a 5,000-digit exponent": b'{"eventId": "e1", "n": 1e' + b"9" * 5000 + b"}",
    "invalid UTF-8": b'{"eventId": "\xff\xfe"}',
    "5,000-deep nesting": b"[" * 5000 + b"]" * 5000,
    "a lone surrogate": b'{"eventId": "\\ud800"}',
    "nothing": b"",
}


@pytest.mark.parametrize("source", ["shipping", "escrow"])
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_a_signed_webhook_body_that_cannot_be_parsed_is_a_422(api, source, body):
    secret = DEV_SHIPPING_SECRET if source == "shipping" else DEV_ESCROW_SECRET
    answer = await api.post(f"/api/webhooks/{source}", content=body, headers={
        "X-OMS-Signature": sign(secret, body, int(time.time())),
        "content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_an_api_body_that_cannot_be_parsed_is_a_4xx(api, body):
    answer = await api.put("/api/users/someone", content=body, headers={
        **bearer("ops", Role.OPERATOR), "content-type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("name", ["Jo\x00hn", "John\nBcc: all@example.com", "Jo\x1bhn",
                                  "Jo\u0085hn", "Jo\ud800hn"])
async def test_control_characters_in_one_line_text_are_refused(api, name):
    body = json.dumps({"name": name, "email": "john@example.com"})  # \u escapes: ASCII
    answer = await api.put(f"/api/users/{unique('u')}", content=body,
                           headers={**OPS, "content-type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR"), answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["name"]


async def test_a_note_keeps_its_line_breaks_but_not_a_nul(api, session_db):
    order_id, buyer, _, _ = await new_order(api, session_db, method="escrow")
    nul = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(buyer),
                         json={"reasonCode": "other", "note": "bye\x00"})
    assert (nul.status_code, nul.json()["errors"][0]["field"]) == (422, "note")
    lines = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(buyer),
                           json={"reasonCode": "other", "note": "line one\nline two\tend"})
    assert lines.status_code == 200, lines.text


async def test_a_webhook_with_a_nul_in_its_text_is_refused(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    await ready_to_ship(api, order_id, seller)
    answer = await post_signed(api, "shipping", scan(order_id, "picked_up", location="Ne\x00wark"))
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (422, "location")


@pytest.mark.parametrize(("country", "zip_code", "field"), [
    ("XX", "10001", "country"),  # the right shape, assigned to no country
    ("UK", "SW1A 1AA", "country"),  # the United Kingdom is GB
    ("US", "1000", "zipCode"),
    ("DE", "SW1A 1AA", "zipCode"),
    ("CA", "12345", "zipCode"),
])
async def test_countries_are_iso_3166_and_postal_codes_fit_them(api, session_db, country,
                                                                zip_code, field):
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing)
    body["checkoutData"]["shippingAddress"].update(country=country, zipCode=zip_code)
    answer = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert (answer.status_code, answer.json()["code"]) == (422, "INVALID_SHIPPING_ADDRESS")
    assert [e["field"] for e in answer.json()["errors"]] == [
        f"checkoutData.shippingAddress.{field}"]


@pytest.mark.parametrize(("country", "zip_code"), [("GB", "SW1A 1AA"), ("US", "10001-1234"),
                                                   ("NL", "1012 AB"), ("AE", "00000")])
async def test_a_postal_code_in_its_country_format_is_accepted(api, session_db, country,
                                                                zip_code):
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing)
    body["checkoutData"]["shippingAddress"].update(country=country, zipCode=zip_code)
    answer = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("name", ["\t=HYPERLINK(\"http://x\")", "\r@SUM(A1)", "=1+1", "-2"])
async def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(api, session_db, name):
    order_id, buyer, seller, _ = await new_order(api, session_db, method="escrow")
    # Names reach the export from the users table, whatever wrote them there.
    await api.put(f"/api/users/{buyer}", headers=OPS,
                  json={"name": "Ann", "email": "ann@example.com"})
    async with session_db.transaction() as conn:
        await conn.execute(update(t.users).where(t.users.c.id == buyer).values(name=name))
    export = await api.get(f"/api/orders/seller/{seller}/export.csv", headers=bearer(seller))
    (row,) = list(csv.DictReader(io.StringIO(export.text)))
    assert row["buyerName"] == "'" + name
