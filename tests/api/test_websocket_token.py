"""The live-updates token without the URL: offered as the WebSocket subprotocol pair
`bearer, <JWT>`, as a browser can; the server takes "bearer" and never echoes the token."""

from __future__ import annotations

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api.test_live_updates import (  # noqa: F401 - ws_url is a fixture
    next_update,
    outbox_end,
    serve,
    token,
    ws_url,
)
from tests.api.test_webhooks import new_order
from tests.conftest import bearer

pytestmark = pytest.mark.usefixtures("stack_worker")


async def test_a_token_offered_as_a_subprotocol_opens_the_stream(api, session_db, ws_url):  # noqa: F811
    order_id, buyer, seller, _ = await new_order(api, session_db)
    since = await outbox_end(session_db)
    async with websockets.connect(f"{ws_url}?since={since}",
                                  subprotocols=["bearer", token(buyer)]) as ws:
        assert ws.subprotocol == "bearer"
        assert ws.response.headers["Sec-WebSocket-Protocol"] == "bearer"
        await api.put(f"/api/orders/{order_id}/status", json={"status": "order_confirmed"},
                      headers=bearer(seller))
        assert (await next_update(ws, order_id))["status"] == "order_confirmed"


@pytest.mark.parametrize("offered", [["bearer", "garbage"], ["bearer"], ["chat", "x"]])
async def test_a_bad_or_missing_subprotocol_token_closes_with_policy_violation(
    ws_url, offered  # noqa: F811
):
    async with websockets.connect(ws_url, subprotocols=offered) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


async def test_sockets_refused_for_their_token_count_as_failed_authentication(settings):
    strict = settings.model_copy(update={"rate_limit_failed_auth": "2/minute"})
    url, stop = await serve(strict)
    try:
        for _ in range(2):
            async with websockets.connect(url, subprotocols=["bearer", "garbage"]) as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
        # The address has used its failed attempts: even a good token waits now.
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, subprotocols=["bearer", token("u1")]):
                pass
        assert refused.value.response.status_code == 403
    finally:
        await stop()
