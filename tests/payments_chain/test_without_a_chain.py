"""A service without a chain takes no crypto or escrow payment on trust: the checkout is
refused, saying why, and no order is left behind."""

from __future__ import annotations

import uuid

import httpx
import pytest

from activities.payments import payment_providers
from api.main import create_app
from db.engine import create_database
from payments.stripe_provider import StripeProvider
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from worker import build_worker


@pytest.mark.parametrize("method", ["crypto", "escrow"])
async def test_a_crypto_or_escrow_checkout_is_refused_without_a_chain(
        method, client, settings, sqlite_url):
    own = settings.model_copy(update={"database_url": sqlite_url, "chain_stand_in": False,
                                      "task_queue": f"no-chain-{uuid.uuid4().hex[:8]}"})
    db = create_database(sqlite_url)
    stripe = StripeProvider.from_settings(own)
    buyer, seller = unique("buyer"), unique("seller")
    try:
        listing = await seed_listing(db, seller_id=seller, currency="USDC")
        async with build_worker(client, db, own, own.task_queue,
                                providers=payment_providers(stripe)):
            app = create_app(own)
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://oms.test") as api:
                body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                     method=method)
                refused = await api.post("/api/orders", json=body, headers=bearer(buyer))
                assert (refused.status_code, refused.json()["code"]) == (
                    422, "PAYMENT_NOT_CONFIRMED"), refused.text
                assert refused.json()["detail"].endswith(
                    f"{method} payments need a chain, and this service has none configured "
                    "(OMS_CHAIN_RPC_URL)")
                listed = await api.get(f"/api/orders/buyer/{buyer}", headers=bearer(buyer))
                assert listed.json()["orders"] == []
    finally:
        await stripe.aclose()
        await db.dispose()
