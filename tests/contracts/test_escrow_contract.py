"""The escrow contract on a real anvil: every way money moves and every reason it refuses.

Each test starts from the session chain's snapshot: the buyer holds BUYER_FUNDS, nobody else
holds tokens, and no escrow exists.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from payments.chain_escrow import State
from tests.chain import BUYER_FUNDS, Chain, deploy, revert_reason

AMOUNT = 250 * 10**6  # 250 tUSD
DAY = 86_400


def new_escrow_id() -> str:
    # The service's form: its order's escrow reference, 0x and 64 hex digits.
    return "0x" + secrets.token_hex(32)


async def fund(chain: Chain, amount: int = AMOUNT, *, lasts: int = 7 * DAY) -> str:
    """The buyer approves and funds a new escrow for the seller; returns its id."""
    escrow_id = new_escrow_id()
    await chain.send(chain.token.functions.approve(chain.escrow.address, amount), chain.buyer)
    deadline = await chain.now() + lasts
    await chain.send(chain.escrow.functions.create(
        escrow_id, chain.seller.address, chain.token.address, amount, deadline), chain.buyer)
    return escrow_id


async def reverts(chain: Chain, call: Any, sender: LocalAccount) -> tuple[str, tuple[Any, ...]]:
    with pytest.raises(ContractCustomError) as caught:
        await chain.send(call, sender)
    return revert_reason(caught.value)


async def balances(chain: Chain) -> tuple[int, int, int]:
    """(buyer, seller, escrow contract) token balances."""
    return (await chain.balance(chain.buyer), await chain.balance(chain.seller),
            await chain.balance(chain.escrow.address))


def only_event(chain: Chain, receipt: Any, name: str) -> dict[str, Any]:
    # DISCARD skips the receipt's other logs (the token's Transfer), which are not this event.
    events = getattr(chain.escrow.events, name)().process_receipt(receipt, errors=DISCARD)
    assert len(events) == 1, events
    return dict(events[0]["args"])


def as_bytes(escrow_id: str) -> bytes:
    return bytes.fromhex(escrow_id.removeprefix("0x"))


# --- create ----------------------------------------------------------------------------------

async def test_create_takes_the_buyers_tokens_and_records_the_escrow(chain: Chain):
    escrow_id = new_escrow_id()
    await chain.send(chain.token.functions.approve(chain.escrow.address, AMOUNT), chain.buyer)
    deadline = await chain.now() + DAY

    receipt = await chain.send(chain.escrow.functions.create(
        escrow_id, chain.seller.address, chain.token.address, AMOUNT, deadline), chain.buyer)

    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, 0, AMOUNT)
    assert await chain.record(escrow_id) == {
        "buyer": chain.buyer.address, "seller": chain.seller.address,
        "token": chain.token.address, "deadline": deadline, "state": State.FUNDED,
        "amount": AMOUNT}
    assert only_event(chain, receipt, "EscrowCreated") == {
        "escrowId": as_bytes(escrow_id), "buyer": chain.buyer.address,
        "seller": chain.seller.address, "token": chain.token.address, "amount": AMOUNT,
        "deadline": deadline}


async def test_an_unused_escrow_id_reads_as_an_empty_record(chain: Chain):
    record = await chain.record(new_escrow_id())
    assert record["state"] == State.NONE and record["amount"] == 0


async def test_an_escrow_id_is_used_once_even_after_it_is_settled(chain: Chain):
    escrow_id = await fund(chain)
    await chain.send(chain.token.functions.approve(chain.escrow.address, AMOUNT), chain.buyer)
    again = chain.escrow.functions.create(
        escrow_id, chain.seller.address, chain.token.address, AMOUNT, await chain.now() + DAY)
    assert await reverts(chain, again, chain.buyer) == ("EscrowExists", (as_bytes(escrow_id),))

    await chain.send(chain.escrow.functions.release(escrow_id), chain.buyer)
    assert await reverts(chain, again, chain.buyer) == ("EscrowExists", (as_bytes(escrow_id),))


async def test_create_refuses_a_zero_amount(chain: Chain):
    call = chain.escrow.functions.create(
        new_escrow_id(), chain.seller.address, chain.token.address, 0, await chain.now() + DAY)
    assert await reverts(chain, call, chain.buyer) == ("ZeroAmount", ())


async def test_create_refuses_a_deadline_that_is_not_in_the_future(chain: Chain):
    now = await chain.now()
    call = chain.escrow.functions.create(
        new_escrow_id(), chain.seller.address, chain.token.address, AMOUNT, now)
    name, (deadline, _block_time) = await reverts(chain, call, chain.buyer)
    assert (name, deadline) == ("DeadlinePassed", now)


@pytest.mark.parametrize("seller", ["buyer", "zero"])
async def test_create_refuses_the_buyer_or_nobody_as_seller(chain: Chain, seller: str):
    address = chain.buyer.address if seller == "buyer" else "0x" + "00" * 20
    call = chain.escrow.functions.create(
        new_escrow_id(), address, chain.token.address, AMOUNT, await chain.now() + DAY)
    assert await reverts(chain, call, chain.buyer) == ("InvalidSeller", (address,))


async def test_create_refuses_a_token_address_without_code(chain: Chain):
    call = chain.escrow.functions.create(
        new_escrow_id(), chain.seller.address, chain.stranger.address, AMOUNT,
        await chain.now() + DAY)
    assert await reverts(chain, call, chain.buyer) == ("NotAToken", (chain.stranger.address,))


async def test_create_without_enough_allowance_moves_nothing(chain: Chain):
    await chain.send(chain.token.functions.approve(chain.escrow.address, AMOUNT - 1), chain.buyer)
    escrow_id = new_escrow_id()
    call = chain.escrow.functions.create(
        escrow_id, chain.seller.address, chain.token.address, AMOUNT, await chain.now() + DAY)
    assert await reverts(chain, call, chain.buyer) == (
        "ERC20InsufficientAllowance", (chain.escrow.address, AMOUNT - 1, AMOUNT))
    assert await balances(chain) == (BUYER_FUNDS, 0, 0)
    assert (await chain.record(escrow_id))["state"] == State.NONE


async def test_create_by_a_buyer_without_the_tokens_moves_nothing(chain: Chain):
    await chain.send(chain.token.functions.approve(chain.escrow.address, AMOUNT), chain.stranger)
    call = chain.escrow.functions.create(
        new_escrow_id(), chain.seller.address, chain.token.address, AMOUNT,
        await chain.now() + DAY)
    assert await reverts(chain, call, chain.stranger) == (
        "ERC20InsufficientBalance", (chain.stranger.address, 0, AMOUNT))


@pytest.mark.parametrize("function", ["release", "refund", "dispute", "resolve",
                                      "releaseWithRefund"])
async def test_an_unknown_escrow_cannot_be_settled_or_disputed(chain: Chain, function: str):
    escrow_id = new_escrow_id()
    args = (escrow_id, 0) if function in ("resolve", "releaseWithRefund") else (escrow_id,)
    call = getattr(chain.escrow.functions, function)(*args)
    assert await reverts(chain, call, chain.arbiter) == ("UnknownEscrow", (as_bytes(escrow_id),))


# --- release ---------------------------------------------------------------------------------

@pytest.mark.parametrize("by", ["buyer", "arbiter"])
async def test_the_buyer_or_the_arbiter_releases_everything_to_the_seller(chain: Chain, by: str):
    escrow_id = await fund(chain)

    receipt = await chain.send(chain.escrow.functions.release(escrow_id), chain.accounts[by])

    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, AMOUNT, 0)
    assert (await chain.record(escrow_id))["state"] == State.RELEASED
    assert only_event(chain, receipt, "EscrowReleased") == {
        "escrowId": as_bytes(escrow_id), "toSeller": AMOUNT, "toBuyer": 0}


@pytest.mark.parametrize("by", ["stranger", "seller"])
async def test_nobody_else_releases_before_the_deadline(chain: Chain, by: str):
    escrow_id = await fund(chain, lasts=DAY)
    await chain.advance_time(DAY - 60)
    call = chain.escrow.functions.release(escrow_id)
    assert await reverts(chain, call, chain.accounts[by]) == (
        "NotAllowed", (chain.accounts[by].address,))
    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, 0, AMOUNT)


async def test_anyone_releases_to_the_seller_once_the_deadline_has_passed(chain: Chain):
    escrow_id = await fund(chain, lasts=DAY)
    await chain.advance_time(DAY)

    receipt = await chain.send(chain.escrow.functions.release(escrow_id), chain.stranger)

    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, AMOUNT, 0)
    assert await chain.balance(chain.stranger) == 0
    assert only_event(chain, receipt, "EscrowReleased")["toSeller"] == AMOUNT


async def test_a_disputed_escrow_is_not_released_even_after_the_deadline(chain: Chain):
    escrow_id = await fund(chain, lasts=DAY)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    await chain.advance_time(2 * DAY)
    for who in (chain.buyer, chain.arbiter, chain.stranger):
        assert await reverts(chain, chain.escrow.functions.release(escrow_id), who) == (
            "WrongState", (as_bytes(escrow_id), State.DISPUTED))
    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, 0, AMOUNT)


# --- releaseWithRefund -----------------------------------------------------------------------

async def test_the_arbiter_releases_with_a_partial_refund_to_the_buyer(chain: Chain):
    escrow_id = await fund(chain)
    refunded = 40 * 10**6

    receipt = await chain.send(
        chain.escrow.functions.releaseWithRefund(escrow_id, refunded), chain.arbiter)

    assert await balances(chain) == (BUYER_FUNDS - AMOUNT + refunded, AMOUNT - refunded, 0)
    assert (await chain.record(escrow_id))["state"] == State.RELEASED
    assert only_event(chain, receipt, "EscrowReleased") == {
        "escrowId": as_bytes(escrow_id), "toSeller": AMOUNT - refunded, "toBuyer": refunded}


@pytest.mark.parametrize("by", ["buyer", "seller", "stranger"])
async def test_only_the_arbiter_releases_with_a_refund(chain: Chain, by: str):
    escrow_id = await fund(chain)
    call = chain.escrow.functions.releaseWithRefund(escrow_id, 1)
    assert await reverts(chain, call, chain.accounts[by]) == (
        "NotAllowed", (chain.accounts[by].address,))


async def test_a_refund_larger_than_the_escrow_is_refused(chain: Chain):
    escrow_id = await fund(chain)
    call = chain.escrow.functions.releaseWithRefund(escrow_id, AMOUNT + 1)
    assert await reverts(chain, call, chain.arbiter) == ("AmountTooLarge", (AMOUNT + 1, AMOUNT))


async def test_a_disputed_escrow_is_not_released_with_a_refund(chain: Chain):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.seller)
    call = chain.escrow.functions.releaseWithRefund(escrow_id, 1)
    assert await reverts(chain, call, chain.arbiter) == (
        "WrongState", (as_bytes(escrow_id), State.DISPUTED))


# --- refund ----------------------------------------------------------------------------------

@pytest.mark.parametrize("by", ["seller", "arbiter"])
async def test_the_seller_or_the_arbiter_refunds_everything_to_the_buyer(chain: Chain, by: str):
    escrow_id = await fund(chain)

    receipt = await chain.send(chain.escrow.functions.refund(escrow_id), chain.accounts[by])

    assert await balances(chain) == (BUYER_FUNDS, 0, 0)
    assert (await chain.record(escrow_id))["state"] == State.REFUNDED
    assert only_event(chain, receipt, "EscrowRefunded") == {
        "escrowId": as_bytes(escrow_id), "amount": AMOUNT}


async def test_a_disputed_escrow_can_be_refunded(chain: Chain):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    await chain.send(chain.escrow.functions.refund(escrow_id), chain.arbiter)
    assert await balances(chain) == (BUYER_FUNDS, 0, 0)


@pytest.mark.parametrize("by", ["buyer", "stranger"])
async def test_the_buyer_cannot_take_the_money_back_alone(chain: Chain, by: str):
    escrow_id = await fund(chain)
    call = chain.escrow.functions.refund(escrow_id)
    assert await reverts(chain, call, chain.accounts[by]) == (
        "NotAllowed", (chain.accounts[by].address,))
    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, 0, AMOUNT)


# --- dispute ---------------------------------------------------------------------------------

@pytest.mark.parametrize("by", ["buyer", "seller"])
async def test_either_party_disputes(chain: Chain, by: str):
    escrow_id = await fund(chain)

    receipt = await chain.send(chain.escrow.functions.dispute(escrow_id), chain.accounts[by])

    assert (await chain.record(escrow_id))["state"] == State.DISPUTED
    assert only_event(chain, receipt, "DisputeCreated") == {
        "escrowId": as_bytes(escrow_id), "by": chain.accounts[by].address}
    assert await balances(chain) == (BUYER_FUNDS - AMOUNT, 0, AMOUNT)


@pytest.mark.parametrize("by", ["stranger", "arbiter"])
async def test_nobody_else_disputes(chain: Chain, by: str):
    escrow_id = await fund(chain)
    assert await reverts(chain, chain.escrow.functions.dispute(escrow_id), chain.accounts[by]) == (
        "NotAllowed", (chain.accounts[by].address,))


async def test_a_dispute_is_opened_once(chain: Chain):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    assert await reverts(chain, chain.escrow.functions.dispute(escrow_id), chain.seller) == (
        "WrongState", (as_bytes(escrow_id), State.DISPUTED))


# --- resolve ---------------------------------------------------------------------------------

@pytest.mark.parametrize("to_buyer", [0, 100 * 10**6, AMOUNT])
async def test_the_arbiter_resolves_a_dispute_with_a_split(chain: Chain, to_buyer: int):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)

    receipt = await chain.send(chain.escrow.functions.resolve(escrow_id, to_buyer), chain.arbiter)

    assert await balances(chain) == (BUYER_FUNDS - AMOUNT + to_buyer, AMOUNT - to_buyer, 0)
    assert (await chain.record(escrow_id))["state"] == State.RESOLVED
    assert only_event(chain, receipt, "DisputeResolved") == {
        "escrowId": as_bytes(escrow_id), "toBuyer": to_buyer, "toSeller": AMOUNT - to_buyer}


@pytest.mark.parametrize("by", ["buyer", "seller", "stranger"])
async def test_only_the_arbiter_resolves(chain: Chain, by: str):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    call = chain.escrow.functions.resolve(escrow_id, 0)
    assert await reverts(chain, call, chain.accounts[by]) == (
        "NotAllowed", (chain.accounts[by].address,))


async def test_only_a_disputed_escrow_is_resolved(chain: Chain):
    escrow_id = await fund(chain)
    assert await reverts(chain, chain.escrow.functions.resolve(escrow_id, 0), chain.arbiter) == (
        "WrongState", (as_bytes(escrow_id), State.FUNDED))


async def test_a_resolution_cannot_give_the_buyer_more_than_the_escrow(chain: Chain):
    escrow_id = await fund(chain)
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    call = chain.escrow.functions.resolve(escrow_id, AMOUNT + 1)
    assert await reverts(chain, call, chain.arbiter) == ("AmountTooLarge", (AMOUNT + 1, AMOUNT))


# --- settled is final ------------------------------------------------------------------------

SETTLEMENTS = {
    "released": (["release"], State.RELEASED),
    "released with a refund": (["releaseWithRefund"], State.RELEASED),
    "refunded": (["refund"], State.REFUNDED),
    "resolved": (["dispute", "resolve"], State.RESOLVED),
}


def call_for(chain: Chain, function: str, escrow_id: str) -> Any:
    args = (escrow_id, 1) if function in ("resolve", "releaseWithRefund") else (escrow_id,)
    return getattr(chain.escrow.functions, function)(*args)


@pytest.mark.parametrize("settled", SETTLEMENTS)
async def test_a_settled_escrow_is_never_settled_again(chain: Chain, settled: str):
    steps, final = SETTLEMENTS[settled]
    escrow_id = await fund(chain)
    for function in steps:
        sender = chain.buyer if function == "dispute" else chain.arbiter
        await chain.send(call_for(chain, function, escrow_id), sender)
    after = await balances(chain)

    for function in ("release", "releaseWithRefund", "refund", "dispute", "resolve"):
        sender = chain.buyer if function == "dispute" else chain.arbiter
        assert await reverts(chain, call_for(chain, function, escrow_id), sender) == (
            "WrongState", (as_bytes(escrow_id), final)), function
    assert await balances(chain) == after
    assert after[2] == 0


# --- deployment and the test token -----------------------------------------------------------

async def test_the_escrow_names_its_arbiter(chain: Chain):
    assert await chain.escrow.functions.arbiter().call() == chain.arbiter.address


async def test_an_escrow_without_an_arbiter_cannot_be_deployed(chain: Chain):
    with pytest.raises(ContractCustomError) as caught:
        await deploy(chain.w3, "Escrow", chain.deployer, "0x" + "00" * 20)
    assert revert_reason(caught.value) == ("ZeroArbiter", ())


async def test_the_test_stablecoin_has_six_decimals_and_only_its_owner_mints(chain: Chain):
    assert await chain.token.functions.decimals().call() == 6
    assert await chain.token.functions.symbol().call() == "tUSD"
    call = chain.token.functions.mint(chain.stranger.address, 1)
    assert await reverts(chain, call, chain.stranger) == (
        "OwnableUnauthorizedAccount", (chain.stranger.address,))
    await chain.send(call, chain.deployer)
    assert await chain.balance(chain.stranger) == 1


# --- tokens that misbehave (contracts/test/HostileToken.sol) ---------------------------------

async def hostile_token(chain: Chain) -> Any:
    token = await deploy(chain.w3, "test/HostileToken", chain.deployer)
    await chain.send(token.functions.mint(chain.buyer.address, 10 * AMOUNT), chain.deployer)
    await chain.send(token.functions.approve(chain.escrow.address, 10 * AMOUNT), chain.buyer)
    return token


async def test_a_token_that_delivers_less_than_the_amount_is_refused(chain: Chain):
    token = await hostile_token(chain)
    await chain.send(token.functions.setFee(1), chain.deployer)
    call = chain.escrow.functions.create(
        new_escrow_id(), chain.seller.address, token.address, AMOUNT, await chain.now() + DAY)
    assert await reverts(chain, call, chain.buyer) == ("AmountNotReceived", (AMOUNT, AMOUNT - 1))
    assert await token.functions.balanceOf(chain.escrow.address).call() == 0


async def test_a_token_cannot_reenter_the_escrow_while_it_pays_out(chain: Chain):
    # Two escrows in the hostile token; the second is past its deadline, so anyone may release
    # it. While the first is refunded, the token tries to release the second from inside the
    # payout: without the guard that would succeed.
    token = await hostile_token(chain)
    first, second = new_escrow_id(), new_escrow_id()
    now = await chain.now()
    for escrow_id, lasts in ((first, 7 * DAY), (second, DAY)):
        await chain.send(chain.escrow.functions.create(
            escrow_id, chain.seller.address, token.address, AMOUNT, now + lasts), chain.buyer)
    await chain.advance_time(DAY)
    reentry = chain.escrow.encode_abi("release", args=[second])
    await chain.send(
        token.functions.callDuringNextTransfer(chain.escrow.address, reentry), chain.deployer)

    refund = chain.escrow.functions.refund(first)
    assert await reverts(chain, refund, chain.seller) == ("ReentrancyGuardReentrantCall", ())

    assert await token.functions.balanceOf(chain.escrow.address).call() == 2 * AMOUNT
    assert (await chain.record(first))["state"] == State.FUNDED
    assert (await chain.record(second))["state"] == State.FUNDED
