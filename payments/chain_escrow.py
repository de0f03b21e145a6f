"""The `escrow` method's provider: the escrow contract of contracts/ (Escrow.sol).

An escrow order's reference is its escrow id, the contract's bytes32 key. The order counts as
paid when the contract's record names the order's buyer and seller wallets, the token of the
order's currency and its total, is Funded, and its EscrowCreated event has the confirmations.

Settling is one contract call per escrow, made by the arbiter (the service's signer): the
buyer's part and the seller's part in one transaction. The workflow owes a split as a refund
and a release; whichever comes first settles the escrow, the other finds it settled and gets
the same transaction back, as does any retry. A settlement someone else made is accepted only
if it paid what was asked.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from domain.commands import PaymentCommand, VerifyPaymentCommand
from domain.payments import PaymentStatus, ProviderRefund, VerifiedPayment
from payments.chain_provider import Chain, gas_fee
from payments.chain_signer import node_errors
from payments.errors import ProviderRefused

ESCROW_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
ARTIFACT = Path(__file__).resolve().parents[1] / "contracts" / "artifacts" / "Escrow.json"


class State(IntEnum):
    """The contract's State enum, by number."""

    NONE = 0
    FUNDED = 1
    DISPUTED = 2
    RELEASED = 3
    REFUNDED = 4
    RESOLVED = 5


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


CREATED = _topic("EscrowCreated(bytes32,address,address,address,uint256,uint64)")
REFUNDED = _topic("EscrowRefunded(bytes32,uint256)")
# Each final state's event, with how to read (to the buyer, to the seller) from its data.
SETTLED = {
    _topic("EscrowReleased(bytes32,uint256,uint256)"): lambda a, b: (b, a),  # toSeller, toBuyer
    REFUNDED: lambda amount: (amount, 0),
    _topic("DisputeResolved(bytes32,uint256,uint256)"): lambda a, b: (a, b),  # toBuyer, toSeller
}


