"""The order page's live updates: a WebSocket that pushes the order's section, rendered on the
server, each time the order changes (htmx's ws extension swaps it in by id).

It authenticates with the session cookie (the token never appears in the page), refuses
another site's Origin, and learns of changes from the same hub as /api/ws; what it sends is
read through the API as the signed-in person, like every page.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.status import WS_1008_POLICY_VIOLATION

from api import permissions
from api.permissions import Grant
from web import session
from web.api_client import ApiProblem
from web.render import fragment
from web.routes import order_context

router = APIRouter()
SEND_TIMEOUT = 5.0


@router.websocket("/orders/{order_id}/live")
async def order_live(websocket: WebSocket, order_id: str) -> None:
    try:
        session.check_origin(websocket)
    except session.Refused:
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="another site")
        return
    user = await session.principal(websocket)
    if user is None:
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="sign in first")
        return
    try:
        await order_context(websocket, user, order_id)  # may this person read the order?
    except ApiProblem as problem:
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason=problem.detail)
        return
    await websocket.accept()
    hub = websocket.app.state.live
    sub = hub.subscribe(user.user_id, all_orders=permissions.allows(user, Grant.WATCH_ALL))
    reader = asyncio.create_task(_read_until_closed(websocket))
    try:
        while True:
            update = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait({update, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                update.cancel()
                return
            if update.result()["orderId"] != order_id:
                continue
            while not sub.queue.empty():  # a burst of changes is one render
                sub.queue.get_nowait()
            try:
                context = await order_context(websocket, user, order_id)
            except ApiProblem:
                return  # signed out or no longer allowed: stop updating
            html = fragment("_swap.html", websocket, user, {**context, "oob": True})
            await asyncio.wait_for(websocket.send_text(html), SEND_TIMEOUT)
    except (WebSocketDisconnect, RuntimeError, TimeoutError):
        pass
    finally:
        hub.unsubscribe(sub)
        reader.cancel()


async def _read_until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
