"""The pages' one way to the orders: the app's own HTTP API, called in process as the
signed-in person (their bearer token, their address), so every rule, limit and error is the
API's. Nothing in web/ reads a repository or calls a workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import HTTPConnection

# The host the in-process requests name; they never leave the process.
INTERNAL_BASE = "http://oms.internal"


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


class ApiClient:
    def __init__(self, connection: HTTPConnection, token: str | None) -> None:
        client = connection.client
        # The person's own address, so the API's abuse limits count them as if they called it.
        transport = httpx.ASGITransport(
            app=connection.app, raise_app_exceptions=False,
            client=(client.host, client.port) if client else ("127.0.0.1", 0))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request_id = connection.headers.get("x-request-id")
        if request_id:
            headers["X-Request-ID"] = request_id
        self._http = httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE,
                                       headers=headers)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v not in (None, "", [])}
        return _answer(await self._http.get(path, params=query))

    async def post(self, path: str, body: dict[str, Any], *,
                   idempotency_key: str | None = None) -> dict[str, Any]:
        return _answer(await self._http.post(path, json=body,
                                             headers=_keyed(idempotency_key)))

    async def put(self, path: str, body: dict[str, Any], *,
                  idempotency_key: str | None = None) -> dict[str, Any]:
        return _answer(await self._http.put(path, json=body, headers=_keyed(idempotency_key)))


def _keyed(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.is_success:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = {}
    return _raise(response.status_code, body)


def _raise(status: int, body: dict[str, Any]) -> dict[str, Any]:
    raise ApiProblem(status=status, code=str(body.get("code", "ERROR")),
                     detail=str(body.get("detail") or body.get("title") or "refused"),
                     errors=list(body.get("errors") or []))