class EscrowPayments:
    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        abi = json.loads(ARTIFACT.read_text())["abi"]
        self._contract = chain.w3.eth.contract(address=chain.escrow_address, abi=abi)

    async def verify(self, cmd: VerifyPaymentCommand) -> VerifiedPayment:
        chain, reference = self._chain, cmd.reference
        if not ESCROW_ID.fullmatch(reference):
            return VerifiedPayment.unknown(reference)
        record = await self._record(reference)
        if record["state"] is State.NONE:
            return VerifiedPayment.unknown(reference)
        buyer_wallet = await chain.wallet_of(cmd.buyer_id)
        if buyer_wallet is None:
            raise ProviderRefused(f"buyer {cmd.buyer_id} has no wallet address registered, so "
                                  "no escrow can be theirs (walletAddress, PUT /api/users)")
        seller_wallet = await chain.wallet_of(cmd.seller_id) if cmd.seller_id else None
        if record["seller"] != seller_wallet:
            # The contract would pay this wallet on release: it must be the order's seller's.
            raise ProviderRefused(f"escrow {reference} pays {record['seller']}, which is not "
                                  f"the registered wallet of seller {cmd.seller_id}")
        if record["state"] is not State.FUNDED:
            return VerifiedPayment(provider_id=reference, status=PaymentStatus.FAILED)
        created = await self._logs(reference, [CREATED])
        confirmed = bool(created) and await chain.confirmed(created[-1]["blockNumber"])
        return VerifiedPayment(
            gas_fee=await self._gas_fee(created[-1]) if created else None,
            provider_id=reference,
            status=PaymentStatus.SUCCEEDED if confirmed else PaymentStatus.PROCESSING,
            amount=await chain.major(record["token"], record["amount"]),
            currency=chain.currencies.get(record["token"]),
            payer=chain.payer(record["buyer"], buyer_wallet, cmd.buyer_id))

    async def refund(self, cmd: PaymentCommand) -> str:
        """Give `cmd.amount` back to the buyer and the rest to the seller."""
        token = self._chain.token_of(cmd.currency)
        return await self._settle(cmd, await self._chain.minor(token, cmd.amount), None)

    async def release(self, cmd: PaymentCommand) -> str:
        """Pay `cmd.amount` to the seller and the rest back to the buyer."""
        token = self._chain.token_of(cmd.currency)
        return await self._settle(cmd, None, await self._chain.minor(token, cmd.amount))

    async def refunds(self, reference: str) -> list[ProviderRefund]:
        return []  # the contract refunds only through this service's arbiter or the seller

    async def _settle(self, cmd: PaymentCommand, to_buyer: int | None,
                      to_seller: int | None) -> str:
        escrow_id = cmd.payment_reference
        if not ESCROW_ID.fullmatch(escrow_id):
            raise ProviderRefused(f"{escrow_id!r} is not an escrow id")
        record = await self._record(escrow_id)
        total = record["amount"]
        buyer_part = to_buyer if to_buyer is not None else total - (to_seller or 0)
        if record["state"] is State.NONE or not 0 <= buyer_part <= total:
            raise ProviderRefused(f"escrow {escrow_id} holds {total} units, which cannot pay "
                                  f"{buyer_part} to the buyer")
        if record["state"] in (State.RELEASED, State.REFUNDED, State.RESOLVED):
            tx_hash = await self._settled(escrow_id, buyer_part)
            await self._chain.signer.found_mined(cmd.idempotency_key, tx_hash)
            return tx_hash
        functions = self._contract.functions

        async def settlement() -> dict[str, Any]:
            if buyer_part == total:
                call = functions.refund(escrow_id)
            elif record["state"] is State.DISPUTED:
                call = functions.resolve(escrow_id, buyer_part)
            elif buyer_part == 0:
                call = functions.release(escrow_id)
            else:
                call = functions.releaseWithRefund(escrow_id, buyer_part)
            return {"to": self._chain.escrow_address, "data": call._encode_transaction_data()}

        return await self._chain.signer.send_once(cmd.idempotency_key, settlement)

    async def _settled(self, escrow_id: str, buyer_part: int) -> str:
        """The transaction that settled the escrow, if it paid the buyer `buyer_part`."""
        logs = await self._logs(escrow_id, list(SETTLED))
        if not logs:
            raise ProviderRefused(f"escrow {escrow_id} is settled but its event is not found")
        log = logs[-1]  # a final state is reached once
        topic = "0x" + bytes(log["topics"][0]).hex()
        types = ["uint256"] * (1 if topic == REFUNDED else 2)
        paid_buyer, paid_seller = SETTLED[topic](*abi_decode(types, bytes(log["data"])))
        tx_hash = "0x" + bytes(log["transactionHash"]).hex()
        if paid_buyer != buyer_part:
            raise ProviderRefused(f"escrow {escrow_id} was already settled otherwise: "
                                  f"{paid_buyer} units to the buyer and {paid_seller} to the "
                                  f"seller in {tx_hash}")
        return tx_hash

    async def _gas_fee(self, log: Any) -> Decimal:
        """What the transaction that funded the escrow cost the buyer."""
        async with node_errors(f"transaction {bytes(log['transactionHash']).hex()}"):
            return gas_fee(await self._chain.w3.eth.get_transaction_receipt(
                log["transactionHash"]))

    async def _record(self, escrow_id: str) -> dict[str, Any]:
        async with node_errors(f"escrow {escrow_id}"):
            buyer, seller, token, deadline, state, amount = await self._contract.functions \
                .escrows(escrow_id).call()
        return {"buyer": buyer, "seller": seller, "token": token, "deadline": deadline,
                "state": State(state), "amount": amount}

    async def _logs(self, escrow_id: str, topics: list[str]) -> list[Any]:
        async with node_errors(f"events of escrow {escrow_id}"):
            return await self._chain.w3.eth.get_logs({
                "address": self._chain.escrow_address, "fromBlock": 0, "toBlock": "latest",
                "topics": [topics, escrow_id]})

