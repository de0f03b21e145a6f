"""What Temporal stores of an order names none of its buyer's data; an operator reads it through
the codec server. Real dev server, worker, API over HTTP and the `temporal` CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid

import pytest

from api.auth import Role, mint_token
from domain.order import PaymentMethod
from oms.codec import ENCODING
from oms.processes import temporal_binary
from tests.api.test_live_updates import serve
from tests.conftest import JWT_SECRET, bearer
from tests.factories import checkout_body, seed_listing, unique
from workflows.shared import workflow_id_for

pytestmark = pytest.mark.usefixtures("stack_worker")


async def temporal_show(address: str, workflow_id: str, *codec_flags: str) -> str:
    """`temporal workflow show` as an operator would run it, its JSON output."""
    args = [temporal_binary(), "workflow", "show", "--address", address, "-w", workflow_id,
            "--output", "json", *codec_flags]
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True,
                                   timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def readable(history_json: str) -> str:
    """Everything a reader of the history sees: the JSON and the bytes of each payload in it
    (`data` is base64, which a plain-text search would miss)."""
    seen = [history_json]

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
                seen.append(base64.b64decode(node["data"]).decode(errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return "\n".join(seen)


def encodings(history_json: str) -> list[bytes]:
    found: list[bytes] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
                found.append(base64.b64decode(node["metadata"]["encoding"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return found


async def test_temporal_history_holds_no_buyer_data_and_operators_read_it_decoded(
        api, session_db, settings):
    secret = uuid.uuid4().hex[:10]
    name, street = f"Zelda Quiet {secret}", f"{secret} Hidden Lane"
    email = f"zelda.{secret}@example.com"
    buyer, seller = unique("buyer"), unique("seller")
    ops = bearer("ops1", Role.OPERATOR)
    for user_id, user_name, mail in ((buyer, name, email), (seller, "Shop", "s@example.com")):
        put = await api.put(f"/api/users/{user_id}", json={"name": user_name, "email": mail},
                            headers=ops)
        assert put.status_code == 200, put.text
    listing = await seed_listing(session_db, seller_id=seller)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing)
    body["checkoutData"]["shippingAddress"].update(name=name, street=street)
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    order_id = created.json()["order"]["id"]
    changed = await api.put(f"/api/orders/{order_id}/status", headers=bearer(seller),
                            json={"status": "order_confirmed", "notes": f"for {name}"})
    assert changed.status_code == 200, changed.text
    workflow_id = workflow_id_for(PaymentMethod.ESCROW, body["paymentResult"]["escrowId"])

    stored = await temporal_show(settings.temporal_address, workflow_id)
    seen = readable(stored)
    for private in (name, street, email, secret):
        assert private not in seen
    assert ENCODING in encodings(stored)  # the input and results, not a missing history

    url, stop = await serve(settings)
    codec_api = url.replace("ws://", "http://").removesuffix("/api/ws") + "/codec"
    try:
        operator = mint_token(JWT_SECRET, "ops1", Role.OPERATOR)
        decoded = readable(await temporal_show(
            settings.temporal_address, workflow_id, "--codec-endpoint", codec_api,
            "--codec-auth", f"Bearer {operator}"))
        assert name in decoded and street in decoded
        # A buyer's token gets nothing decrypted: the CLI fails rather than show plain text.
        args = [temporal_binary(), "workflow", "show", "--address", settings.temporal_address,
                "-w", workflow_id, "--output", "json", "--codec-endpoint", codec_api,
                "--codec-auth", f"Bearer {mint_token(JWT_SECRET, buyer)}"]
        refused = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True,
                                          timeout=60)
        assert name not in refused.stdout
        assert refused.returncode != 0 or ENCODING in encodings(refused.stdout)
    finally:
        await stop()
