"""Crypto and escrow orders through the API and the real worker, paid and refunded on a real
anvil: the workflow asks the chain, waits for confirmations, and gives money back on chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import ROUND_UP, Decimal

import httpx
import pytest

from api.auth import Role, Scope
from payments.chain_escrow import State
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.payments_chain.escrows import fund
from tests.payments_chain.fixtures import CONFIRMATIONS, chain_service
from tests.polling import eventually

TOTAL_UNITS = 200_000_000  # checkout_body: 2 x 100 USDC
# Short, so a delivered order completes (and its escrow is released) within the test.
DISPUTE_WINDOW = timedelta(seconds=3)


@pytest.fixture
async def chain_api(chain, client, settings, sqlite_url) -> AsyncIterator[httpx.AsyncClient]:
    """The API and a worker of their own, whose crypto and escrow are the test chain's."""
    async with chain_service(chain, client, settings, sqlite_url, queue="chain",
                             payment_recheck_interval=timedelta(seconds=1),
                             dispute_window=DISPUTE_WINDOW) as http:
        yield http


async def _shop(api, chain, *, buyer_wallet=True):
    buyer, seller = unique("buyer"), unique("seller")
    ops = bearer("ops1", Role.OPERATOR)
    for user_id, account in ((buyer, chain.buyer if buyer_wallet else None),
                             (seller, chain.seller)):
        body = {"name": user_id, "email": f"{user_id}@example.com"}
        if account is not None:
            body["walletAddress"] = account.address
        assert (await api.put(f"/api/users/{user_id}", json=body, headers=ops)).status_code \
            == 200
    return buyer, seller, await seed_listing(api.db, seller_id=seller, currency="USDC")


async def _status(api, order_id: str, who: str) -> str:
    answer = await api.get(f"/api/orders/{order_id}", headers=bearer(who))
    return answer.json()["order"]["status"]


async def test_a_crypto_order_is_paid_after_its_confirmations_and_refunded_on_chain(
        chain, chain_api):
    api = chain_api
    buyer, seller, listing = await _shop(api, chain)
    receipt = await chain.send(chain.token.functions.transfer(chain.arbiter.address,
                                                              TOTAL_UNITS), chain.buyer)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="crypto")
    body["paymentResult"]["transactionHash"] = "0x" + receipt["transactionHash"].hex(
        ).removeprefix("0x")
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    order_id = created.json()["order"]["id"]
    assert created.json()["order"]["status"] == "payment_pending"  # one confirmation of three
    await chain.mine(CONFIRMATIONS - 1)

    async def confirmed():
        assert await _status(api, order_id, buyer) == "payment_confirmed"
        return True

    await eventually(confirmed, timeout=20)
    # The gas recorded is what the chain says the transfer cost, not the checkout's gasUsed.
    wei = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    details = (await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))).json()
    assert body["paymentResult"]["gasUsed"] == "0.00042"
    assert Decimal(details["order"]["payment"]["gasFee"]) == Decimal(wei).scaleb(-18).quantize(
        Decimal("1e-8"), ROUND_UP)
    buyer_before = await chain.balance(chain.buyer)
    cancelled = await api.post(f"/api/orders/{order_id}/cancel",
                               json={"reasonCode": "buyer_request"},
                               headers={**bearer(buyer), "Idempotency-Key": "cancel-1"})
    assert cancelled.status_code == 200, cancelled.text

    async def refunded():
        assert await chain.balance(chain.buyer) - buyer_before == TOTAL_UNITS
        details = (await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))).json()
        assert details["order"]["payment"]["status"] == "refunded", details["order"]["payment"]
        return details["order"]["payment"]["operations"]

    (operation,) = await eventually(refunded, timeout=20)
    assert operation["providerId"].startswith("0x") and len(operation["providerId"]) == 66


async def test_a_crypto_checkout_by_a_buyer_without_a_wallet_is_refused_saying_so(
        chain, chain_api):
    api = chain_api
    buyer, seller, listing = await _shop(api, chain, buyer_wallet=False)
    receipt = await chain.send(chain.token.functions.transfer(chain.arbiter.address,
                                                              TOTAL_UNITS), chain.buyer)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="crypto")
    body["paymentResult"]["transactionHash"] = "0x" + receipt["transactionHash"].hex(
        ).removeprefix("0x")
    refused = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert (refused.status_code, refused.json()["code"]) == (422, "PAYMENT_NOT_CONFIRMED")
    assert "has no wallet address registered" in refused.json()["detail"]


