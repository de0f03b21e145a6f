"""The service's signer on chain: each transaction signed and stored before it is broadcast.

A money movement (an escrow settlement, a crypto refund) is one transaction per idempotency
key. Its signed bytes go into `chain_transactions` before anything is sent, so an activity
retried after its worker died between broadcasting and recording resends the very same
transaction: its nonce can be spent once, so the money cannot move twice.

One signer per nonce sequence: this process signs under an asyncio lock, and the table's unique
(chain, signer, nonce) refuses a second process that picked the same nonce (its activity
retries). Run the chain signer in one worker per key; a second worker with the same key is
safe but its transactions would queue behind the first's nonces.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Row, func, select, update
from sqlalchemy.exc import IntegrityError
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from db import tables as t
from db.engine import Database
from payments.errors import ProviderRefused, ProviderUnavailable

# How long one attempt waits for its transaction to be mined before the activity retries
# (resending the same bytes): inside the money activities' start-to-close timeout.
RECEIPT_TIMEOUT = 30.0
_POLL = 0.2


@contextlib.asynccontextmanager
async def node_errors(what: str) -> AsyncIterator[None]:
    """A node that does not answer, or answers with an error, is worth asking again."""
    try:
        yield
    except (OSError, TimeoutError, Web3RPCError) as err:
        raise ProviderUnavailable(f"{what}: the chain node did not answer ({err})") from err


class ChainSigner:
    def __init__(self, db: Database, w3: AsyncWeb3, account: LocalAccount, chain_id: int, *,
                 receipt_timeout: float = RECEIPT_TIMEOUT) -> None:
        self._db = db
        self._w3 = w3
        self._account = account
        self._chain_id = chain_id
        self._receipt_timeout = receipt_timeout
        self._signing = asyncio.Lock()

    @property
    def address(self) -> str:
        return self._account.address

    async def sent(self, key: str) -> Row | None:
        """The transaction stored for `key`, if one was signed."""
        async with self._db.reader.connect() as conn:
            return (await conn.execute(select(t.chain_transactions).where(
                t.chain_transactions.c.idempotency_key == key))).first()

    async def send_once(self, key: str, build: Callable[[], Awaitable[dict[str, Any]]]) -> str:
        """The hash of the transaction for `key`, mined and successful: the stored one if there
        is one (resent if the node lost it), else the one `build` describes (to, data), signed
        and stored first. A transaction that reverted is refused for good."""
        row = await self.sent(key)
        if row is None:
            async with self._signing:
                row = await self.sent(key) or await self._sign_and_store(key, await build())
        if row.status == "failed":
            raise ProviderRefused(f"transaction {row.tx_hash} for {key} failed on chain")
        receipt = await self._broadcast_and_wait(row)
        if receipt["status"] != 1:
            await self._mark(key, "failed")
            raise ProviderRefused(f"transaction {row.tx_hash} for {key} reverted on chain")
        await self._mark(key, "mined")
        return row.tx_hash

    async def found_mined(self, key: str, tx_hash: str) -> None:
        """The chain shows `tx_hash` settled what `key` asked: if it is the one stored for
        `key`, it is mined (a retry found it so without waiting for it)."""
        ct = t.chain_transactions
        async with self._db.transaction() as conn:
            await conn.execute(update(ct).where(ct.c.idempotency_key == key,
                                                ct.c.tx_hash == tx_hash)
                               .values(status="mined", updated_at=datetime.now(UTC)))

    async def _sign_and_store(self, key: str, call: dict[str, Any]) -> Row:
        async with node_errors("signing"):
            nonce = max(await self._w3.eth.get_transaction_count(self.address, "pending"),
                        await self._next_stored_nonce())
            tx = {**call, "from": self.address, "nonce": nonce, "chainId": self._chain_id}
            try:
                tx["gas"] = await self._w3.eth.estimate_gas(tx)
            except ContractLogicError as err:  # it would revert: sending it would only burn gas
                raise ProviderRefused(f"the chain refuses {key}: {err}") from err
            block = await self._w3.eth.get_block("latest")
            tip = await self._w3.eth.max_priority_fee
        tx.pop("from")
        tx.update(maxPriorityFeePerGas=tip, maxFeePerGas=2 * block["baseFeePerGas"] + tip)
        signed = self._account.sign_transaction(tx)
        now = datetime.now(UTC)
        try:
            async with self._db.transaction() as conn:
                await conn.execute(t.chain_transactions.insert().values(
                    idempotency_key=key, chain_id=self._chain_id, signer=self.address,
                    nonce=nonce, tx_hash="0x" + signed.hash.hex().removeprefix("0x"),
                    raw_tx="0x" + signed.raw_transaction.hex().removeprefix("0x"),
                    status="signed", created_at=now, updated_at=now))
        except IntegrityError as err:
            # Another process signed this nonce (or this key) first: ask again.
            raise ProviderUnavailable(f"nonce {nonce} of {self.address} is taken") from err
        row = await self.sent(key)
        assert row is not None
        return row

    async def _next_stored_nonce(self) -> int:
        """One past the highest nonce stored: a signed transaction not yet seen by the node
        still holds its nonce."""
        ct = t.chain_transactions
        async with self._db.reader.connect() as conn:
            highest = (await conn.execute(select(func.max(ct.c.nonce)).where(
                ct.c.chain_id == self._chain_id, ct.c.signer == self.address))).scalar()
        return 0 if highest is None else highest + 1

    async def _broadcast_and_wait(self, row: Row) -> dict[str, Any]:
        async with node_errors(f"sending {row.tx_hash}"):
            receipt = await self._receipt(row.tx_hash)
            if receipt is None:
                try:
                    await self._w3.eth.send_raw_transaction(row.raw_tx)
                except Web3RPCError as err:
                    # Already in the node's pool, or mined meanwhile: both are fine. A nonce
                    # spent by some other transaction means this one can never be mined.
                    if await self._known(row.tx_hash):
                        pass
                    elif "nonce too low" in str(err).lower():
                        await self._mark(row.idempotency_key, "failed")
                        raise ProviderRefused(
                            f"nonce {row.nonce} of {row.signer} was spent by another "
                            f"transaction; {row.tx_hash} can never be mined") from err
                    else:
                        raise
            deadline = asyncio.get_running_loop().time() + self._receipt_timeout
            while receipt is None:
                if asyncio.get_running_loop().time() > deadline:
                    raise ProviderUnavailable(f"{row.tx_hash} is not mined yet")
                await asyncio.sleep(_POLL)
                receipt = await self._receipt(row.tx_hash)
        return receipt

    async def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            return dict(await self._w3.eth.get_transaction_receipt(tx_hash))
        except TransactionNotFound:
            return None

    async def _known(self, tx_hash: str) -> bool:
        try:
            await self._w3.eth.get_transaction(tx_hash)
            return True
        except TransactionNotFound:
            return False

    async def _mark(self, key: str, status: str) -> None:
        ct = t.chain_transactions
        async with self._db.transaction() as conn:
            await conn.execute(update(ct).where(ct.c.idempotency_key == key)
                               .values(status=status, updated_at=datetime.now(UTC)))
