"""Request bodies parsed strictly: exact decimals, no duplicate keys, no NaN, bounded size.

Python's json keeps the last of duplicate keys silently and turns numbers into floats; money
must not pass through either. FastAPI reads bodies through `Request.json()`, so a route class
that swaps in this parser covers every route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from domain.errors import ErrorCode

MAX_NUMBER_CHARS = 100


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise json.JSONDecodeError(f"duplicate key {key!r}", key, 0)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a number", name, 0)


def _number(text: str) -> int | Decimal:
    # No field takes a number this long; bounding it keeps int() and Decimal() cheap.
    if len(text) > MAX_NUMBER_CHARS:
        raise json.JSONDecodeError(f"a number longer than {MAX_NUMBER_CHARS} characters",
                                   text[:20], 0)
    return Decimal(text) if any(c in text for c in ".eE") else int(text)


def loads_strict(body: bytes) -> Any:
    """Parse a request body, or raise JSONDecodeError, whatever is wrong with it (invalid
    UTF-8, nesting too deep for the parser, a number too long), so every bad body is a 422."""
    try:
        return json.loads(body, parse_float=_number, parse_int=_number,
                          parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError:
        raise
    except UnicodeDecodeError:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", 0) from None
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", "", 0) from None
    except ValueError as err:  # say, Python's limit on the digits of an int
        raise json.JSONDecodeError(str(err).splitlines()[0], "", 0) from None


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413 before any route sees them.

    The body is read up front (it is small by construction) and replayed to the app, so a
    chunked upload without Content-Length is bounded too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see the disconnect
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(ErrorCode.PAYLOAD_TOO_LARGE,
                           f"the request body is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)
