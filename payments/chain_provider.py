"""Crypto transfers on an EVM chain (web3.py, async), and what both chain methods share.

A crypto order is paid by an ERC-20 transfer whose transaction hash the checkout sends; it
counts once the receipt succeeded, carries a `Transfer` of the order currency's token from the
buyer's registered wallet to the receiving address for exactly the total, and its block has
OMS_CHAIN_CONFIRMATIONS confirmations. Refunds are transfers back, signed by the receiving
wallet (payments/chain_signer.py). The escrow contract is payments/chain_escrow.py.

Money is Decimal in major units everywhere else; minor units (the token's `decimals()`) exist
only here, at the chain's boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TransactionNotFound

from db import reference_repo
from db.engine import Database
from domain import ids
from domain.commands import PaymentCommand, VerifyPaymentCommand
from domain.payments import PaymentStatus, ProviderRefund, VerifiedPayment
from oms.settings import Settings
from payments.chain_signer import ChainSigner, node_errors
from payments.errors import ProviderRefused

TX_HASH = re.compile(ids.TRANSACTION_HASH_PATTERN)
GAS_FEE_PLACES = Decimal("0.00000001")
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
# The two ERC-20 functions used here, so no token ABI has to be shipped.
_DECIMALS = "0x" + keccak(text="decimals()")[:4].hex()
_TRANSFER = keccak(text="transfer(address,uint256)")[:4]
_ARBITER = "0x" + keccak(text="arbiter()")[:4].hex()  # the escrow contract's


@dataclass(frozen=True)
class Transfer:
    token: str
    sender: str
    recipient: str
    units: int


class Chain:
    """The node, the tokens of each currency, the service's signer and the users' wallets."""

    def __init__(self, db: Database, w3: AsyncWeb3, signer: ChainSigner, *,
                 tokens: dict[str, str], confirmations: int, receiving_address: str,
                 escrow_address: str) -> None:
        self.db = db
        self.w3 = w3
        self.signer = signer
        self.tokens = tokens
        self.currencies = {address: currency for currency, address in tokens.items()}
        self.confirmations = confirmations
        self.receiving_address = receiving_address
        self.escrow_address = escrow_address
        self._decimals: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> Chain:
        assert settings.chain_rpc_url and settings.chain_signer_key and settings.chain_id
        assert settings.receiving_address and settings.escrow_contract
        w3 = AsyncWeb3(AsyncHTTPProvider(settings.chain_rpc_url))
        account = Account.from_key(settings.chain_signer_key.get_secret_value())
        return cls(db, w3, ChainSigner(db, w3, account, settings.chain_id),
                   tokens=settings.chain_token_addresses,
                   confirmations=settings.chain_confirmations,
                   receiving_address=settings.receiving_address,
                   escrow_address=settings.escrow_contract)

    async def aclose(self) -> None:
        await self.w3.provider.disconnect()

    async def misconfigured(self, chain_id: int) -> str | None:
        """What is wrong with the settings for the chain the node serves, in one line, or
        None: another chain, a contract or token that is not there, or an escrow whose
        arbiter is not this signer (it could settle nothing)."""
        async with node_errors("checking the chain"):
            served = await self.w3.eth.chain_id
            if served != chain_id:
                return f"OMS_CHAIN_ID: the node at OMS_CHAIN_RPC_URL serves chain {served}"
            for name, address in (("OMS_ESCROW_CONTRACT", self.escrow_address),
                                  *((f"OMS_CHAIN_TOKENS ({currency})", token)
                                    for currency, token in self.tokens.items())):
                if not await self.w3.eth.get_code(address):
                    return f"{name}: no contract at {address} on chain {served}"
            (arbiter,) = abi_decode(["address"], await self.w3.eth.call(
                {"to": self.escrow_address, "data": _ARBITER}))
        if to_checksum_address(arbiter) != self.signer.address:
            return (f"OMS_CHAIN_SIGNER_KEY: the escrow's arbiter is {to_checksum_address(arbiter)}"
                    f", not this key's {self.signer.address}")
        return None

    async def wallet_of(self, user_id: str) -> str | None:
        async with self.db.reader.connect() as conn:
            return await reference_repo.wallet_of(conn, user_id)

    async def decimals(self, token: str) -> int:
        """The token's decimals, read once: they never change."""
        if token not in self._decimals:
            async with node_errors(f"decimals of {token}"):
                raw = await self.w3.eth.call({"to": token, "data": _DECIMALS})
            (self._decimals[token],) = abi_decode(["uint8"], raw)
        return self._decimals[token]

    async def major(self, token: str, units: int) -> Decimal:
        return Decimal(units).scaleb(-await self.decimals(token))

    async def minor(self, token: str, amount: Decimal) -> int:
        units = amount.scaleb(await self.decimals(token))
        if units != units.to_integral_value() or units <= 0:
            raise ProviderRefused(f"{amount} is not a positive whole number of the token's "
                                  "smallest unit")
        return int(units)

    async def confirmed(self, block_number: int) -> bool:
        """Whether a block has the confirmations a payment needs (itself the first)."""
        async with node_errors("the latest block"):
            latest = await self.w3.eth.block_number
        return latest - block_number + 1 >= self.confirmations

    def token_of(self, currency: str) -> str:
        if currency not in self.tokens:
            raise ProviderRefused(f"no token on the chain for {currency} (OMS_CHAIN_TOKENS)")
        return self.tokens[currency]

    def payer(self, wallet: str, buyer_wallet: str, buyer_id: str) -> str:
        """Who a record says paid: the buyer when it names the buyer's wallet (judge compares
        buyer ids), else the wallet itself, which is nobody's id."""
        return buyer_id if wallet == buyer_wallet else wallet