async def test_an_escrow_order_is_locked_once_funded_and_confirmed_and_refunded_on_cancel(
        chain, chain_api):
    api = chain_api
    order_id, escrow_id, buyer, _ = await _locked_escrow_order(api, chain)
    details = (await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))).json()
    gas = Decimal(details["order"]["payment"]["gasFee"])  # what funding the escrow cost
    assert Decimal(0) < gas < Decimal("0.01")
    buyer_before = await chain.balance(chain.buyer)
    cancelled = await api.post(f"/api/orders/{order_id}/cancel",
                               json={"reasonCode": "buyer_request"},
                               headers={**bearer(buyer), "Idempotency-Key": "cancel-1"})
    assert cancelled.status_code == 200, cancelled.text

    async def refunded():
        assert await chain.balance(chain.buyer) - buyer_before == TOTAL_UNITS
        assert (await chain.record(escrow_id))["state"] == State.REFUNDED
        return True

    await eventually(refunded, timeout=20)


async def _locked_escrow_order(api, chain) -> tuple[str, str, str, str]:
    """An escrow order funded on chain and confirmed: (order id, escrow id, buyer, seller)."""
    buyer, seller, listing = await _shop(api, chain)
    escrow_id = await fund(chain, units=TOTAL_UNITS)
    await chain.mine(CONFIRMATIONS)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="escrow")
    body["paymentResult"]["escrowId"] = escrow_id
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    assert created.json()["order"]["status"] == "escrow_locked"
    return created.json()["order"]["id"], escrow_id, buyer, seller


async def test_an_escrow_order_delivered_completes_after_the_dispute_window_and_pays_the_seller(
        chain, chain_api):
    api = chain_api
    order_id, escrow_id, buyer, seller = await _locked_escrow_order(api, chain)
    carrier = bearer(unique("carrier"), Role.INTEGRATION, (Scope.SHIPPING_REPORT,))
    for status, who in (("order_confirmed", bearer(seller)), ("processing", bearer(seller)),
                        ("ready_to_ship", bearer(seller)), ("shipped", bearer(seller)),
                        ("in_transit", carrier), ("delivered", carrier)):
        body = {"status": status, **({"trackingNumber": "1ZCHAIN0001"}
                                     if status == "shipped" else {})}
        moved = await api.put(f"/api/orders/{order_id}/status", json=body, headers=who)
        assert moved.status_code == 200, (status, moved.text)
    seller_before, buyer_before = await chain.balance(chain.seller), await chain.balance(
        chain.buyer)

    async def released():
        assert await _status(api, order_id, buyer) == "completed"
        assert (await chain.record(escrow_id))["state"] == State.RELEASED
        return True

    await eventually(released, timeout=30)  # the dispute window, then the release's block
    assert await chain.balance(chain.seller) - seller_before == TOTAL_UNITS
    assert await chain.balance(chain.buyer) == buyer_before
    assert await chain.balance(chain.escrow.address) == 0


async def test_a_dispute_resolved_with_a_refund_in_part_splits_the_escrow_on_chain(
        chain, chain_api):
    api = chain_api
    order_id, escrow_id, buyer, _ = await _locked_escrow_order(api, chain)
    disputed = await api.post(f"/api/orders/{order_id}/dispute",
                              json={"reason": "arrived broken"}, headers=bearer(buyer))
    assert disputed.status_code == 200, disputed.text
    seller_before, buyer_before = await chain.balance(chain.seller), await chain.balance(
        chain.buyer)
    resolved = await api.post(f"/api/orders/{order_id}/dispute/resolve",
                              json={"outcome": "refund", "amount": "75.50",
                                    "note": "half the set was broken"},
                              headers=bearer("ops1", Role.OPERATOR))
    assert resolved.status_code == 200, resolved.text

    async def split():
        assert (await chain.record(escrow_id))["state"] in (State.RELEASED, State.RESOLVED)
        return True

    await eventually(split, timeout=30)
    assert await chain.balance(chain.buyer) - buyer_before == 75_500_000
    assert await chain.balance(chain.seller) - seller_before == TOTAL_UNITS - 75_500_000
    assert await chain.balance(chain.escrow.address) == 0
