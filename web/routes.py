"""The pages: /app/ (to the reader's home), the order lists and the order page. Each reads
through the API as the signed-in person."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal, Role
from domain.ids import ORDER_ID_PATTERN
from domain.order import FINAL_STATUSES, OrderStatus, PaymentMethod
from domain.statuses import StatusGroup, in_group
from web import offers as order_offers
from web import session
from web.api_client import ApiClient, ApiProblem
from web.render import home, page, to_sign_in

router = APIRouter(prefix="/app", include_in_schema=False)

LIST_LIMIT = 20
SORTS = {"createdAt": "date", "status": "status", "totalAmount": "total",
         "statusUpdatedAt": "last change"}
STATUSES = frozenset(s.value for s in OrderStatus)


@router.get("/")
async def start(request: Request) -> Response:
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    target = home(user)
    if user.role is Role.USER:
        try:
            async with ApiClient(request, session.session_token(request)) as api:
                sold = await api.get(f"/api/orders/seller/{user.user_id}", limit=1)
        except ApiProblem as problem:
            if problem.unauthorized:
                return to_sign_in()
            sold = {"pagination": {"total": 0}}  # the orders page will say what is wrong
        if sold["pagination"]["total"]:
            target = "/app/sales"  # a seller works from their queue
    return RedirectResponse(target, status_code=303)


@dataclass(frozen=True)
class ListQuery:
    """A list page's query: what the list API takes, plus the search and the tab."""

    q: Annotated[str | None, Query(max_length=200)] = None
    group: str | None = None
    status: str | None = None  # one status (the console's links), instead of a tab's group
    paymentMethod: str | None = None  # noqa: N815 - the API's names, passed on as they are
    sortBy: str = "createdAt"  # noqa: N815
    sortOrder: str = "desc"  # noqa: N815
    cursor: str | None = None


Listed = Annotated[ListQuery, Depends()]


@router.get("/purchases")
async def purchases(request: Request, query: Listed) -> Response:
    return await _list_page(request, "buyer", query)


@router.get("/sales")
async def sales(request: Request, query: Listed) -> Response:
    return await _list_page(request, "seller", query)


@router.get("/orders")
async def all_orders(request: Request, query: Listed) -> Response:
    return await _list_page(request, "all", query)


LISTS = {"buyer": ("My orders", "/app/purchases"), "seller": ("My sales", "/app/sales"),
         "all": ("All orders", "/app/orders")}


async def _list_page(request: Request, which: str, query: ListQuery) -> Response:
    q, cursor, method = query.q, query.cursor, query.paymentMethod
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    title, path = LISTS[which]
    endpoint = {"buyer": f"/api/orders/buyer/{user.user_id}",
                "seller": f"/api/orders/seller/{user.user_id}", "all": "/api/orders"}[which]
    group = query.group if query.group in StatusGroup.__members__.values() else None
    status = query.status if query.status in STATUSES else None
    filters = {"paymentMethod": method, "sortBy": query.sortBy, "sortOrder": query.sortOrder}
    context: dict[str, Any] = {"title": title, "path": path, "which": which, "q": q or "",
                               "group": group, "status": status, "filters": filters,
                               "groups": list(StatusGroup),
                               "methods": list(PaymentMethod), "sorts": SORTS,
                               "counts": {}, "orders": [], "next_cursor": None,
                               "cursor": cursor, "error": None}
    try:
        async with ApiClient(request, session.session_token(request)) as api:
            if q:
                found = await api.get("/api/orders/search", q=q, limit=50)
                context["orders"] = found["orders"]
            else:
                listed = await api.get(endpoint, status=status or _statuses(group),
                                       limit=LIST_LIMIT, cursor=cursor, counts="true",
                                       **filters)
                context.update(orders=listed["orders"],
                               counts=tab_counts(listed["countsByStatus"]),
                               next_cursor=listed["pagination"]["nextCursor"])
    except ApiProblem as problem:
        if problem.unauthorized:
            return to_sign_in()
        context["error"] = problem
        return page(request, "orders.html", context, user=user, status=problem.status)
    return page(request, "orders.html", context, user=user)


def _statuses(group: str | None) -> str | None:
    if group is None:
        return None
    return ",".join(sorted(in_group(StatusGroup(group))))


def tab_counts(by_status: dict[str, int]) -> dict[str, int]:
    """Orders per tab from the list's counts by status (every status is in one group, so
    "all" is their sum)."""
    counts = {g.value: sum(n for s, n in by_status.items() if s in in_group(g))
              for g in StatusGroup}
    return {"all": sum(by_status.values()), **counts}


@router.get("/orders/{order_id}")
async def order_page(request: Request, order_id: str) -> Response:
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    if not _is_order_id(order_id):
        return page(request, "error.html", {"status": 404, "detail": "no such order"},
                    user=user, status=404)
    try:
        context = await order_context(request, user, order_id)
    except ApiProblem as problem:
        if problem.unauthorized:
            return to_sign_in()
        return page(request, "error.html", {"status": problem.status,
                                            "detail": problem.detail}, user=user,
                    status=problem.status)
    return page(request, "order.html", context, user=user)


def _is_order_id(value: str) -> bool:
    return re.fullmatch(ORDER_ID_PATTERN, value) is not None


async def order_context(connection, user: Principal, order_id: str,
                        **extra: Any) -> dict[str, Any]:
    """What the order page shows, read through the API as `user`."""
    async with ApiClient(connection, session.session_token(connection)) as api:
        details, parcels = await asyncio.gather(
            api.get(f"/api/orders/{order_id}"), api.get(f"/api/orders/{order_id}/shipments"))
    order = details["order"]
    settings = connection.app.state.settings
    offered = order_offers.offers(user, order, now=datetime.now(UTC),
                                  dispute_window=settings.policy.dispute_window)
    actor = order_offers.actor_of(user, order)
    return {"order": order, "parcels": parcels["shipments"], "offers": offered,
            "Offer": order_offers.Offer, "status_steps": order_offers.STATUS_STEPS,
            "cancel_reasons": order_offers.CANCEL_REASONS.get(actor, ()) if actor else (),
            "unshipped": _unshipped(order, parcels["shipments"]),
            "errors": {}, "done": None,
            "is_final": OrderStatus(order["status"]) in FINAL_STATUSES, **extra}


def _unshipped(order: dict[str, Any], parcels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's items with the units not in a parcel yet (what a new parcel may hold)."""
    shipped: dict[str, int] = {}
    for parcel in parcels:
        for line in parcel["items"]:
            if line["itemId"]:
                shipped[line["itemId"]] = shipped.get(line["itemId"], 0) + line["quantity"]
    return [{**item, "left": item["quantity"] - shipped.get(item["id"], 0)}
            for item in order["items"] if item["quantity"] > shipped.get(item["id"], 0)]


async def refused(request: Request, exc: Exception) -> Response:
    """A forged or stale form post: 403, and nothing was done."""
    user = await session.principal(request)
    return page(request, "error.html", {"status": 403, "detail": str(exc)}, user=user,
                status=403)
