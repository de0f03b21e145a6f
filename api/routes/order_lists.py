"""Dashboards: order lists, search, statistics and the seller's CSV export.

Reads come from the SQL read model, never from Temporal, and are scoped to what the caller may
see: a buyer's own orders, a seller's own orders, everything for operators.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from api import permissions, presenters
from api.deps import CurrentUser, DbDep
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.list_params import ListParams, list_params, scoped
from api.params import SellerIdQuery, UserIdPath
from api.permissions import Grant
from api.responses import AgeingView, OrderPage, SearchResults, StatsView
from db import order_lists
from db.order_ageing import order_ageing
from db.order_stats import order_stats
from domain.errors import ErrorCode

router = APIRouter(prefix="/api/orders", tags=["order lists"], responses=PROBLEM_RESPONSES)
Params = Annotated[ListParams, Depends(list_params)]
# The tabs of a dashboard: the counts by status of the same list, in one grouped query.
WithCounts = Annotated[bool, Query(description="also answer countsByStatus")]
# Lists answer with response_model_exclude_unset: a line shows the buyer, the seller or both,
# as the view allows (see api.responses).


@router.get("", operation_id="listOrders", response_model=OrderPage,
            response_model_exclude_unset=True, responses=problem_responses(403))
async def all_orders(params: Params, user: CurrentUser, db: DbDep,
                     counts: WithCounts = False) -> dict[str, Any]:
    """Every order, for operators, support and `orders:read`: the same filters, sorts and pages
    as the other lists."""
    permissions.require(user, Grant.READ_ANY_ORDER)
    return await _page(db, params, view="operator", counts=counts)


@router.get("/buyer/{buyer_id}", operation_id="listBuyerOrders", response_model=OrderPage,
            response_model_exclude_unset=True, responses=problem_responses(403))
async def buyer_orders(buyer_id: UserIdPath, params: Params, user: CurrentUser,
                       db: DbDep, counts: WithCounts = False) -> dict[str, Any]:
    """A buyer's orders, with the seller's name and store."""
    _require(permissions.is_self(user, buyer_id) or permissions.allows(user, Grant.READ_ANY_ORDER))
    return await _page(db, scoped(params, buyer_id=buyer_id), view="buyer", counts=counts)


@router.get("/seller/{seller_id}", operation_id="listSellerOrders", response_model=OrderPage,
            response_model_exclude_unset=True, responses=problem_responses(403))
async def seller_orders(seller_id: UserIdPath, params: Params, user: CurrentUser,
                        db: DbDep, counts: WithCounts = False) -> dict[str, Any]:
    """A seller's orders, with the buyer's name."""
    _require(permissions.is_self(user, seller_id)
             or permissions.allows(user, Grant.READ_ANY_ORDER))
    return await _page(db, scoped(params, seller_id=seller_id), view="seller", counts=counts)


@router.get("/search", operation_id="searchOrders", response_model=SearchResults,
            response_model_exclude_unset=True, responses=problem_responses(403))
async def search(user: CurrentUser, db: DbDep,
                 q: Annotated[str, Query(min_length=1, max_length=200)],
                 limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """Find orders by order number, product, tracking number, buyer or seller name: each word
    must match the start of a word. Only orders the caller may see."""
    permissions.require_person(user, Grant.READ_ANY_ORDER)
    everything = permissions.allows(user, Grant.READ_ANY_ORDER)
    scope = order_lists.OrderFilter(party_id=None if everything else user.user_id)
    rows = await order_lists.search_orders(db, scope, q, limit=limit)
    lines = await order_lists.lines_of(db, [r.id for r in rows])
    view = "operator" if everything else "party"
    return {"orders": [presenters.list_item(r, lines.get(r.id, []), view, user.user_id)
                       for r in rows]}


def _require(allowed: bool) -> None:
    if not allowed:
        raise ApiError(ErrorCode.FORBIDDEN,
                       "only the owner of this list or an operator may read it")


async def _page(db, params: ListParams, *, view: str, counts: bool = False) -> dict[str, Any]:
    after = params.after()
    offset = 0 if after is not None else (params.page - 1) * params.limit
    page = await order_lists.list_orders(db, params.filter, sort=params.sort,
                                         descending=params.descending, limit=params.limit,
                                         offset=offset, after=after)
    total = None if after is not None else await order_lists.count_orders(db, params.filter)
    pagination: dict[str, Any] = {"page": None if after is not None else params.page,
                                  "limit": params.limit, "total": total,
                                  "totalPages": None if total is None else
                                  -(-total // params.limit),
                                  "nextCursor": params.next_cursor(page.next_key)}
    lines = await order_lists.lines_of(db, [r.id for r in page.rows])
    answer = {"orders": [presenters.list_item(r, lines.get(r.id, []), view) for r in page.rows],
              "pagination": pagination}
    if counts:
        answer["countsByStatus"] = await order_lists.count_by_status(db, params.filter)
    return answer


@router.get("/ageing", operation_id="getOrderAgeing", response_model=AgeingView,
            responses=problem_responses(403))
async def ageing(user: CurrentUser, db: DbDep) -> dict[str, Any]:
    """Operators, support and `orders:read`: for every status that is not final, how many
    orders are in it and for how long (since their last change: under an hour, a day, three
    days, or older), and the oldest one's time: what may be stuck."""
    permissions.require(user, Grant.READ_ANY_ORDER)
    now = datetime.now(UTC)
    return {"at": presenters.iso(now), "statuses": [
        {"status": a.status, "count": a.count, "oldestSince": presenters.iso(a.oldest_since),
         "byAge": a.by_age} for a in await order_ageing(db, now=now)]}


