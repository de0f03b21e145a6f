"""The service's chain providers on the test chain, and what the tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from db import reference_repo
from db.engine import Database, create_database
from payments.chain_escrow import EscrowPayments
from payments.chain_provider import Chain, CryptoTransfers
from payments.chain_signer import ChainSigner
from tests.chain import CHAIN_ID
from tests.chain import Chain as TestChain

CONFIRMATIONS = 3
BUYER, SELLER, STRANGER = "buyer-1", "seller-1", "stranger-1"
TOTAL = Decimal("125.50")  # USDC
TOTAL_UNITS = 125_500_000


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[Database]:
    database = create_database(sqlite_url)
    yield database
    await database.dispose()


@pytest.fixture
async def wallets(db: Database, chain: TestChain) -> None:
    """The buyer's, the seller's and a stranger's registered wallets."""
    async with db.transaction() as conn:
        for user_id, account in ((BUYER, chain.buyer), (SELLER, chain.seller),
                                 (STRANGER, chain.stranger)):
            await reference_repo.upsert_user(conn, user_id, name=user_id,
                                             email=f"{user_id}@example.com", store_name=None,
                                             wallet_address=account.address)


def service_chain(db: Database, chain: TestChain, *, receipt_timeout: float = 30) -> Chain:
    """The service's view of the test chain: the arbiter signs and receives crypto payments."""
    signer = ChainSigner(db, chain.w3, chain.arbiter, CHAIN_ID, receipt_timeout=receipt_timeout)
    return Chain(db, chain.w3, signer, tokens={"USDC": chain.token.address},
                 confirmations=CONFIRMATIONS, receiving_address=chain.arbiter.address,
                 escrow_address=chain.escrow.address)


@pytest.fixture
def on_chain(db: Database, chain: TestChain, wallets) -> Chain:
    return service_chain(db, chain)


@pytest.fixture
def crypto(on_chain: Chain) -> CryptoTransfers:
    return CryptoTransfers(on_chain)


@pytest.fixture
def escrow(on_chain: Chain) -> EscrowPayments:
    return EscrowPayments(on_chain)
