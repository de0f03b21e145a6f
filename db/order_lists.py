"""Order lists and search for dashboards: filters, sorts, and keyset or offset pages.

Keyset pages compare (sort key, id) tuples, which the (owner, sort key, id) indexes answer
directly, so page 10,000 costs what page 1 costs and new orders never shift a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from db import driver_reads
from db import tables as t
from db.engine import Database
from db.status_counts import PLATFORM

o = t.orders
buyer = aliased(t.users, name="buyer")
seller = aliased(t.users, name="seller")

SORT_KEYS: dict[str, tuple[ColumnElement, ...]] = {
    "createdAt": (o.c.created_at, o.c.id),
    "status": (o.c.status, o.c.created_at, o.c.id),
    "totalAmount": (o.c.total_units, o.c.id),
    # How long orders have been where they are: an operator's oldest disputes first.
    "statusUpdatedAt": (o.c.status_updated_at, o.c.id),
}
LIST_COLUMNS = (
    o.c.id, o.c.order_number, o.c.status, o.c.total_amount, o.c.total_units, o.c.currency,
    o.c.payment_method, o.c.payment_status, o.c.payment_reference, o.c.created_at,
    o.c.status_updated_at, o.c.estimated_delivery,
    o.c.buyer_id, o.c.seller_id, o.c.tracking_number, buyer.c.name.label("buyer_name"),
    seller.c.name.label("seller_name"), seller.c.store_name.label("seller_store_name"),
)


@dataclass(frozen=True)
class OrderFilter:
    buyer_id: str | None = None
    seller_id: str | None = None
    party_id: str | None = None  # buyer or seller: what a user may search
    statuses: tuple[str, ...] = ()
    payment_method: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def clauses(self) -> list[ColumnElement]:
        """The filter as conditions on orders, with parameters named after the fields (so a
        statement built from them can be compiled once and rerun with `params()`)."""
        where: list[ColumnElement] = []
        if self.buyer_id is not None:
            where.append(o.c.buyer_id == bindparam("buyer_id", self.buyer_id))
        if self.seller_id is not None:
            where.append(o.c.seller_id == bindparam("seller_id", self.seller_id))
        if self.party_id is not None:
            party = bindparam("party_id", self.party_id)
            where.append(or_(o.c.buyer_id == party, o.c.seller_id == party))
        if self.statuses:
            where.append(o.c.status.in_([bindparam(f"status_{i}", s)
                                         for i, s in enumerate(self.statuses)]))
        if self.payment_method is not None:
            where.append(o.c.payment_method == bindparam("payment_method", self.payment_method))
        if self.created_from is not None:
            where.append(o.c.created_at >= bindparam("created_from", self.created_from))
        if self.created_to is not None:
            where.append(o.c.created_at < bindparam("created_to", self.created_to))
        return where

    def params(self) -> dict[str, Any]:
        """The values of `clauses()`, by parameter name."""
        named = {"buyer_id": self.buyer_id, "seller_id": self.seller_id,
                 "party_id": self.party_id, "payment_method": self.payment_method,
                 "created_from": self.created_from, "created_to": self.created_to,
                 **{f"status_{i}": s for i, s in enumerate(self.statuses)}}
        return {k: v for k, v in named.items() if v is not None}

    def shape(self) -> tuple:
        """What `clauses()` looks like, values aside."""
        return (self.buyer_id is not None, self.seller_id is not None,
                self.party_id is not None, len(self.statuses), self.payment_method is not None,
                self.created_from is not None, self.created_to is not None)


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_key: tuple | None  # the sort key of the last row when more rows follow


def _base(f: OrderFilter) -> Select:
    return (select(*LIST_COLUMNS)
            .outerjoin(buyer, buyer.c.id == o.c.buyer_id)
            .outerjoin(seller, seller.c.id == o.c.seller_id)
            .where(and_(True, *f.clauses())))


def list_query(f: OrderFilter, *, sort: str, descending: bool, limit: int, offset: int = 0,
               after: tuple | None = None) -> Select:
    """One page of orders (and one row more, to tell whether another page follows), with its
    parameters named as `page_params` names them."""
    keys = SORT_KEYS[sort]
    where = f.clauses()
    if after is not None:
        position = tuple_(*keys)
        bound = tuple_(*(bindparam(f"after_{i}", v, type_=k.type)
                         for i, (k, v) in enumerate(zip(keys, after, strict=True))))
        where.append(position < bound if descending else position > bound)
    order = [k.desc() for k in keys] if descending else [k.asc() for k in keys]
    rows = bindparam("rows", limit + 1)
    if not offset:
        return _base(OrderFilter()).where(*where).order_by(*order).limit(rows)
    # A deep offset page picks its ids from the index alone first and joins the rest for those
    # only: otherwise every skipped order is fetched, joined to its buyer and seller, and
    # dropped (BENCHMARKS.md, "Dashboards at 1,000,000 orders").
    page = (select(o.c.id).where(and_(True, *where)).order_by(*order)
            .limit(rows).offset(bindparam("skip", offset)).subquery("page"))
    return _base(OrderFilter()).join(page, page.c.id == o.c.id).order_by(*order)


def page_params(f: OrderFilter, *, limit: int, offset: int = 0, after: tuple | None = None
                ) -> dict[str, Any]:
    params = {**f.params(), "rows": limit + 1}
    if offset:
        params["skip"] = offset
    for i, value in enumerate(after or ()):
        params[f"after_{i}"] = value
    return params


async def list_orders(db: Database, f: OrderFilter, *, sort: str, descending: bool,
                      limit: int, offset: int = 0, after: tuple | None = None) -> Page:
    keys = SORT_KEYS[sort]
    shape = ("page", f.shape(), sort, descending, bool(offset), after is not None)
    rows = await driver_reads.fetch_all(
        db, shape,
        lambda: list_query(f, sort=sort, descending=descending, limit=limit, offset=offset,
                           after=after),
        page_params(f, limit=limit, offset=offset, after=after))
    more = len(rows) > limit
    rows = rows[:limit]
    next_key = tuple(getattr(rows[-1], _name(k)) for k in keys) if more and rows else None
    return Page(rows=rows, next_key=next_key)


def _name(column: ColumnElement) -> str:
    return column.key


async def count_orders(db: Database, f: OrderFilter) -> int:
    """How many orders match. A seller's (or the platform's) count by status comes from the
    counters the projection keeps; other filters count rows."""
    if f.buyer_id is None and f.party_id is None and f.payment_method is None \
            and f.created_from is None and f.created_to is None:
        params = {"owner": f.seller_id if f.seller_id is not None else PLATFORM,
                  **{f"status_{i}": s for i, s in enumerate(f.statuses)}}
        rows = await driver_reads.fetch_all(db, ("counted", len(f.statuses)),
                                            lambda: _counted(f.statuses), params)
        return int(rows[0][0])
    query = select(func.count()).select_from(o).where(and_(True, *f.clauses()))
    async with db.reader.connect() as conn:
        return (await conn.execute(query)).scalar_one()


async def count_by_status(db: Database, f: OrderFilter) -> dict[str, int]:
    """How many orders match every filter but the statuses, by status, in one grouped query:
    a list's tabs. A seller's (or the platform's) come from the projection's counters."""
    if f.buyer_id is None and f.party_id is None and f.payment_method is None \
            and f.created_from is None and f.created_to is None:
        owner = f.seller_id if f.seller_id is not None else PLATFORM
        rows = await driver_reads.fetch_all(db, ("counted by status",), _counted_by_status,
                                            {"owner": owner})
    else:
        unfiltered = _without_statuses(f)
        rows = await driver_reads.fetch_all(db, ("by status", unfiltered.shape()),
                                            lambda: _grouped(unfiltered), unfiltered.params())
    return {status: int(count) for status, count in rows if count}


def _counted_by_status() -> Select:
    counts = t.order_status_counts
    return select(counts.c.status, counts.c["count"]).where(
        counts.c.seller_id == bindparam("owner"))


def _without_statuses(f: OrderFilter) -> OrderFilter:
    return OrderFilter(buyer_id=f.buyer_id, seller_id=f.seller_id, party_id=f.party_id,
                       payment_method=f.payment_method, created_from=f.created_from,
                       created_to=f.created_to)


def _grouped(f: OrderFilter) -> Select:
    return select(o.c.status, func.count()).where(and_(True, *f.clauses())).group_by(
        o.c.status)


def _counted(statuses: tuple[str, ...]) -> Select:
    counts = t.order_status_counts
    query = select(func.coalesce(func.sum(counts.c["count"]), literal_column("0"))).where(
        counts.c.seller_id == bindparam("owner"))
    if statuses:
        query = query.where(counts.c.status.in_([bindparam(f"status_{i}")
                                                 for i in range(len(statuses))]))
    return query


def search_terms(q: str) -> list[str]:
    """Letters and digits only: user input never reaches a query language unescaped."""
    return [w.lower() for w in re.findall(r"[^\W_]+", q, flags=re.UNICODE)][:8]


# Up to this many matches are found through the search index and sorted; with more, the
# newest are found by walking orders by date, which then stops after a page.
SEARCH_CAP = 1000


async def search_orders(db: Database, f: OrderFilter, q: str, *, limit: int) -> list[Any]:
    """Orders whose order number, product, buyer, seller, store or tracking number match every
    word of `q` (the last as a prefix), newest first.

    Two steps, because one plan does not fit both kinds of search: an order or tracking number
    matches a handful of orders (take them from the search index), a common word matches
    thousands (walk by date and stop at a page). Neither database's planner can tell which
    from the statistics it has. For the same reason the matching statements are planned for
    their words every time, never prepared: PostgreSQL's generic plan for them, not knowing
    the word, was several times slower than the plan for it (BENCHMARKS.md, "The read path
    rebuilt")."""
    dialect = db.reader.dialect.name
    terms = search_terms(q)
    if not terms:
        return []
    params = {**f.params(), MATCH_PARAM[dialect]: _match_text(dialect, terms)}
    found = await driver_reads.fetch_all(
        db, ("search-ids", dialect, f.shape()), lambda: match_query(dialect, f, q,
                                                                   cap=SEARCH_CAP),
        {**params, "cap": SEARCH_CAP + 1}, prepare=False)
    ids = [row.id for row in found]
    if not ids:
        return []
    if len(ids) <= SEARCH_CAP:
        # The found orders' rows on the same path: through SQLAlchemy's execute and pool this
        # step cost several times the statement (BENCHMARKS.md, "Search by order number").
        return await driver_reads.fetch_all(
            db, ("search-rows", dialect), lambda: _found_rows(dialect),
            {"ids": ids, "rows": limit}, prepare=False)
    return await driver_reads.fetch_all(
        db, ("search-walk", dialect, f.shape()),
        lambda: (_base(f).where(_match(dialect, terms))
                 .order_by(o.c.created_at.desc(), o.c.id.desc()).limit(bindparam("rows"))),
        {**params, "rows": limit}, prepare=False)


def _found_rows(dialect: str) -> Select:
    """The newest `rows` of the orders whose ids are `ids`, a list of any length."""
    ids = (o.c.id == any_(bindparam("ids", type_=ARRAY(o.c.id.type)))
           if dialect == "postgresql" else o.c.id.in_(bindparam("ids", expanding=True)))
    return (_base(OrderFilter()).where(ids)
            .order_by(o.c.created_at.desc(), o.c.id.desc()).limit(bindparam("rows")))


def match_query(dialect: str, f: OrderFilter, q: str, *, cap: int) -> Select | None:
    """Ids of up to `cap` + 1 matching orders within scope, in no particular order."""
    terms = search_terms(q)
    if not terms:
        return None
    return (select(o.c.id).where(_match(dialect, terms), *f.clauses())
            .limit(bindparam("cap", cap + 1)))


MATCH_PARAM = {"postgresql": "tsquery", "sqlite": "fts"}


def _match_text(dialect: str, terms: list[str]) -> str:
    # Whole words, and the last one as a prefix (it may still be being typed): a prefix on
    # every word makes "ORD 2026 ..." match every order through the index before narrowing.
    if dialect == "postgresql":
        return " & ".join([*terms[:-1], f"{terms[-1]}:*"])
    return " ".join([*(f'"{w}"' for w in terms[:-1]), f'"{terms[-1]}"*'])


def _match(dialect: str, terms: list[str]) -> ColumnElement:
    query = _match_text(dialect, terms)
    if dialect == "postgresql":
        return t.SEARCH_VECTOR.op("@@")(
            func.to_tsquery(text("'simple'"), bindparam("tsquery", query)))
    return o.c.id.in_(select(text("order_id")).select_from(text("orders_fts"))
                      .where(text("orders_fts MATCH :fts").bindparams(fts=query)))


@dataclass(frozen=True)
class LineSummary:
    listing_id: str
    product_name: str
    quantity: int


async def lines_of(db: Database, order_ids: list[str]) -> dict[str, list[LineSummary]]:
    """The lines of each of a page's orders, in order (one statement for the whole page)."""
    if not order_ids:
        return {}
    dialect = db.reader.dialect.name
    rows = await driver_reads.fetch_all(db, ("page-lines", dialect), lambda: _lines(dialect),
                                        {"ids": order_ids})
    lines: dict[str, list[LineSummary]] = {}
    for row in rows:
        lines.setdefault(row.order_id, []).append(
            LineSummary(row.listing_id, row.product_name, row.quantity))
    return lines


def _lines(dialect: str) -> Select:
    i = t.order_items
    ids = (i.c.order_id == any_(bindparam("ids", type_=ARRAY(i.c.order_id.type)))
           if dialect == "postgresql" else i.c.order_id.in_(bindparam("ids", expanding=True)))
    return (select(i.c.order_id, i.c.listing_id, i.c.product_name, i.c.quantity)
            .where(ids).order_by(i.c.order_id, i.c.created_at, i.c.id))
