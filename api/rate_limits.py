"""Abuse limits: requests per client address, per principal and per webhook sender, and a cap on
failed authentication, each a moving window (the `limits` library) set in OMS_RATE_LIMIT_*.

A request over a limit is answered 429 RATE_LIMITED with Retry-After before any route runs.
Failed authentication is counted from the answers: every 401 an address gets (and every
WebSocket closed for its token) is a hit, and once an address has had too many in the window
its requests are refused before they are authenticated at all, so guessing tokens costs the
guesser, not the service.

The principal is keyed by a digest of its bearer token: the token is what names it, and
counting it needs no signature check here (a forged token is a 401, counted against its
address). /health and /metrics are never limited: probes and scrapers must always get in.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence

from limits import RateLimitItem, WindowStats, parse_many
from limits import strategies as sync_strategies
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from api.errors import problem
from domain.errors import ErrorCode
from oms.settings import Settings, rate_limit_storage_uri

EXEMPT_PATHS = frozenset({"/health", "/metrics"})
WEBHOOK_PREFIX = "/api/webhooks/"
WS_TRY_AGAIN_LATER = 1013


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limiter = _limiter(settings.rate_limit_storage)
        self.per_principal = parse_many(settings.rate_limit_per_principal)
        self.per_client = parse_many(settings.rate_limit_per_client)
        self.webhooks = parse_many(settings.rate_limit_webhooks)
        self.failed_auth = parse_many(settings.rate_limit_failed_auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = await self._refused(scope, address)
        if wait is not None:
            await self._too_many(scope, receive, send, wait)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            # A socket refused for its token says so in the connection's state (live/routes.py).
            if scope.get("state", {}).get("authentication_failed"):
                await self._failed_auth(address)
            return

        async def count_failed_auth(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                await self._failed_auth(address)
            await send(message)

        await self.app(scope, receive, count_failed_auth)

    async def _failed_auth(self, address: str) -> None:
        for item in self.failed_auth:
            await self.limiter.hit(item, "auth", address)

    async def _refused(self, scope: Scope, address: str) -> int | None:
        """Seconds to wait when a limit refuses this request (and None when all allow it),
        hitting each limit that applies."""
        for item in self.failed_auth:
            if not await self.limiter.test(item, "auth", address):
                return await self._retry_after(item, "auth", address)
        if scope["path"].startswith(WEBHOOK_PREFIX):
            return await self._hit(self.webhooks, "webhook", address)
        wait = await self._hit(self.per_client, "client", address)
        token = _bearer_token(scope)
        if wait is None and token is not None:
            digest = hashlib.blake2b(token, digest_size=16).hexdigest()
            wait = await self._hit(self.per_principal, "principal", digest)
        return wait

    async def _hit(self, items: Sequence[RateLimitItem], *key: str) -> int | None:
        for item in items:
            if not await self.limiter.hit(item, *key):
                return await self._retry_after(item, *key)
        return None

    async def _retry_after(self, item: RateLimitItem, *key: str) -> int:
        stats = await self.limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def _too_many(self, scope: Scope, receive: Receive, send: Send, wait: int) -> None:
        if scope["type"] == "websocket":
            # Closing before the handshake is accepted: the client sees the upgrade refused.
            await WebSocketClose(code=WS_TRY_AGAIN_LATER)(scope, receive, send)
            return
        response = problem(ErrorCode.RATE_LIMITED,
                           f"too many requests; retry in {wait} s", retry_after=wait)
        await response(scope, receive, send)


class _InProcess:
    """The synchronous moving window over the synchronous memory storage, behind the
    asynchronous interface. Memory storage does no I/O, so it may run on the event loop, and
    the library's asynchronous memory storage costs several times more per hit (it expires
    entries through a thread hop per key; BENCHMARKS.md)."""

    def __init__(self, uri: str) -> None:
        self._limiter = sync_strategies.MovingWindowRateLimiter(storage_from_string(uri))

    async def hit(self, item: RateLimitItem, *key: str) -> bool:
        return self._limiter.hit(item, *key)

    async def test(self, item: RateLimitItem, *key: str) -> bool:
        return self._limiter.test(item, *key)

    async def get_window_stats(self, item: RateLimitItem, *key: str) -> WindowStats:
        return self._limiter.get_window_stats(item, *key)


def _limiter(uri: str) -> _InProcess | MovingWindowRateLimiter:
    if uri.startswith("memory://"):
        return _InProcess(uri)
    # A shared storage is reached over the network: its asynchronous client never blocks.
    return MovingWindowRateLimiter(storage_from_string(rate_limit_storage_uri(uri)))  # type: ignore[arg-type]


def _bearer_token(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() or None if scheme.lower() == b"bearer" else None
    return None
