"""The pages: sign-in, the order lists and the order page. Each reads through the API."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import AuthError, Principal, Role, mint_token
from api.tokens import KeysUnavailable
from domain.ids import ORDER_ID_PATTERN
from domain.order import FINAL_STATUSES, OrderStatus, PaymentMethod
from domain.statuses import StatusGroup, in_group
from oms.devstack import DEMO_SUPPORT
from oms.seed import DEMO_BUYER, DEMO_OPERATOR, DEMO_SELLER
from web import offers as order_offers
from web import session
from web.api_client import ApiClient, ApiProblem
from web.render import home, page

router = APIRouter(prefix="/app", include_in_schema=False)

# The dev stack's people (oms/devstack.py prints their tokens), one sign-in button each.
DEMO_USERS: dict[str, tuple[str, Role, str]] = {
    "buyer": (DEMO_BUYER, Role.USER, "Buyer"),
    "seller": (DEMO_SELLER, Role.USER, "Seller"),
    "operator": (DEMO_OPERATOR, Role.OPERATOR, "Operator"),
    "support": (DEMO_SUPPORT, Role.SUPPORT, "Support (read-only)"),
}
LIST_LIMIT = 20
SORTS = {"createdAt": "date", "status": "status", "totalAmount": "total"}


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/app/sign-in", status_code=303)


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


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, None)


def _sign_in_page(request: Request, error: str | None, status: int = 200) -> Response:
    binding = session.presession_value(request)
    demo = DEMO_USERS if request.app.state.settings.web_demo_sign_in else {}
    response = page(request, "sign_in.html", {
        "demo_users": demo, "error": error, "csrf": session.csrf_token(request, binding)},
        user=None, status=status)
    session.keep_presession(request, response, binding)
    return response


@router.post("/sign-in")
async def sign_in(request: Request, csrf: Annotated[str | None, Form()] = None,
                  token: Annotated[str | None, Form(max_length=8192)] = None,
                  demo: Annotated[str | None, Form(max_length=20)] = None) -> Response:
    session.check_post(request, csrf, signing_in=True)
    settings = request.app.state.settings
    if demo is not None:
        if not settings.web_demo_sign_in or demo not in DEMO_USERS:
            return _sign_in_page(request, "demo sign-in is not available here", 403)
        sub, role, _ = DEMO_USERS[demo]
        token = mint_token(settings.jwt_secret, sub, role, issuer=settings.jwt_issuer,
                           audience=settings.jwt_audience)
    token = (token or "").strip()
    try:
        user = await request.app.state.tokens.principal(token)
    except AuthError as err:
        return _sign_in_page(request, f"That token was not accepted: {err.message}.", 401)
    except KeysUnavailable:
        return _sign_in_page(request, "The identity provider cannot be reached to check the "
                                      "token; try again shortly.", 503)
    if user.is_integration:
        return _sign_in_page(request, "That is an integration's token: the pages are for "
                                      "people.", 403)
    response = RedirectResponse("/app/", status_code=303)
    session.sign_in(request, response, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    session.check_post(request, csrf)
    response = to_sign_in()
    session.sign_out(response)
    return response


@router.get("/purchases")
async def purchases(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                    group: str | None = None, paymentMethod: str | None = None,  # noqa: N803
                    sortBy: str = "createdAt", sortOrder: str = "desc",  # noqa: N803
                    cursor: str | None = None) -> Response:
    return await _list_page(request, "buyer", q=q, group=group, method=paymentMethod,
                            sort=sortBy, order=sortOrder, cursor=cursor)


@router.get("/sales")
async def sales(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                group: str | None = None, paymentMethod: str | None = None,  # noqa: N803
                sortBy: str = "createdAt", sortOrder: str = "desc",  # noqa: N803
                cursor: str | None = None) -> Response:
    return await _list_page(request, "seller", q=q, group=group, method=paymentMethod,
                            sort=sortBy, order=sortOrder, cursor=cursor)


@router.get("/orders")
async def all_orders(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                     group: str | None = None, paymentMethod: str | None = None,  # noqa: N803
                     sortBy: str = "createdAt", sortOrder: str = "desc",  # noqa: N803
                     cursor: str | None = None) -> Response:
    return await _list_page(request, "all", q=q, group=group, method=paymentMethod,
                            sort=sortBy, order=sortOrder, cursor=cursor)


LISTS = {"buyer": ("My orders", "/app/purchases"), "seller": ("My sales", "/app/sales"),
         "all": ("All orders", "/app/orders")}


async def _list_page(request: Request, which: str, *, q: str | None, group: str | None,
                     method: str | None, sort: str, order: str, cursor: str | None) -> Response:
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    title, path = LISTS[which]
    endpoint = {"buyer": f"/api/orders/buyer/{user.user_id}",
                "seller": f"/api/orders/seller/{user.user_id}", "all": "/api/orders"}[which]
    group = group if group in StatusGroup.__members__.values() else None
    filters = {"paymentMethod": method, "sortBy": sort, "sortOrder": order}
    context: dict[str, Any] = {"title": title, "path": path, "which": which, "q": q or "",
                               "group": group, "filters": filters, "groups": list(StatusGroup),
                               "methods": list(PaymentMethod), "sorts": SORTS,
                               "counts": {}, "orders": [], "next_cursor": None,
                               "cursor": cursor, "error": None}
    try:
        async with ApiClient(request, session.session_token(request)) as api:
            if q:
                found = await api.get("/api/orders/search", q=q, limit=50)
                context["orders"] = found["orders"]
            else:
                listed, counts = await asyncio.gather(
                    api.get(endpoint, status=_statuses(group), limit=LIST_LIMIT,
                            cursor=cursor, **filters),
                    _counts(api, endpoint, method))
                context.update(orders=listed["orders"], counts=counts,
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


async def _counts(api: ApiClient, endpoint: str, method: str | None) -> dict[str, int]:
    """Orders per tab, from the list's own totals (one small page per group; every status is
    in one group, so "all" is their sum)."""
    pages = await asyncio.gather(*(
        api.get(endpoint, status=_statuses(g), paymentMethod=method, limit=1)
        for g in StatusGroup))
    counts = {g.value: p["pagination"]["total"] for g, p in zip(StatusGroup, pages, strict=True)}
    return {"all": sum(counts.values()), **counts}


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