@router.get("/stats", operation_id="getOrderStats", response_model=StatsView,
            response_model_exclude_unset=True, responses=problem_responses(403))
async def stats(
    user: CurrentUser, db: DbDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    sellerId: SellerIdQuery = None,  # noqa: N803 - wire name
) -> dict[str, Any]:
    """A seller's own statistics, or the platform's (or any seller's) for operators and support,
    over orders created in [from, to) (default: the last 30 days)."""
    permissions.require_person(user, Grant.STATS_ANY)
    if not permissions.allows(user, Grant.STATS_ANY):
        if sellerId not in (None, user.user_id):
            raise ApiError(ErrorCode.FORBIDDEN, "a seller may only read its own statistics")
        sellerId = user.user_id  # noqa: N806
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=30)
    if start >= end or end - start > timedelta(days=366):
        raise ApiError.invalid_field("from", "invalid range",
                                     detail="from must be before to, at most a year apart")
    result = await order_stats(db, seller_id=sellerId, start=start, end=end)
    return {"stats": presenters.stats(result, start, end, seller_id=sellerId)}


CSV_COLUMNS = ["orderNumber", "id", "status", "createdAt", "buyerId", "buyerName",
               "itemCount", "items", "totalAmount", "currency", "paymentMethod",
               "paymentStatus", "trackingNumber", "estimatedDelivery"]


@router.get("/seller/{seller_id}/export.csv", operation_id="exportSellerOrders",
            response_class=StreamingResponse, responses={
                200: {"description": "CSV, a header line first",
                      "content": {"text/csv": {"schema": {"type": "string"}}}},
                **problem_responses(403)})
async def export_csv(seller_id: UserIdPath, params: Params, user: CurrentUser,
                     db: DbDep) -> StreamingResponse:
    """The seller's orders (same filters as the list) as CSV, streamed newest first."""
    _require(permissions.is_self(user, seller_id) or permissions.allows(user, Grant.EXPORT_ANY))
    f = scoped(params, seller_id=seller_id).filter

    async def batch(after: Any) -> order_lists.Page:
        # One short read per batch: no connection is held while the client reads.
        return await order_lists.list_orders(db, f, sort="createdAt", descending=True,
                                             limit=500, after=after)

    # The first batch before the response starts, so a database outage is still a 503.
    first = await batch(None)

    async def rows() -> AsyncIterator[str]:
        yield _csv_line(CSV_COLUMNS)
        page = first
        while True:
            lines = await order_lists.lines_of(db, [r.id for r in page.rows])
            for r in page.rows:
                item = presenters.list_item(r, lines.get(r.id, []), "seller")
                yield _csv_line([item["orderNumber"], item["id"], item["status"],
                                 item["createdAt"], r.buyer_id, r.buyer_name,
                                 item["itemCount"], _titles(item["items"]),
                                 item["totalAmount"], item["currency"], item["paymentMethod"],
                                 item["paymentStatus"], item["trackingNumber"],
                                 item["estimatedDelivery"]])
            if page.next_key is None:
                return
            page = await batch(page.next_key)

    filename = f"orders-{seller_id}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _titles(lines: list[dict[str, Any]]) -> str:
    """An order's items in one cell: "2 x Wireless Headphones; 1 x USB-C cable"."""
    return "; ".join(f"{line['quantity']} x {line['productName']}" for line in lines)


FORMULA_STARTS = "=+-@\t\r"


def _csv_line(values: list) -> str:
    out = io.StringIO()
    # A cell starting with = + - @ (or a tab or carriage return, which spreadsheets skip
    # before reading one of those) would run as a formula: quote it.
    csv.writer(out).writerow(
        ["'" + v if isinstance(v, str) and v and v[0] in FORMULA_STARTS
         else ("" if v is None else v) for v in values])
    return out.getvalue()
