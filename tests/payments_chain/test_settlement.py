"""Escrow settlements and crypto refunds move money on chain exactly once per key, even when
the worker dies between broadcasting and recording (balances and events read on chain)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities
from db import tables as t
from db.engine import Database, create_database
from domain.order import PaymentMethod
from payments.chain_escrow import SETTLED, EscrowPayments
from payments.chain_provider import CryptoTransfers
from payments.errors import ProviderRefused, ProviderUnavailable
from tests.payments_chain.escrows import fund
from tests.payments_chain.fixtures import TOTAL, TOTAL_UNITS, service_chain
from tests.payments_chain.helpers import payment

ESCROW, CRYPTO = PaymentMethod.ESCROW, PaymentMethod.CRYPTO


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """Settlements run on SQLite and on PostgreSQL: the stored transactions are the guarantee."""
    database = create_database(database_url)
    yield database
    await database.dispose()


async def _settlements(chain, escrow_id: str) -> list:
    return await chain.w3.eth.get_logs({"address": chain.escrow.address, "fromBlock": 0,
                                        "topics": [list(SETTLED), escrow_id]})


async def _sent_by_arbiter(chain) -> int:
    return await chain.w3.eth.get_transaction_count(chain.arbiter.address)


async def test_a_release_pays_the_seller_once_however_often_it_is_asked(chain, escrow):
    escrow_id = await fund(chain)
    seller_before = await chain.balance(chain.seller)
    cmd = payment(ESCROW, escrow_id, "release")
    tx_hash = await escrow.release(cmd)
    sent = await _sent_by_arbiter(chain)
    assert await escrow.release(cmd) == tx_hash  # the same key again: nothing new is sent
    assert await _sent_by_arbiter(chain) == sent
    assert await chain.balance(chain.seller) - seller_before == TOTAL_UNITS
    assert (await chain.record(escrow_id))["state"] == 3  # Released
    (log,) = await _settlements(chain, escrow_id)
    assert "0x" + log["transactionHash"].hex().removeprefix("0x") == tx_hash


async def test_a_refund_gives_the_whole_escrow_back_to_the_buyer(chain, escrow):
    escrow_id = await fund(chain)
    buyer_before = await chain.balance(chain.buyer)
    await escrow.refund(payment(ESCROW, escrow_id, "refund"))
    assert await chain.balance(chain.buyer) - buyer_before == TOTAL_UNITS
    assert (await chain.record(escrow_id))["state"] == 4  # Refunded


async def test_a_split_is_one_settlement_whichever_half_asks_first(chain, escrow):
    escrow_id = await fund(chain)
    buyer_before, seller_before = await chain.balance(chain.buyer), await chain.balance(
        chain.seller)
    refund = payment(ESCROW, escrow_id, "refund", Decimal("25.50"))
    release = payment(ESCROW, escrow_id, "release", TOTAL - Decimal("25.50"))
    tx_hash = await escrow.refund(refund)  # releaseWithRefund: both payees at once
    assert await escrow.release(release) == tx_hash
    assert await chain.balance(chain.buyer) - buyer_before == 25_500_000
    assert await chain.balance(chain.seller) - seller_before == 100_000_000
    assert len(await _settlements(chain, escrow_id)) == 1


async def test_a_disputed_escrow_is_settled_by_resolution(chain, escrow):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    buyer_before = await chain.balance(chain.buyer)
    tx_hash = await escrow.refund(payment(ESCROW, escrow_id, "refund", Decimal("100")))
    assert await escrow.release(payment(ESCROW, escrow_id, "release", Decimal("25.50"))) \
        == tx_hash
    assert await chain.balance(chain.buyer) - buyer_before == 100_000_000
    assert (await chain.record(escrow_id))["state"] == 5  # Resolved


async def test_a_settlement_made_otherwise_is_not_taken_for_the_one_asked(chain, escrow):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.refund(escrow_id), chain.seller)  # the seller gave up
    with pytest.raises(ProviderRefused, match="already settled otherwise"):
        await escrow.release(payment(ESCROW, escrow_id, "release"))


async def test_a_worker_killed_after_broadcasting_releases_exactly_once(chain, db, wallets):
    escrow_id = await fund(chain)
    seller_before = await chain.balance(chain.seller)
    cmd = payment(ESCROW, escrow_id, "release")
    # The node takes the transaction but mines nothing, and the attempt gives up waiting: as a
    # worker killed after its broadcast, the release is stored and sent but not recorded.
    await chain.rpc("evm_setAutomine", False)
    try:
        with pytest.raises(ProviderUnavailable, match="not mined yet"):
            await EscrowPayments(service_chain(db, chain, receipt_timeout=0.5)).release(cmd)
    finally:
        await chain.rpc("evm_setAutomine", True)
    await chain.mine()
    # The retry (another worker) finds it and completes with it.
    activities = PaymentActivities(db, {ESCROW: EscrowPayments(service_chain(db, chain))})
    result = await ActivityEnvironment().run(activities.release_escrow, cmd)
    again = await ActivityEnvironment().run(activities.release_escrow, cmd)
    (log,) = await _settlements(chain, escrow_id)
    assert result.external_id == again.external_id == "0x" + log["transactionHash"].hex(
        ).removeprefix("0x")
    assert await chain.balance(chain.seller) - seller_before == TOTAL_UNITS
    async with db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations))).all()
        stored = (await conn.execute(select(t.chain_transactions))).all()
    assert [(row.kind, row.external_id) for row in ledger] == [("release", result.external_id)]
    assert [(row.tx_hash, row.status) for row in stored] == [(result.external_id, "mined")]


async def test_a_transaction_stored_but_never_broadcast_is_sent_as_stored(chain, db, escrow,
                                                                          on_chain):
    escrow_id = await fund(chain)
    cmd = payment(ESCROW, escrow_id, "release")
    # A worker killed between storing the signed release and broadcasting it.
    call = escrow._contract.functions.release(escrow_id)._encode_transaction_data()
    stored = await on_chain.signer._sign_and_store(
        cmd.idempotency_key, {"to": chain.escrow.address, "data": call})
    assert await escrow.release(cmd) == stored.tx_hash
    assert len(await _settlements(chain, escrow_id)) == 1


async def _crypto_payment(chain) -> str:
    receipt = await chain.send(chain.token.functions.transfer(chain.arbiter.address,
                                                              TOTAL_UNITS), chain.buyer)
    return "0x" + receipt["transactionHash"].hex().removeprefix("0x")


async def test_a_crypto_refund_goes_back_to_the_paying_wallet_once(chain, crypto):
    tx_hash = await _crypto_payment(chain)
    buyer_before = await chain.balance(chain.buyer)
    part = payment(CRYPTO, tx_hash, "refund", Decimal("20.25"), key="refund:wf:part-1")
    rest = payment(CRYPTO, tx_hash, "refund", Decimal("105.25"), key="refund:wf:part-2")
    first = await crypto.refund(part)
    assert await crypto.refund(part) == first
    assert await crypto.refund(rest) != first
    assert await chain.balance(chain.buyer) - buyer_before == TOTAL_UNITS
    assert await chain.balance(chain.arbiter) == 0


async def test_a_crypto_refund_killed_after_broadcasting_pays_once(chain, db, wallets):
    tx_hash = await _crypto_payment(chain)
    buyer_before = await chain.balance(chain.buyer)
    cmd = payment(CRYPTO, tx_hash, "refund")
    await chain.rpc("evm_setAutomine", False)
    try:
        with pytest.raises(ProviderUnavailable):
            await service_crypto(db, chain, receipt_timeout=0.5).refund(cmd)
    finally:
        await chain.rpc("evm_setAutomine", True)
    await chain.mine()
    again = await service_crypto(db, chain).refund(cmd)
    assert again == await service_crypto(db, chain).refund(cmd)
    assert await chain.balance(chain.buyer) - buyer_before == TOTAL_UNITS


def service_crypto(db, chain, **kwargs):
    return CryptoTransfers(service_chain(db, chain, **kwargs))


async def test_refunds_asked_at_once_get_a_nonce_each_and_a_repeat_none(chain, db, crypto):
    tx_hash = await _crypto_payment(chain)
    buyer_before = await chain.balance(chain.buyer)
    parts = [payment(CRYPTO, tx_hash, "refund", Decimal("25.10"), key=f"refund:wf:{n}")
             for n in range(5)]
    hashes = await asyncio.gather(*(crypto.refund(cmd) for cmd in [*parts, parts[0]]))
    assert len(set(hashes)) == 5 and hashes[0] == hashes[-1]
    assert await chain.balance(chain.buyer) - buyer_before == 5 * 25_100_000
    async with db.reader.connect() as conn:
        nonces = (await conn.execute(select(t.chain_transactions.c.nonce))).scalars().all()
    assert sorted(nonces) == list(range(min(nonces), min(nonces) + 5))


async def test_money_the_chain_would_refuse_is_refused_before_anything_is_sent(chain, crypto,
                                                                               escrow):
    tx_hash = await _crypto_payment(chain)
    sent = await _sent_by_arbiter(chain)
    with pytest.raises(ProviderRefused):  # more than the receiving wallet holds
        await crypto.refund(payment(CRYPTO, tx_hash, "refund", TOTAL * 2))
    with pytest.raises(ProviderRefused, match="cannot pay"):
        await escrow.refund(payment(ESCROW, await fund(chain), "refund", TOTAL * 2))
    assert await _sent_by_arbiter(chain) == sent
