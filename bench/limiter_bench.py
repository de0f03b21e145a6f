"""`python -m bench.limiter_bench`: what the abuse limits and the security headers cost a
request, in CPU, without a server around them.

  middleware   the API's RateLimitMiddleware and SecurityHeadersMiddleware around a trivial
               ASGI app, one authenticated request at a time (address and token limits: two
               moving-window hits, plus the failed-authentication check)
  storage      one moving-window hit on the `limits` library's asynchronous and synchronous
               memory storages, over 10, 1,000 and 5,000 keys (client addresses), yielding to
               the event loop now and then as a server does, so background expiry runs too

CPU time of this process (threads included), best of five rounds: a loaded machine changes
wall time far more than CPU time. The end-to-end cost is `make bench` against
`make bench BENCH_ARGS=--no-rate-limits`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from limits import parse
from limits import strategies as sync_strategies
from limits.aio import strategies as aio_strategies
from limits.storage import storage_from_string
from starlette.types import Message, Receive, Scope, Send

from api.rate_limits import RateLimitMiddleware
from api.security_headers import SecurityHeadersMiddleware
from oms.settings import Settings

REQUESTS = 3000
HITS = 20000
HIGH = {f"rate_limit_{name}": "1000000/minute"
        for name in ("per_principal", "per_client", "webhooks", "failed_auth")}
SCOPE = {"type": "http", "path": "/api/orders/x", "method": "PUT", "client": ("127.0.0.1", 1),
         "headers": [(b"authorization", b"Bearer " + b"x" * 180)]}


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def _per_request(app: Callable[..., Awaitable[None]]) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(REQUESTS):
            await app(dict(SCOPE), _receive, _send)
        best = min(best, (time.process_time() - started) / REQUESTS)
    return best * 1e6


async def _per_hit(hit: Callable[..., Awaitable[bool]], keys: int) -> float:
    item = parse("600/minute")
    started = time.process_time()
    for i in range(HITS):
        await hit(item, "client", str(i % keys))
        if i % 100 == 0:
            await asyncio.sleep(0)  # let the storage's expiry task run, as in a server
    return (time.process_time() - started) / HITS * 1e6


async def main() -> None:
    bare = await _per_request(_app)
    limited = await _per_request(RateLimitMiddleware(_app, Settings(_env_file=None, **HIGH)))
    headers = await _per_request(SecurityHeadersMiddleware(_app))
    print(f"middleware: limiter +{limited - bare:.1f} us, security headers "
          f"+{headers - bare:.1f} us CPU per request")
    for keys in (10, 1000, 5000):
        aio = aio_strategies.MovingWindowRateLimiter(storage_from_string("async+memory://"))
        sync = sync_strategies.MovingWindowRateLimiter(storage_from_string("memory://"))

        async def sync_hit(*args: object, sync=sync) -> bool:  # type: ignore[no-untyped-def]
            return sync.hit(*args)  # type: ignore[arg-type]

        print(f"storage, {keys:>5} keys: asynchronous {await _per_hit(aio.hit, keys):5.1f} us, "
              f"synchronous {await _per_hit(sync_hit, keys):5.1f} us CPU per hit")


if __name__ == "__main__":
    asyncio.run(main())
