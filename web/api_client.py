"""The pages' one way to the orders: the app's own HTTP API, called in process as the
signed-in person (their bearer token, their address), so every rule, limit and error is the
API's. Nothing in web/ reads a repository or calls a workflow.

A call is one ASGI request to the whole app, middleware and all, built here rather than
through httpx's ASGITransport, which cost 0.3-0.7 ms more a call in URL and header models the
pages do not need, and in a failed `import sniffio` each time (BENCHMARKS.md, "The web
front's pages").
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message

from web import session

# The host the in-process requests name; they never leave the process.
INTERNAL_HOST = "oms.internal"


@dataclass
class ApiProblem(Exception):
    """A problem+json answer of the API: its status and code, and what to show the person."""

    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unauthorized(self) -> bool:
        return self.status == 401


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class ApiClient:
    """The API as the person signed in on `connection` (anonymous without a session)."""

    def __init__(self, connection: HTTPConnection) -> None:
        self._app: ASGIApp = connection.app
        token = session.session_token(connection)
        # The person's own address, so the API's abuse limits count them as if they called it.
        client = connection.client
        self._client = (client.host, client.port) if client else ("127.0.0.1", 0)
        headers = [(b"host", INTERNAL_HOST.encode())]
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        request_id = connection.headers.get("x-request-id")
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        self._headers = headers

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v not in (None, "", [])}
        return _answer(await self._call("GET", path, urlencode(query).encode()))

    async def post(self, path: str, body: dict[str, Any], *,
                   idempotency_key: str | None = None) -> dict[str, Any]:
        return _answer(await self._call("POST", path, body=body, key=idempotency_key))

    async def put(self, path: str, body: dict[str, Any], *,
                  idempotency_key: str | None = None) -> dict[str, Any]:
        return _answer(await self._call("PUT", path, body=body, key=idempotency_key))

    async def _call(self, method: str, path: str, query: bytes = b"", *,
                    body: dict[str, Any] | None = None, key: str | None = None) -> Answer:
        headers = list(self._headers)
        content = b""
        if body is not None:
            content = json.dumps(body).encode()
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(content)).encode())]
        if key:
            headers.append((b"idempotency-key", key.encode()))
        return await asgi_request(self._app, method, path, query=query, headers=headers,
                                  content=content, client=self._client)


async def asgi_request(app: ASGIApp, method: str, path: str, *, query: bytes = b"",
                       headers: list[tuple[bytes, bytes]], content: bytes = b"",
                       client: tuple[str, int] = ("127.0.0.1", 0)) -> Answer:
    """Send one request through `app` and collect its answer."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": quote(path).encode(),
             "query_string": query, "headers": headers, "server": (INTERNAL_HOST, 80),
             "client": client, "root_path": ""}
    finished = asyncio.Event()
    read = False
    status: int | None = None
    parts: list[bytes] = []

    async def receive() -> Message:
        nonlocal read
        if read:  # the body was read: the "client" stays until the answer is complete
            await finished.wait()
            return {"type": "http.disconnect"}
        read = True
        return {"type": "http.request", "body": content, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    except Exception:
        # Starlette's error middleware answers 500 (logged by the API's handler) and then
        # raises again for the server to see; the page shows the 500 it answered.
        if status is None:
            status = 500
    return Answer(status or 500, b"".join(parts))


def _answer(answer: Answer) -> dict[str, Any]:
    if 200 <= answer.status < 300:
        return json.loads(answer.body)
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise ApiProblem(status=answer.status, code=str(body.get("code", "ERROR")),
                     detail=str(body.get("detail") or body.get("title") or "refused"),
                     errors=list(body.get("errors") or []))
