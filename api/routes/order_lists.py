"""Dashboards: order lists, search, statistics and the seller's CSV export.

Reads come from the SQL read model, never from Temporal, and are scoped to what the caller may
see: a buyer's own orders, a seller's own orders, everything for operators.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api import presenters
from api.deps import CurrentUser, DbDep
from api.errors import ApiError
from api.list_params import ListParams, list_params, scoped
from db import order_lists
from domain.errors import ErrorCode

router = APIRouter(prefix="/api/orders", tags=["order lists"])
Params = Annotated[ListParams, Depends(list_params)]
UserId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


@router.get("")
async def all_orders(params: Params, user: CurrentUser, db: DbDep) -> dict[str, Any]:
    """Every order, for operators: the same filters, sorts and pages as the other lists."""
    _require(user.is_staff)
    return await _page(db, params, view="operator")


@router.get("/buyer/{buyer_id}")
async def buyer_orders(buyer_id: UserId, params: Params, user: CurrentUser,
                       db: DbDep) -> dict[str, Any]:
    """A buyer's orders, with the seller's name and store."""
    _require(user.is_staff or user.user_id == buyer_id)
    return await _page(db, scoped(params, buyer_id=buyer_id), view="buyer")


@router.get("/seller/{seller_id}")
async def seller_orders(seller_id: UserId, params: Params, user: CurrentUser,
                        db: DbDep) -> dict[str, Any]:
    """A seller's orders, with the buyer's name."""
    _require(user.is_staff or user.user_id == seller_id)
    return await _page(db, scoped(params, seller_id=seller_id), view="seller")


@router.get("/search")
async def search(user: CurrentUser, db: DbDep,
                 q: Annotated[str, Query(min_length=1, max_length=200)],
                 limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """Find orders by order number, product, tracking number, buyer or seller name: each word
    must match the start of a word. Only orders the caller may see."""
    scope = order_lists.OrderFilter(party_id=None if user.is_staff else user.user_id)
    async with db.engine.connect() as conn:
        rows = await order_lists.search_orders(conn, scope, q, limit=limit)
    view = "operator" if user.is_staff else "party"
    return {"orders": [presenters.list_item(r, view, user.user_id) for r in rows]}


def _require(allowed: bool) -> None:
    if not allowed:
        raise ApiError(ErrorCode.FORBIDDEN,
                       "only the owner of this list or an operator may read it")


async def _page(db, params: ListParams, *, view: str) -> dict[str, Any]:
    after = params.after()
    offset = 0 if after is not None else (params.page - 1) * params.limit
    async with db.engine.connect() as conn:
        page = await order_lists.list_orders(conn, params.filter, sort=params.sort,
                                             descending=params.descending, limit=params.limit,
                                             offset=offset, after=after)
        total = None if after is not None else await order_lists.count_orders(conn,
                                                                              params.filter)
    pagination: dict[str, Any] = {"page": None if after is not None else params.page,
                                  "limit": params.limit, "total": total,
                                  "totalPages": None if total is None else
                                  -(-total // params.limit),
                                  "nextCursor": params.next_cursor(page.next_key)}
    return {"orders": [presenters.list_item(r, view) for r in page.rows],
            "pagination": pagination}
