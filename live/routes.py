"""WebSocket /api/ws: live order updates for the buyer and the seller of each order, and for
operators, support and `orders:read` integrations who ask for every order (?all=true).

The token comes as the subprotocol pair `bearer, <JWT>` (what a browser can send), as an
`Authorization: Bearer` header, or, for older clients, as `?token=` (which lands in access logs).
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.status import WS_1008_POLICY_VIOLATION, WS_1013_TRY_AGAIN_LATER

from api import permissions
from api.auth import AuthError
from api.permissions import Grant
from api.tokens import KeysUnavailable
from live import outbox
from live.hub import Subscriber, message

router = APIRouter(tags=["live updates"])
SEND_TIMEOUT = 5.0
# Browsers cannot set headers on a WebSocket but can offer subprotocols:
# `new WebSocket(url, ["bearer", token])` sends `Sec-WebSocket-Protocol: bearer, <token>`.
BEARER_SUBPROTOCOL = "bearer"


def _token_from(subprotocols: list[str]) -> str | None:
    if len(subprotocols) == 2 and subprotocols[0] == BEARER_SUBPROTOCOL:
        return subprotocols[1]
    return None


def _token_from_header(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


@router.websocket("/api/ws")
async def order_updates(
    websocket: WebSocket,
    token: str | None = Query(None, description="the JWT; kept for older clients, since a URL "
                              "ends up in logs: send it as the subprotocol `bearer, <JWT>`"),
    since: int | None = Query(None, ge=0, description="replay updates after this sequence"),
    all: bool = Query(False, description="operators: every order's updates"),  # noqa: A002
) -> None:
    offered = websocket.scope.get("subprotocols") or []
    raw = _token_from(offered) or _token_from_header(websocket) or token
    # The server names the subprotocol it takes, and a browser drops a connection that
    # named none of those it offered: "bearer" (never the token) when the token came that way.
    await websocket.accept(subprotocol=BEARER_SUBPROTOCOL if _token_from(offered) else None)
    app = websocket.app
    try:
        principal = await app.state.tokens.principal(raw or "")
    except AuthError as err:
        # Counted like a 401 by the abuse limits (api/rate_limits.py).
        websocket.state.authentication_failed = True
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason=err.message)
        return
    except KeysUnavailable:
        await websocket.close(code=WS_1013_TRY_AGAIN_LATER,
                              reason="the identity provider cannot be reached")
        return
    # An integration has no orders of its own to watch: it needs the grant to watch them all.
    if (all or principal.is_integration) and not permissions.allows(principal, Grant.WATCH_ALL):
        await websocket.close(code=WS_1008_POLICY_VIOLATION,
                              reason="this token may not watch every order")
        return
    hub = app.state.live
    sub = hub.subscribe(principal.user_id, all_orders=all)
    reader = asyncio.create_task(_read_until_closed(websocket))
    try:
        last = await _replay(websocket, app.state.db, sub, since) if since is not None else 0
        await _stream(websocket, sub, reader, last)
    except (WebSocketDisconnect, RuntimeError, TimeoutError):
        pass  # the client went away or stopped reading
    finally:
        hub.unsubscribe(sub)
        reader.cancel()


async def _replay(websocket: WebSocket, db, sub: Subscriber, since: int) -> int:
    """Send what the client missed, from the outbox; live updates queue up meanwhile."""
    last = since
    while True:
        async with db.reader.connect() as conn:
            rows = await outbox.after(conn, last, limit=500,
                                      user_id=None if sub.all_orders else sub.user_id)
        if not rows:
            return last
        for row in rows:
            await asyncio.wait_for(websocket.send_json(message(row)), SEND_TIMEOUT)
        last = rows[-1].seq


async def _stream(websocket: WebSocket, sub: Subscriber, reader: asyncio.Task,
                  last: int) -> None:
    while True:
        get = asyncio.ensure_future(sub.queue.get())
        dropped = asyncio.ensure_future(sub.dropped.wait())
        done, pending = await asyncio.wait({get, dropped, reader},
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending - {reader}:
            task.cancel()
        if reader in done:
            return
        if dropped in done or sub.dropped.is_set():
            await websocket.close(code=WS_1013_TRY_AGAIN_LATER,
                                  reason="too slow: reconnect with ?since=<last sequence>")
            return
        msg = get.result()
        if msg["sequence"] > last:  # a replayed update may also have been queued live
            await asyncio.wait_for(websocket.send_json(msg), SEND_TIMEOUT)
            last = msg["sequence"]


async def _read_until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()  # clients may send pings; nothing else is expected