class CryptoTransfers:
    """The `crypto` method's provider: ERC-20 transfers to the receiving address."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain

    async def verify(self, cmd: VerifyPaymentCommand) -> VerifiedPayment:
        chain, reference = self._chain, cmd.reference
        if not TX_HASH.fullmatch(reference):
            return VerifiedPayment.unknown(reference)
        wallet = await chain.wallet_of(cmd.buyer_id)
        if wallet is None:
            raise ProviderRefused(f"buyer {cmd.buyer_id} has no wallet address registered, so "
                                  "no transfer can be theirs (walletAddress, PUT /api/users)")
        async with node_errors(f"transaction {reference}"):
            try:
                receipt = await chain.w3.eth.get_transaction_receipt(reference)
            except TransactionNotFound:
                return await self._pending(reference, cmd, wallet)
        if receipt["status"] != 1:
            return VerifiedPayment(provider_id=reference, status=PaymentStatus.FAILED)
        paid = _pick(_transfers(receipt), chain.receiving_address,
                     chain.tokens.get(cmd.currency), wallet)
        if paid is None:
            return VerifiedPayment.unknown(reference)  # it paid nothing to this marketplace
        confirmed = await chain.confirmed(receipt["blockNumber"])
        return await self._verified(reference, paid, cmd, wallet,
                                    PaymentStatus.SUCCEEDED if confirmed
                                    else PaymentStatus.PROCESSING, gas_fee(receipt))

    async def _pending(self, reference: str, cmd: VerifyPaymentCommand,
                       wallet: str) -> VerifiedPayment:
        """A transaction the node holds but has not mined: what it would transfer, pending."""
        try:
            tx = await self._chain.w3.eth.get_transaction(reference)
        except TransactionNotFound:
            return VerifiedPayment.unknown(reference)
        data = bytes(tx.get("input") or b"")
        if tx.get("to") not in self._chain.currencies or data[:4] != _TRANSFER:
            return VerifiedPayment.unknown(reference)
        recipient, units = abi_decode(["address", "uint256"], data[4:])
        if to_checksum_address(recipient) != self._chain.receiving_address:
            return VerifiedPayment.unknown(reference)
        paid = Transfer(tx["to"], tx["from"], self._chain.receiving_address, units)
        return await self._verified(reference, paid, cmd, wallet, PaymentStatus.PROCESSING)

    async def _verified(self, reference: str, paid: Transfer, cmd: VerifyPaymentCommand,
                        wallet: str, status: PaymentStatus,
                        gas: Decimal | None = None) -> VerifiedPayment:
        chain = self._chain
        return VerifiedPayment(
            provider_id=reference, status=status,
            amount=await chain.major(paid.token, paid.units),
            currency=chain.currencies.get(paid.token),
            payer=chain.payer(paid.sender, wallet, cmd.buyer_id), gas_fee=gas)

    async def refund(self, cmd: PaymentCommand) -> str:
        """A transfer back to the wallet that paid, once per key; its transaction hash."""
        chain = self._chain
        token = chain.token_of(cmd.currency)
        units = await chain.minor(token, cmd.amount)

        async def transfer_back() -> dict[str, Any]:
            async with node_errors(f"transaction {cmd.payment_reference}"):
                receipt = await chain.w3.eth.get_transaction_receipt(cmd.payment_reference)
            paid = _pick(_transfers(receipt), chain.receiving_address, token, None)
            if receipt["status"] != 1 or paid is None or paid.token != token:
                raise ProviderRefused(f"{cmd.payment_reference} paid no {cmd.currency} to "
                                      f"{chain.receiving_address}: nothing to give back")
            data = _TRANSFER + abi_encode(["address", "uint256"], [paid.sender, units])
            return {"to": token, "data": "0x" + data.hex()}

        return await chain.signer.send_once(cmd.idempotency_key, transfer_back)

    async def release(self, cmd: PaymentCommand) -> str:
        raise ProviderRefused("a crypto transfer has no escrow to release")

    async def refunds(self, reference: str) -> list[ProviderRefund]:
        return []  # a transfer back from elsewhere is not this service's to find


def gas_fee(receipt: Any) -> Decimal:
    """What a mined transaction cost its sender, in the chain's coin (ETH), at the 8 places
    orders.gas_fees keeps (the specification's DECIMAL(18,8)), rounded up so that a fee paid
    never reads as none."""
    wei = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return Decimal(wei).scaleb(-18).quantize(GAS_FEE_PLACES, rounding=ROUND_UP)


def _transfers(receipt: Any) -> list[Transfer]:
    found = []
    for log in receipt["logs"]:
        topics = [bytes(topic) for topic in log["topics"]]
        if len(topics) == 3 and "0x" + topics[0].hex() == TRANSFER_TOPIC:
            (units,) = abi_decode(["uint256"], bytes(log["data"]))
            found.append(Transfer(to_checksum_address(log["address"]),
                                  to_checksum_address(topics[1][-20:]),
                                  to_checksum_address(topics[2][-20:]), units))
    return found


def _pick(transfers: list[Transfer], recipient: str, token: str | None,
          sender: str | None) -> Transfer | None:
    """The transfer to `recipient` that best matches the order: its token first, then its
    buyer; several alike add up (one transaction may pay in parts)."""
    to_us = [tr for tr in transfers if tr.recipient == recipient]
    if not to_us:
        return None
    best = max(to_us, key=lambda tr: (tr.token == token, tr.sender == sender))
    units = sum(tr.units for tr in to_us if (tr.token, tr.sender) == (best.token, best.sender))
    return Transfer(best.token, best.sender, recipient, units)
