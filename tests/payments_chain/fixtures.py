"""The service's chain providers on the test chain, and what the tests share."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from activities.payments import payment_providers
from api.main import create_app
from db import reference_repo
from db.engine import Database, create_database
from payments.chain_escrow import EscrowPayments
from payments.chain_provider import Chain, CryptoTransfers
from payments.chain_signer import ChainSigner
from payments.stripe_provider import StripeProvider
from tests.chain import CHAIN_ID
from tests.chain import Chain as TestChain
from worker import build_worker

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


@contextlib.asynccontextmanager
async def chain_service(chain: TestChain, client, settings, database_url: str, *,
                        queue: str, **policy) -> AsyncIterator[httpx.AsyncClient]:
    """The API and a worker of their own, whose crypto and escrow are the test chain's, with
    some of the order policy's durations changed; the client's `db` is their database."""
    own = settings.model_copy(update={"database_url": database_url,
                                      "task_queue": f"{queue}-{uuid.uuid4().hex[:8]}"}
                              ).with_policy(**policy)
    db = create_database(database_url)
    stripe = StripeProvider.from_settings(own)
    providers = payment_providers(stripe, service_chain(db, chain))
    try:
        async with build_worker(client, db, own, own.task_queue, providers=providers):
            app = create_app(own)
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://oms.test") as http:
                http.db = db  # type: ignore[attr-defined]
                yield http
    finally:
        await stripe.aclose()
        await db.dispose()
