"""Every route of the app against every kind of caller, on the real app with one real order.

The routes come from the app itself (HTTP and WebSocket), the integration relations from the
Scope enum: a new route or a new scope fails here until its row says who may use it. A cell
is the class of the answer: allowed (anything but 401, 403 and 404; commands are sent to a
shipped order in a way its status machine refuses, so nothing changes), unauthorized, forbidden
or hidden (404, as for an order that does not exist).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import websockets
from fastapi import routing
from websockets.exceptions import ConnectionClosed

from api.auth import Role, Scope, mint_token
from api.main import create_app
from api.permissions import GRANTS, STATUS_SCOPES
from domain.order import ActorKind, OrderStatus, actor_may
from oms.settings import Settings
from tests.api.test_live_updates import serve
from tests.api.test_webhooks import new_order, ready_to_ship
from tests.conftest import JWT_SECRET, bearer
from tests.factories import unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")

BAD_TOKENS = ("anonymous", "expired", "forged", "alg_none", "other_secret", "other_issuer",
              "other_audience")
PEOPLE = ("buyer", "seller", "other_buyer", "other_seller")
STAFF = ("operator", "support")
SCOPES = tuple(s.value for s in Scope)
RELATIONS = (*BAD_TOKENS, *PEOPLE, *STAFF, "no_scope", *SCOPES)


def cells(*, ok=(), forbidden=(), hidden=(), unauthorized=BAD_TOKENS) -> dict[str, str]:
    out: dict[str, str] = {}
    for outcome, relations in (("ok", ok), ("forbidden", forbidden), ("hidden", hidden),
                               ("unauthorized", unauthorized)):
        for relation in relations:
            assert relation not in out, f"{relation} has two expectations"
            out[relation] = outcome
    return out


def public() -> dict[str, str]:
    return cells(ok=RELATIONS, unauthorized=())


def signed() -> dict[str, str]:
    """Webhooks are authenticated by their HMAC signature; no token opens them."""
    return cells(unauthorized=RELATIONS)


def ws(*, ok, refused) -> dict[str, str]:
    return cells(ok=ok, forbidden=refused, unauthorized=())


ORDER_READERS = dict(ok=("buyer", "seller", "operator", "support", "orders:read"),
                     hidden=("other_buyer", "other_seller"),
                     forbidden=("no_scope", "orders:create", "shipping:report", "catalog:write",
                                "users:write"))
PARTY_COMMAND = dict(ok=("buyer", "seller", "operator"), hidden=("other_buyer", "other_seller"),
                     forbidden=("support", "no_scope", *SCOPES))
NOT_FOR_INTEGRATIONS = ("no_scope", *SCOPES)

EXPECTED: dict[str, dict[str, str]] = {
    "GET /openapi.json": public(),
    "GET /docs": public(),
    "GET /docs/oauth2-redirect": public(),
    "GET /redoc": public(),
    "GET /health": public(),
    "GET /metrics": public(),
    "GET /api/payments/config": public(),  # what a checkout needs; no secrets
    "POST /api/webhooks/shipping": signed(),
    "POST /api/webhooks/escrow": signed(),
    "POST /api/webhooks/stripe": signed(),
    # Operators read the payloads Temporal holds encrypted; nobody else does.
    "POST /codec/decode": cells(ok=("operator",),
                                forbidden=(*PEOPLE, "support", *NOT_FOR_INTEGRATIONS)),
    "POST /codec/encode": cells(ok=("operator",),
                                forbidden=(*PEOPLE, "support", *NOT_FOR_INTEGRATIONS)),
    # The sign-in page of a Temporal UI without sign-in; the session is an operator's only.
    "GET /codec/session": public(),
    "POST /codec/session": cells(ok=("operator",),
                                 forbidden=(*PEOPLE, "support", *NOT_FOR_INTEGRATIONS)),
    "POST /codec/session/end": public(),
    "GET /api/orders": cells(
        ok=("operator", "support", "orders:read"),
        forbidden=(*PEOPLE, "no_scope", "orders:create", "shipping:report", "catalog:write",
                   "users:write")),
    "GET /api/orders/buyer/{buyer_id}": cells(
        ok=("buyer", "operator", "support", "orders:read"),
        forbidden=("seller", "other_buyer", "other_seller", "no_scope", "orders:create",
                   "shipping:report", "catalog:write", "users:write")),
    "GET /api/orders/seller/{seller_id}": cells(
        ok=("seller", "operator", "support", "orders:read"),
        forbidden=("buyer", "other_buyer", "other_seller", "no_scope", "orders:create",
                   "shipping:report", "catalog:write", "users:write")),
    "GET /api/orders/search": cells(
        ok=(*PEOPLE, *STAFF, "orders:read"),
        forbidden=("no_scope", "orders:create", "shipping:report", "catalog:write",
                   "users:write")),
    "GET /api/orders/ageing": cells(
        ok=("operator", "support", "orders:read"),
        forbidden=(*PEOPLE, "no_scope", "orders:create", "shipping:report", "catalog:write",
                   "users:write")),
    "GET /api/orders/stats": cells(  # asked for the order's seller
        ok=("seller", *STAFF),
        forbidden=("buyer", "other_buyer", "other_seller", *NOT_FOR_INTEGRATIONS)),
    "GET /api/orders/seller/{seller_id}/export.csv": cells(
        ok=("seller", *STAFF),
        forbidden=("buyer", "other_buyer", "other_seller", *NOT_FOR_INTEGRATIONS)),
    "POST /api/orders": cells(  # for the buyer, with a payment that did not succeed
        ok=("buyer", "operator", "orders:create"),
        forbidden=("seller", "other_buyer", "other_seller", "support", "no_scope",
                   "orders:read", "shipping:report", "catalog:write", "users:write")),
    "GET /api/orders/{order_id}": cells(**ORDER_READERS),
    "GET /api/orders/{order_id}/timeline": cells(**ORDER_READERS),
    "GET /api/orders/{order_id}/history": cells(**ORDER_READERS),
    "PUT /api/orders/{order_id}/status": cells(  # shipped again: the machine says 409
        ok=("buyer", "seller", "operator", "shipping:report"),
        hidden=("other_buyer", "other_seller"),
        forbidden=("support", "no_scope", "orders:read", "orders:create", "catalog:write",
                   "users:write")),
    "POST /api/orders/{order_id}/cancel": cells(**PARTY_COMMAND),
    "POST /api/orders/{order_id}/dispute": cells(**PARTY_COMMAND),
    "POST /api/orders/{order_id}/dispute/resolve": cells(
        ok=("operator",), hidden=("other_buyer", "other_seller"),
        forbidden=("buyer", "seller", "support", *NOT_FOR_INTEGRATIONS)),
    "POST /api/orders/{order_id}/shipments": cells(  # shipped already: refused with 409
        ok=("seller", "operator"), hidden=("other_buyer", "other_seller"),
        forbidden=("buyer", "support", *NOT_FOR_INTEGRATIONS)),
    "GET /api/orders/{order_id}/shipments": cells(**ORDER_READERS),
    "GET /api/orders/{order_id}/shipments/{tracking_number}": cells(**ORDER_READERS),
    "POST /api/orders/{order_id}/refunds": cells(  # more than was paid: refused with 409
        ok=("seller", "operator"), hidden=("other_buyer", "other_seller"),
        forbidden=("buyer", "support", *NOT_FOR_INTEGRATIONS)),
    "GET /api/alerts": cells(ok=(*PEOPLE, *STAFF), forbidden=NOT_FOR_INTEGRATIONS),
    "PUT /api/users/{user_id}": cells(
        ok=("operator", "users:write"),
        forbidden=(*PEOPLE, "support", "no_scope", "orders:read", "orders:create",
                   "shipping:report", "catalog:write")),
    "PUT /api/listings/{listing_id}": cells(  # a listing of the order's seller
        ok=("seller", "operator", "catalog:write"),
        forbidden=("buyer", "other_buyer", "other_seller", "support", "no_scope",
                   "orders:read", "orders:create", "shipping:report", "users:write")),
    "GET /api/listings/{listing_id}": cells(
        ok=(*PEOPLE, *STAFF, "catalog:write"),
        forbidden=("no_scope", "orders:read", "orders:create", "shipping:report",
                   "users:write")),
    "GET /api/notifications": cells(ok=(*PEOPLE, *STAFF), forbidden=NOT_FOR_INTEGRATIONS),
    "POST /api/notifications/{notification_id}/read": cells(  # one of the buyer's
        ok=("buyer",), hidden=("seller", "other_buyer", "other_seller", *STAFF),
        forbidden=NOT_FOR_INTEGRATIONS),
    "WS /api/ws": ws(ok=(*PEOPLE, *STAFF, "orders:read"),
                     refused=(*BAD_TOKENS, "no_scope", "orders:create", "shipping:report",
                              "catalog:write", "users:write")),
    "WS /api/ws?all=true": ws(ok=(*STAFF, "orders:read"),
                              refused=(*BAD_TOKENS, *PEOPLE, "no_scope", "orders:create",
                                       "shipping:report", "catalog:write", "users:write")),
}


def app_routes() -> set[str]:
    """Every route the app serves, as "METHOD path" ("WS path" for WebSockets)."""
    app = create_app(Settings(_env_file=None))
    found = set()
    for route in routing.iter_route_contexts(app.routes):
        if route.path.startswith("/app"):
            continue  # the web front's pages: they call these routes; tests/browser checks them
        if isinstance(route.original_route, routing.APIWebSocketRoute):
            found.add(f"WS {route.path}")
        for method in (route.methods or set()) - {"HEAD"}:
            found.add(f"{method} {route.path}")
    return found


def test_every_route_and_every_relation_has_an_expectation():
    ws_variants = {key.split("?")[0] for key in EXPECTED if key.startswith("WS ")}
    expected_routes = {key for key in EXPECTED if not key.startswith("WS ")} | ws_variants
    assert app_routes() == expected_routes, "a route without expectations, or a stale row"
    for key, row in EXPECTED.items():
        assert set(row) == set(RELATIONS), (key, set(RELATIONS) ^ set(row))


def tokens(buyer: str, seller: str) -> dict[str, dict[str, str]]:
    """Headers for every relation; the bad tokens all name the buyer."""
    now = datetime.now(UTC)
    good = mint_token(JWT_SECRET, buyer)

    def integration(*scopes: Scope) -> dict[str, str]:
        return bearer(unique("integration"), Role.INTEGRATION, scopes)

    raw = {
        "expired": mint_token(JWT_SECRET, buyer, ttl=timedelta(seconds=-1)),
        "forged": good.rsplit(".", 1)[0] + ".c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ",
        "alg_none": jwt.encode({"sub": buyer, "iss": "oms-dev", "aud": "oms",
                                "exp": now + timedelta(hours=1)}, None, algorithm="none"),
        "other_secret": mint_token("another-secret-0123456789abcdef0123", buyer),
        "other_issuer": mint_token(JWT_SECRET, buyer, issuer="https://elsewhere.test/"),
        "other_audience": mint_token(JWT_SECRET, buyer, audience="another-api"),
    }
    return {
        "anonymous": {},
        **{name: {"Authorization": f"Bearer {token}"} for name, token in raw.items()},
        "buyer": bearer(buyer), "seller": bearer(seller),
        "other_buyer": bearer(unique("buyer")), "other_seller": bearer(unique("seller")),
        "operator": bearer(unique("ops"), Role.OPERATOR),
        "support": bearer(unique("support"), Role.SUPPORT),
        "no_scope": integration(),
        **{scope.value: integration(scope) for scope in Scope},
    }


def http_requests(order_id, buyer, seller, body, notification_id, listing_id):
    """The one request each HTTP route gets: (method, url, json body)."""
    unpaid = {**body, "paymentResult": {**body["paymentResult"], "success": False}}
    listing = {"sellerId": seller, "title": "Matrix", "unitPrice": "1.00", "currency": "USD",
               "inventory": 1}
    o = f"/api/orders/{order_id}"
    return {
        "GET /openapi.json": ("GET", "/openapi.json", None),
        "GET /docs": ("GET", "/docs", None),
        "GET /docs/oauth2-redirect": ("GET", "/docs/oauth2-redirect", None),
        "GET /redoc": ("GET", "/redoc", None),
        "GET /health": ("GET", "/health", None),
        "GET /metrics": ("GET", "/metrics", None),
        "GET /api/payments/config": ("GET", "/api/payments/config", None),
        "POST /api/webhooks/shipping": ("POST", "/api/webhooks/shipping", {}),
        "POST /api/webhooks/escrow": ("POST", "/api/webhooks/escrow", {}),
        "POST /api/webhooks/stripe": ("POST", "/api/webhooks/stripe", {}),
        "POST /codec/decode": ("POST", "/codec/decode", {"payloads": []}),
        "POST /codec/encode": ("POST", "/codec/encode", {"payloads": []}),
        "GET /codec/session": ("GET", "/codec/session", None),
        "POST /codec/session": ("POST", "/codec/session", None),
        "POST /codec/session/end": ("POST", "/codec/session/end", None),
        "GET /api/orders": ("GET", "/api/orders", None),
        "GET /api/orders/buyer/{buyer_id}": ("GET", f"/api/orders/buyer/{buyer}", None),
        "GET /api/orders/seller/{seller_id}": ("GET", f"/api/orders/seller/{seller}", None),
        "GET /api/orders/search": ("GET", "/api/orders/search?q=ORD", None),
        "GET /api/orders/stats": ("GET", f"/api/orders/stats?sellerId={seller}", None),
        "GET /api/orders/ageing": ("GET", "/api/orders/ageing", None),
        "GET /api/orders/seller/{seller_id}/export.csv":
            ("GET", f"/api/orders/seller/{seller}/export.csv", None),
        "POST /api/orders": ("POST", "/api/orders", unpaid),
        "GET /api/orders/{order_id}": ("GET", o, None),
        "GET /api/orders/{order_id}/timeline": ("GET", f"{o}/timeline", None),
        "GET /api/orders/{order_id}/history": ("GET", f"{o}/history", None),
        "PUT /api/orders/{order_id}/status":
            ("PUT", f"{o}/status", {"status": "shipped", "trackingNumber": "1Z999AA1"}),
        "POST /api/orders/{order_id}/cancel": ("POST", f"{o}/cancel",
                                               {"reasonCode": "buyer_request"}),
        "POST /api/orders/{order_id}/dispute": ("POST", f"{o}/dispute", {"reason": "late"}),
        "POST /api/orders/{order_id}/dispute/resolve":
            ("POST", f"{o}/dispute/resolve", {"outcome": "release", "note": "checked"}),
        "POST /api/orders/{order_id}/refunds":
            ("POST", f"{o}/refunds", {"amount": "1000000", "reason": "matrix"}),
        "POST /api/orders/{order_id}/shipments":
            ("POST", f"{o}/shipments", {"trackingNumber": "1ZMATRIX2"}),
        "GET /api/orders/{order_id}/shipments": ("GET", f"{o}/shipments", None),
        "GET /api/orders/{order_id}/shipments/{tracking_number}":
            ("GET", f"{o}/shipments/1Z999AA1", None),
        "GET /api/alerts": ("GET", "/api/alerts", None),
        "PUT /api/users/{user_id}": ("PUT", f"/api/users/{unique('user')}",
                                     {"name": "M", "email": "m@example.com"}),
        "PUT /api/listings/{listing_id}": ("PUT", f"/api/listings/{unique('l')}", listing),
        "GET /api/listings/{listing_id}": ("GET", f"/api/listings/{listing_id}", None),
        "GET /api/notifications": ("GET", "/api/notifications", None),
        "POST /api/notifications/{notification_id}/read":
            ("POST", f"/api/notifications/{notification_id}/read", None),
    }


# Headers a route requires besides the token, so that the token decides the answer.
EXTRA_HEADERS = {"POST /api/orders/{order_id}/refunds": {"Idempotency-Key": "matrix-refund"}}


def outcome(status: int) -> str:
    assert status < 500, status
    return {401: "unauthorized", 403: "forbidden", 404: "hidden"}.get(status, "ok")


async def ws_outcome(url: str, headers: dict[str, str]) -> str:
    token = headers.get("Authorization", "").removeprefix("Bearer ")
    sep = "&" if "?" in url else "?"
    async with websockets.connect(f"{url}{sep}token={token}" if token else url) as socket:
        try:
            await asyncio.wait_for(socket.recv(), 0.5)
        except TimeoutError:
            return "ok"  # still open, and nothing of this new order to say
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1008, closed
            return "forbidden"
    raise AssertionError("an update arrived although none was due")


@pytest.fixture
async def shipped_order(api, session_db):
    order_id, buyer, seller, body = await new_order(api, session_db)
    await ready_to_ship(api, order_id, seller)
    shipped = await api.put(f"/api/orders/{order_id}/status", headers=bearer(seller),
                            json={"status": "shipped", "trackingNumber": "1Z999AA1"})
    assert shipped.status_code == 200, shipped.text

    async def a_notification():
        answer = await api.get("/api/notifications", headers=bearer(buyer))
        return answer.json()["notifications"]

    notification_id = (await eventually(a_notification))[0]["id"]
    return order_id, buyer, seller, body, notification_id


async def test_the_matrix(api, settings, shipped_order):
    order_id, buyer, seller, body, notification_id = shipped_order
    listing_id = body["checkoutData"]["listingId"]
    who = tokens(buyer, seller)
    requests = http_requests(order_id, buyer, seller, body, notification_id, listing_id)
    got: dict[tuple[str, str], str] = {}
    for key, (method, url, json) in requests.items():
        for relation in RELATIONS:
            headers = {**who[relation], **EXTRA_HEADERS.get(key, {})}
            answer = await api.request(method, url, json=json, headers=headers)
            got[key, relation] = outcome(answer.status_code)

    ws_url, stop = await serve(settings)
    try:
        ws_keys = [key for key in EXPECTED if key.startswith("WS ")]
        results = await asyncio.gather(*(
            ws_outcome(ws_url + key.removeprefix("WS /api/ws"), who[relation])
            for key in ws_keys for relation in RELATIONS))
        got.update(zip([(key, r) for key in ws_keys for r in RELATIONS], results, strict=True))
    finally:
        await stop()

    wrong = [f"{key} as {relation}: expected {EXPECTED[key][relation]}, got {result}"
             for (key, relation), result in got.items() if EXPECTED[key][relation] != result]
    assert not wrong, "\n".join(wrong)
    assert set(got) == {(key, r) for key in EXPECTED for r in RELATIONS}
    details = await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))
    assert details.json()["order"]["status"] == "shipped"  # no command changed anything


async def test_a_carrier_token_reports_shipping_and_nothing_else(api, session_db, settings):
    """The attempts from the issue, each with a carrier integration's token."""
    order_id, buyer, seller, _ = await new_order(api, session_db, method="escrow")
    saved = await api.put(f"/api/users/{buyer}", headers=bearer("ops", Role.OPERATOR),
                          json={"name": "John Doe", "email": f"{buyer}@example.com"})
    assert saved.status_code == 200, saved.text
    disputed = await api.post(f"/api/orders/{order_id}/dispute", headers=bearer(buyer),
                              json={"reason": "not as described"})
    assert disputed.status_code == 200, disputed.text
    carrier = bearer("ups", Role.INTEGRATION, (Scope.SHIPPING_REPORT,))

    for method, url, json in [
        ("GET", "/api/orders", None),  # list every order
        ("GET", f"/api/orders/{order_id}", None),  # the buyer's name, email and address
        ("GET", f"/api/orders/buyer/{buyer}", None),
        ("GET", "/api/orders/search?q=Doe", None),
        ("PUT", f"/api/users/{buyer}", {"name": "J", "email": "attacker@example.com"}),
        ("GET", f"/api/orders/seller/{seller}/export.csv", None),
        ("GET", f"/api/orders/stats?sellerId={seller}", None),
        ("POST", f"/api/orders/{order_id}/dispute/resolve",
         {"outcome": "release", "note": "in the seller's favour"}),
        *(("PUT", f"/api/orders/{order_id}/status", {"status": status, "reason": "x"})
          for status in ("payment_confirmed", "escrow_locked", "order_confirmed", "completed",
                         "refunded", "cancelled", "failed", "disputed")),
        ("POST", f"/api/orders/{order_id}/cancel", {"reasonCode": "other"}),
    ]:
        answer = await api.request(method, url, json=json, headers=carrier)
        assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN"), (url, json)
        assert buyer not in answer.text

    details = (await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))).json()["order"]
    assert details["status"] == "disputed"
    assert details["buyer"]["email"] == f"{buyer}@example.com"

    ws_url, stop = await serve(settings)
    try:
        token = mint_token(JWT_SECRET, "ups", Role.INTEGRATION, scopes=[Scope.SHIPPING_REPORT])
        assert await ws_outcome(f"{ws_url}?all=true", {"Authorization": f"Bearer {token}"}) \
            == "forbidden"
    finally:
        await stop()

    shipped_id, _, shipper, _ = await new_order(api, session_db)
    await ready_to_ship(api, shipped_id, shipper)
    for status, who in (("shipped", carrier), ("in_transit", carrier), ("delivered", carrier)):
        answer = await api.put(f"/api/orders/{shipped_id}/status", headers=who,
                               json={"status": status})
        assert answer.status_code == 200, (status, answer.text)


def test_the_readme_table_says_what_the_code_grants():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Who may do what", 1)[1]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| grant |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    table = {}
    for row in lines[start + 2:end]:
        grant, people, operator, support, scopes = (c.strip() for c in row.strip("|").split("|"))
        roles = {role for role, cell in ((Role.USER, people), (Role.OPERATOR, operator),
                                         (Role.SUPPORT, support)) if cell == "yes"}
        table[grant] = (roles, {c.strip(" `") for c in scopes.split(",") if c.strip() != "—"})
    assert table == {grant.value: (set(h.roles), {s.value for s in h.scopes})
                     for grant, h in GRANTS.items()}


def test_no_scope_declares_an_order_paid_or_settles_it():
    settled_elsewhere = {OrderStatus.PAYMENT_CONFIRMED, OrderStatus.ESCROW_LOCKED,
                         OrderStatus.COMPLETED, OrderStatus.REFUNDED, OrderStatus.FAILED}
    for scope, targets in STATUS_SCOPES.items():
        assert not targets & settled_elsewhere, scope
    for status in settled_elsewhere:
        assert not actor_may(ActorKind.SYSTEM, OrderStatus.PAYMENT_PENDING, status)
