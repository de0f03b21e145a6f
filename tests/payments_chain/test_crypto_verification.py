"""A crypto order is paid only by a real transfer from its buyer's wallet to the receiving
address, of its total in its currency's token, with the confirmations (on a real anvil)."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from domain.errors import ErrorCode
from domain.order import PaymentMethod
from domain.payments import Verdict
from tests.chain import deploy
from tests.payments_chain.fixtures import CONFIRMATIONS, STRANGER, TOTAL_UNITS
from tests.payments_chain.helpers import made_up_hash, verify

CRYPTO = PaymentMethod.CRYPTO
REFUSED, NOT_CONFIRMED, MISMATCH = (Verdict.REFUSED, ErrorCode.PAYMENT_NOT_CONFIRMED.value,
                                    ErrorCode.AMOUNT_MISMATCH.value)


async def _pay(chain, *, sender=None, to=None, units=TOTAL_UNITS, token=None) -> str:
    token = token or chain.token
    receipt = await chain.send(token.functions.transfer(to or chain.arbiter.address, units),
                               sender or chain.buyer)
    return "0x" + receipt["transactionHash"].hex().removeprefix("0x")


async def test_a_transfer_pays_only_once_it_has_its_confirmations(chain, db, crypto):
    tx_hash = await _pay(chain)
    for _ in range(CONFIRMATIONS - 1):
        check = await verify(db, CRYPTO, crypto, tx_hash)
        assert check.verdict is Verdict.PENDING, check
        await chain.mine()
    assert (await verify(db, CRYPTO, crypto, tx_hash)).verdict is Verdict.PAID


async def test_the_gas_the_transfer_cost_is_read_from_its_receipt_not_the_checkout(
        chain, db, crypto):
    tx_hash = await _pay(chain)
    await chain.mine(CONFIRMATIONS)
    receipt = await chain.w3.eth.get_transaction_receipt(tx_hash)
    wei = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert wei > 0
    check = await verify(db, CRYPTO, crypto, tx_hash)
    assert check.verdict is Verdict.PAID
    # In ETH at the column's 8 places, rounded up: never less than was paid, under 1e-8 more.
    assert check.gas_fee == Decimal(wei).scaleb(-18).quantize(Decimal("1e-8"), ROUND_UP)
    assert 0 <= check.gas_fee - Decimal(wei).scaleb(-18) < Decimal("1e-8")


async def test_a_transfer_the_node_has_not_mined_yet_is_pending(chain, db, crypto):
    await chain.rpc("evm_setAutomine", False)
    try:
        tx_hash = await chain.token.functions.transfer(chain.arbiter.address, TOTAL_UNITS) \
            .transact({"from": chain.buyer.address})
        check = await verify(db, CRYPTO, crypto, "0x" + tx_hash.hex().removeprefix("0x"))
    finally:
        await chain.rpc("evm_setAutomine", True)
    assert check.verdict is Verdict.PENDING, check


async def test_a_transfer_from_another_wallet_is_not_the_buyers(chain, db, crypto):
    await chain.send(chain.token.functions.transfer(chain.stranger.address, TOTAL_UNITS),
                     chain.buyer)
    tx_hash = await _pay(chain, sender=chain.stranger)
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, CRYPTO, crypto, tx_hash)
    assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)
    assert "not made by this buyer" in check.message
    # ... and it is the stranger's, had the stranger been the buyer of an order of that total.
    assert (await verify(db, CRYPTO, crypto, tx_hash, buyer_id=STRANGER)).verdict is Verdict.PAID


async def test_a_transfer_to_another_address_pays_nothing_here(chain, db, crypto):
    tx_hash = await _pay(chain, to=chain.seller.address)
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, CRYPTO, crypto, tx_hash)
    assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)


async def test_a_transfer_of_another_amount_is_refused(chain, db, crypto):
    tx_hash = await _pay(chain, units=TOTAL_UNITS - 1)
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, CRYPTO, crypto, tx_hash)
    assert (check.verdict, check.code) == (REFUSED, MISMATCH)
    assert "125.499999 USDC does not equal the order total 125.50" in check.message


async def test_a_transfer_of_another_token_is_refused(chain, db, crypto):
    other = await deploy(chain.w3, "TestStablecoin", chain.deployer)
    await chain.send(other.functions.mint(chain.buyer.address, TOTAL_UNITS), chain.deployer)
    tx_hash = await _pay(chain, token=other)
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, CRYPTO, crypto, tx_hash)
    assert (check.verdict, check.code) == (REFUSED, MISMATCH)
    assert "another currency" in check.message


async def test_a_reverted_transaction_is_refused(chain, db, crypto):
    too_much = 10**30  # more than the buyer holds: the token reverts, the transaction is mined
    tx_hash = await chain.token.functions.transfer(chain.arbiter.address, too_much).transact(
        {"from": chain.buyer.address, "gas": 100_000})
    receipt = await chain.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, CRYPTO, crypto, "0x" + tx_hash.hex().removeprefix("0x"))
    assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)
    assert "failed" in check.message


async def test_a_made_up_or_malformed_hash_is_no_payment(db, crypto):
    for reference in (made_up_hash(), "0x1234", "not-a-hash"):
        check = await verify(db, CRYPTO, crypto, reference)
        assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED), reference
        assert "no such payment" in check.message


async def test_a_buyer_without_a_wallet_is_told_so(chain, db, crypto):
    tx_hash = await _pay(chain)
    check = await verify(db, CRYPTO, crypto, tx_hash, buyer_id="nobody-with-a-wallet",
                         total=Decimal("125.50"))
    assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)
    assert "has no wallet address registered" in check.message
