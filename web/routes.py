"""The pages: /app/ (to the reader's home), the order lists and the order page. Each reads
through the API as the signed-in person."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import Principal, Role
from domain.ids import ORDER_ID_PATTERN
from domain.order import FINAL_STATUSES, OrderStatus, PaymentMethod
from web import offers as order_offers
from web import session
from web.api_client import ApiClient, ApiProblem
from web.order_lists import ListQuery, OrderLine, tabs
from web.render import home, page, to_sign_in

router = APIRouter(include_in_schema=False)

LIST_LIMIT = 20
SORTS = {"createdAt": "date", "status": "status", "totalAmount": "total",
         "statusUpdatedAt": "last change"}


@router.get("/")
async def start(request: Request) -> Response:
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    target = home(user)
    if user.role is Role.USER:
        try:
            api = ApiClient(request)
            sold = await api.get(f"/api/orders/seller/{user.user_id}", limit=1)
        except ApiProblem as problem:
            if problem.unauthorized:
                return to_sign_in()
            sold = {"pagination": {"total": 0}}  # the orders page will say what is wrong
        if sold["pagination"]["total"]:
            target = "/app/sales"  # a seller works from their queue
    return RedirectResponse(target, status_code=303)


@router.get("/purchases")
async def purchases(request: Request) -> Response:
    return await _list_page(request, "buyer")


@router.get("/sales")
async def sales(request: Request) -> Response:
    return await _list_page(request, "seller")


@router.get("/orders")
async def all_orders(request: Request) -> Response:
    return await _list_page(request, "all")


LISTS = {"buyer": ("My orders", "/app/purchases"), "seller": ("My sales", "/app/sales"),
         "all": ("All orders", "/app/orders")}


async def _list_page(request: Request, which: str) -> Response:
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    query = ListQuery.of(request.query_params)
    title, path = LISTS[which]
    endpoint = {"buyer": f"/api/orders/buyer/{user.user_id}",
                "seller": f"/api/orders/seller/{user.user_id}", "all": "/api/orders"}[which]
    context: dict[str, Any] = {"title": title, "path": path, "query": query,
                               "methods": list(PaymentMethod), "sorts": SORTS, "tabs": [],
                               "orders": [], "next_cursor": None, "error": None}
    try:
        api = ApiClient(request)
        if query.q:
            found = await api.get("/api/orders/search", q=query.q, limit=50)
            context["orders"] = [OrderLine.of(o) for o in found["orders"]]
        else:
            listed = await api.get(endpoint, status=query.statuses(), limit=LIST_LIMIT,
                                   cursor=query.cursor, counts="true", **query.filters)
            context.update(orders=[OrderLine.of(o) for o in listed["orders"]],
                           tabs=tabs(path, query, listed["countsByStatus"]),
                           next_cursor=listed["pagination"]["nextCursor"])
    except ApiProblem as problem:
        if problem.unauthorized:
            return to_sign_in()
        context["error"] = problem
        return page(request, "orders.html", context, user=user, status=problem.status)
    return page(request, "orders.html", context, user=user)


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
    api = ApiClient(connection)
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


async def wrong_request(request: Request, exc: Exception) -> Response:
    """A page that does not exist, or a post the pages never make (a field missing or too
    long): the error page, with the status the API would have answered in JSON."""
    user = await session.principal(request)
    if isinstance(exc, RequestValidationError):
        said = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'form'}: "
                         f"{e.get('msg', 'invalid')}" for e in exc.errors())
        status, detail = 422, f"this form was not sent as the page makes it ({said})"
    elif isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        detail = "no such page" if status == 404 else str(exc.detail)
    else:
        raise exc
    return page(request, "error.html", {"status": status, "detail": detail}, user=user,
                status=status)
