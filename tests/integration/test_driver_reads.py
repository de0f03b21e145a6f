"""The compiled read path: rebinds by name, UTC timestamps, survives a connection the server
closed, refuses a statement whose parameters would be frozen at the first call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from db import driver_reads
from db import tables as t
from db.engine import Database, create_database
from tests.factories import unique


def _users_named(name_key: str):
    return lambda: (select(t.users.c.id, t.users.c.name)
                    .where(t.users.c.name == bindparam(name_key)))


async def _add_user(db: Database, name: str) -> str:
    user_id = unique("user")
    async with db.transaction() as conn:
        await conn.execute(t.users.insert().values(
            id=user_id, name=name, email=f"{user_id}@example.com",
            created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    return user_id


async def test_rows_match_by_name_and_rebind_on_each_call(db: Database):
    first, second = await _add_user(db, "Ada"), await _add_user(db, "Grace")
    shape = ("test-users", uuid.uuid4().hex)
    ada = await driver_reads.fetch_all(db, shape, _users_named("name"), {"name": "Ada"})
    grace = await driver_reads.fetch_all(db, shape, _users_named("name"), {"name": "Grace"})
    assert [r.id for r in ada if r.id == first] == [first]
    assert [r.id for r in grace if r.id == second] == [second]
    assert all(r.name == "Grace" for r in grace)


async def test_timestamps_read_on_the_driver_are_utc(postgres_url: str):
    db = create_database(postgres_url)
    try:
        rows = await driver_reads.fetch_all(
            db, ("test-now", uuid.uuid4().hex),
            lambda: select(literal_column("now()").label("at"),
                           bindparam("x", type_=t.users.c.name.type).label("x")),
            {"x": "y"})
        assert rows[0].at.utcoffset().total_seconds() == 0
    finally:
        await db.dispose()


async def test_a_parameter_left_to_its_first_value_is_refused(db: Database):
    statement = lambda: select(t.users.c.id).where(t.users.c.name == "frozen")  # noqa: E731
    with pytest.raises(ValueError, match="without a value"):
        await driver_reads.fetch_all(db, ("test-unnamed", uuid.uuid4().hex), statement, {})


async def test_a_read_from_the_pool_survives_a_connection_the_server_closed(postgres_url: str):
    db = create_database(postgres_url)
    await _add_user(db, "Ada")
    pid_shape, users = ("test-pid", uuid.uuid4().hex), ("test-users", uuid.uuid4().hex)

    def backend_pid():
        return select(func.pg_backend_pid().label("pid"))
    try:
        assert db.driver_pool is not None
        before = (await driver_reads.fetch_all(db, pid_shape, backend_pid, {}))[0].pid
        async with db.writer.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            await other.commit()
        rows = await driver_reads.fetch_all(db, users, _users_named("name"), {"name": "Ada"})
        assert [r.name for r in rows] == ["Ada"]
        after = (await driver_reads.fetch_all(db, pid_shape, backend_pid, {}))[0].pid
        assert after != before
    finally:
        await db.dispose()


async def test_a_database_error_on_the_pool_surfaces_as_sqlalchemy_raises_it(postgres_url: str):
    db = create_database(postgres_url)
    try:
        with pytest.raises(DBAPIError):
            await driver_reads.fetch_all(db, ("test-bad", uuid.uuid4().hex),
                                         lambda: select(literal_column("1 / 0")), {})
    finally:
        await db.dispose()
