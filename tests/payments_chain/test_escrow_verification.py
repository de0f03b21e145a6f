"""An escrow order is paid only by the contract's record naming its buyer's and seller's
wallets, its currency's token and its total, funded, with the confirmations."""

from __future__ import annotations

from domain.errors import ErrorCode
from domain.order import PaymentMethod
from domain.payments import Verdict
from tests.chain import deploy
from tests.payments_chain.escrows import fund
from tests.payments_chain.fixtures import CONFIRMATIONS, TOTAL_UNITS
from tests.payments_chain.helpers import made_up_hash, verify

ESCROW = PaymentMethod.ESCROW
REFUSED, NOT_CONFIRMED, MISMATCH = (Verdict.REFUSED, ErrorCode.PAYMENT_NOT_CONFIRMED.value,
                                    ErrorCode.AMOUNT_MISMATCH.value)


async def test_a_funded_escrow_pays_once_its_creation_has_the_confirmations(chain, db, escrow):
    escrow_id = await fund(chain)
    for _ in range(CONFIRMATIONS - 1):
        assert (await verify(db, ESCROW, escrow, escrow_id)).verdict is Verdict.PENDING
        await chain.mine()
    assert (await verify(db, ESCROW, escrow, escrow_id)).verdict is Verdict.PAID


async def test_an_escrow_for_another_seller_is_refused(chain, db, escrow):
    escrow_id = await fund(chain, seller=chain.stranger)
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, ESCROW, escrow, escrow_id)
    assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)
    assert f"pays {chain.stranger.address}" in check.message


async def test_an_escrow_funded_by_someone_else_is_not_the_buyers(chain, db, escrow):
    await chain.send(chain.token.functions.transfer(chain.stranger.address, TOTAL_UNITS),
                     chain.buyer)
    escrow_id = await fund(chain, buyer=chain.stranger)
    await chain.mine(CONFIRMATIONS)
    check = await verify(db, ESCROW, escrow, escrow_id)
    assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)
    assert "not made by this buyer" in check.message


async def test_an_escrow_of_another_amount_or_token_is_refused(chain, db, escrow):
    short = await fund(chain, units=TOTAL_UNITS - 1)
    other = await deploy(chain.w3, "TestStablecoin", chain.deployer)
    await chain.send(other.functions.mint(chain.buyer.address, TOTAL_UNITS), chain.deployer)
    other_token = await fund(chain, token=other)
    await chain.mine(CONFIRMATIONS)
    for escrow_id, words in ((short, "does not equal"), (other_token, "another currency")):
        check = await verify(db, ESCROW, escrow, escrow_id)
        assert (check.verdict, check.code) == (REFUSED, MISMATCH)
        assert words in check.message


async def test_a_disputed_or_settled_escrow_pays_no_new_order(chain, db, escrow):
    disputed, released = await fund(chain), await fund(chain)
    await chain.send(chain.escrow.functions.dispute(disputed), chain.buyer)
    await chain.send(chain.escrow.functions.release(released), chain.buyer)
    await chain.mine(CONFIRMATIONS)
    for escrow_id in (disputed, released):
        check = await verify(db, ESCROW, escrow, escrow_id)
        assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED)
        assert "failed" in check.message


async def test_an_unknown_or_malformed_escrow_id_is_no_payment(db, escrow):
    for reference in (made_up_hash(), "0xabc", "escrow-17"):
        check = await verify(db, ESCROW, escrow, reference)
        assert (check.verdict, check.code) == (REFUSED, NOT_CONFIRMED), reference
        assert "no such payment" in check.message
