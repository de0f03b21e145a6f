"""`oms pay crypto` and `oms pay escrow`: pay from the demo buyer's wallet on the dev chain as a
checkout would, so crypto and escrow orders can be created with a real transaction hash or
escrow id. Each waits until the payment has the confirmations the service asks for, so the
order made from it is paid at once.

The chain is the one the settings name (OMS_CHAIN_RPC_URL ...) or else the dev stack's
(chain.json in the data folder). Only the demo buyer's key is known here: the dev chain's
accounts come from anvil's public test mnemonic (oms/dev_chain.py).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TimeExhausted

from db import reference_repo
from db.engine import create_database
from domain.money import MoneyError, check_scale, parse_amount
from oms import dev_chain
from oms.seed import DEMO_BUYER, DEMO_SELLER
from oms.settings import Settings

# How long an escrow holds the buyer's money before anyone may release it to the seller: past
# every order deadline (seller confirmation, shipping, the dispute window).
ESCROW_DEADLINE_DAYS = 60
CONFIRMATION_TIMEOUT = 120.0


class PayError(Exception):
    """Bad input or no chain: one line for the terminal."""


@dataclass(frozen=True)
class ChainTarget:
    rpc_url: str
    tokens: dict[str, str]
    receiving_address: str
    escrow: str
    confirmations: int


def pay_crypto(settings: Settings, *, buyer: str, amount: str, currency: str) -> int:
    return _run("crypto", lambda: _pay_crypto(settings, buyer, amount, currency.upper()))


def pay_escrow(settings: Settings, *, buyer: str, seller: str, amount: str,
               currency: str) -> int:
    return _run("escrow", lambda: _pay_escrow(settings, buyer, seller, amount, currency.upper()))


def _run(method: str, pay) -> int:
    """Prints the hash or escrow id; a clear line on stderr and a non-zero code otherwise."""
    try:
        print(asyncio.run(pay()))
        return 0
    except PayError as err:
        print(f"oms pay {method}: {err}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError, TimeExhausted) as err:
        print(f"oms pay {method}: the chain did not answer ({err}); is `make run` up?",
              file=sys.stderr)
        return 1


async def _pay_crypto(settings: Settings, buyer: str, amount: str, currency: str) -> str:
    payer = _wallet_of(buyer)
    target = _target(settings)
    w3 = AsyncWeb3(AsyncHTTPProvider(target.rpc_url))
    try:
        token = _token(w3, target, currency)
        units = await _units(token, amount, currency)
        receipt = await _send(w3, payer, token.functions.transfer(target.receiving_address,
                                                                   units))
        await _confirmations(w3, receipt, target.confirmations)
        return "0x" + bytes(receipt["transactionHash"]).hex()
    finally:
        await w3.provider.disconnect()


async def _pay_escrow(settings: Settings, buyer: str, seller: str, amount: str,
                      currency: str) -> str:
    payer = _wallet_of(buyer)
    target = _target(settings)
    seller_wallet = await _registered_wallet(settings, seller)
    w3 = AsyncWeb3(AsyncHTTPProvider(target.rpc_url))
    try:
        token = _token(w3, target, currency)
        units = await _units(token, amount, currency)
        escrow = w3.eth.contract(address=target.escrow, abi=dev_chain.artifact("Escrow")["abi"])
        escrow_id = "0x" + secrets.token_hex(32)
        deadline = int(time.time()) + ESCROW_DEADLINE_DAYS * 86_400
        await _send(w3, payer, token.functions.approve(target.escrow, units))
        receipt = await _send(w3, payer, escrow.functions.create(
            escrow_id, seller_wallet, token.address, units, deadline))
        await _confirmations(w3, receipt, target.confirmations)
        return escrow_id
    finally:
        await w3.provider.disconnect()


def _target(settings: Settings) -> ChainTarget:
    if settings.chain_rpc_url:
        return ChainTarget(settings.chain_rpc_url, settings.chain_token_addresses,
                           settings.receiving_address or "", settings.escrow_contract or "",
                           settings.chain_confirmations)
    record = dev_chain.read_record(settings.data_dir)
    if record is None:
        raise PayError(f"no chain: none is configured (OMS_CHAIN_RPC_URL) and the dev stack's "
                       f"is not in {settings.data_dir}/ (start it with `make run`, which needs "
                       "Node.js and `npm ci`)")
    return ChainTarget(record.rpc_url, {dev_chain.STABLECOIN: record.token},
                       record.arbiter.address, record.escrow, settings.chain_confirmations)


def _wallet_of(buyer: str) -> LocalAccount:
    if buyer != DEMO_BUYER:
        raise PayError(f"--buyer {buyer!r}: only the demo buyer {DEMO_BUYER}'s wallet is "
                       "known here (the dev chain's test accounts)")
    return dev_chain.role_accounts()["buyer"]


async def _registered_wallet(settings: Settings, seller: str) -> str:
    """The wallet the seller registered (PUT /api/users): the escrow must pay that one."""
    db = create_database(settings.database_url)
    try:
        async with db.reader.connect() as conn:
            wallet = await reference_repo.wallet_of(conn, seller)
    finally:
        await db.dispose()
    if wallet is None:
        raise PayError(f"--seller {seller!r} has no wallet address registered (walletAddress "
                       f"in PUT /api/users/{seller}; the dev stack registers {DEMO_SELLER}'s)")
    return wallet


def _token(w3: AsyncWeb3, target: ChainTarget, currency: str) -> Any:
    if currency not in target.tokens:
        raise PayError(f"--currency {currency}: the chain has a token for "
                       f"{', '.join(sorted(target.tokens)) or 'no currency'}")
    return w3.eth.contract(address=target.tokens[currency],
                           abi=dev_chain.artifact("TestStablecoin")["abi"])


async def _units(token: Any, amount: str, currency: str) -> int:
    """The amount in the token's smallest unit, refused unless exact and positive."""
    decimals = await token.functions.decimals().call()
    try:
        value = check_scale(parse_amount(amount), currency)
    except MoneyError as err:
        raise PayError(str(err)) from None
    units = value.scaleb(decimals)
    if value <= 0 or units != units.to_integral_value():
        raise PayError(f"--amount {amount} is not a positive amount of {currency} "
                       f"({decimals} decimals)")
    return int(units)


async def _send(w3: AsyncWeb3, sender: LocalAccount, call: Any) -> Any:
    """Sign `call` with the sender's key (no unlocked account needed) and wait for it."""
    tx = await call.build_transaction({
        "from": sender.address, "nonce": await w3.eth.get_transaction_count(sender.address,
                                                                            "pending"),
        "chainId": await w3.eth.chain_id})
    tx_hash = await w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=CONFIRMATION_TIMEOUT)
    if receipt["status"] != 1:
        raise PayError(f"transaction 0x{bytes(tx_hash).hex()} failed on chain")
    return receipt


async def _confirmations(w3: AsyncWeb3, receipt: Any, confirmations: int) -> None:
    """Until the payment's block has `confirmations` (itself the first)."""
    deadline = time.monotonic() + CONFIRMATION_TIMEOUT
    while await w3.eth.block_number - receipt["blockNumber"] + 1 < confirmations:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {confirmations} confirmations in {CONFIRMATION_TIMEOUT:.0f} s")
        await asyncio.sleep(0.25)
