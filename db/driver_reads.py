"""The hottest dashboard reads, compiled once per shape and, on PostgreSQL, run on the driver.

A seller's first page is an index scan well under a millisecond, and SQLAlchemy's `execute`
(building the statement, its cache key, the execution context and the result rows), its async
pool's checkout and a pre-ping each added a share of that again: the app took two to three
times what the query took (BENCHMARKS.md, "The read path rebuilt"). So these statements are
still written with SQLAlchemy Core, with named parameters, but built and compiled once per shape
(which filters are set, the sort, cursor or offset). On PostgreSQL they run on psycopg's own
cursor, which prepares them after a few runs, on a connection from psycopg's pool
(`Database.driver_pool`); on SQLite through SQLAlchemy as usual, from the cached statement.
Each call takes a connection of its own: these are single-statement reads in autocommit, with
nothing to share.

Skipping SQLAlchemy's result processing is safe for these statements: PostgreSQL returns
NUMERIC as Decimal, and the engine's sessions run in UTC (`db.engine`), so timestamps come back
as SQLAlchemy's `UtcDateTime` would return them. Parameters are plain str, int, Decimal or
aware datetimes, which psycopg adapts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from db.engine import Database

# Shapes are few (a handful of filters, three sorts, two directions); the cap is a guard.
_MAX_SHAPES = 512
_statements: dict[Hashable, Select] = {}
_sql: dict[Hashable, str] = {}


async def fetch_all(db: Database, shape: Hashable, build: Callable[[], Select],
                    params: dict[str, Any], *, prepare: bool = True) -> list[Any]:
    """Rows of the statement `build()` makes for `shape`, with `params` bound by name.

    `build` is called once per shape; its statement must name every parameter that `params`
    gives a value for. Rows have attribute access, like SQLAlchemy's. `prepare=False` keeps
    PostgreSQL planning the statement for its values each time, for statements whose best
    plan depends on them.
    """
    pool = db.driver_pool
    if pool is None:
        async with db.reader.connect() as conn:
            return list((await conn.execute(_statement(shape, build, params), params)).all())
    sql = _compiled(shape, build, params, db.reader.dialect)
    if pool.closed:
        # Wait for the first connection: a read queued meanwhile would make the pool open a
        # second, and an idle pool hands its connections out in turn, each backend cold.
        await pool.open(wait=True, timeout=pool.timeout)
    for attempt in (1, 2):
        try:
            async with pool.connection() as driver:
                try:
                    return await _run(driver, sql, params, prepare)
                except psycopg.Error as err:
                    # No ping before use (a round trip per read): a connection the server
                    # closed, after a restart say, fails once; the pool drops it on return
                    # and the read runs again on another.
                    if attempt == 2 or not _broken(err, driver):
                        raise
        except psycopg.Error as err:  # the pool's timeout too: all connections busy
            raise _as_sqlalchemy(err, sql, params) from err
        await pool.check()  # after a restart its other idle connections are dead too
    raise AssertionError("unreachable")


async def _run(driver: psycopg.AsyncConnection, sql: str, params: dict[str, Any],
               prepare: bool) -> list[Any]:
    async with driver.cursor(row_factory=namedtuple_row) as cursor:
        await cursor.execute(sql, params, prepare=None if prepare else False)
        return await cursor.fetchall()


def _broken(err: psycopg.Error, driver: psycopg.AsyncConnection) -> bool:
    return isinstance(err, psycopg.OperationalError) and driver.broken


def _as_sqlalchemy(err: psycopg.Error, sql: str, params: dict[str, Any]) -> DBAPIError:
    """Raised as SQLAlchemy would, so callers and the API's error handlers see one kind."""
    return DBAPIError.instance(sql, params, err, psycopg.Error)


def _compiled(shape: Hashable, build: Callable[[], Select], params: dict[str, Any],
              dialect: Dialect) -> str:
    sql = _sql.get(shape)
    if sql is None:
        sql = _remember(_sql, shape, _statement(shape, build, params)
                        .compile(dialect=dialect).string)
    return sql


def _statement(shape: Hashable, build: Callable[[], Select], params: dict[str, Any]
               ) -> Select:
    statement = _statements.get(shape)
    if statement is None:
        statement = build()
        unnamed = set(statement.compile().binds) - set(params)
        if unnamed:  # a value that would otherwise be the first call's, for every call
            raise ValueError(f"parameters without a value for {shape}: {sorted(unnamed)}")
        _remember(_statements, shape, statement)
    return statement


def _remember(cache: dict, shape: Hashable, value):
    if len(cache) >= _MAX_SHAPES:
        cache.clear()
    cache[shape] = value
    return value
