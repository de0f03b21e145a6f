"""The pages' in-process client: what reaches the API as the person, and what comes back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from web.api_client import ApiClient, ApiProblem
from web.session import SESSION_COOKIE


def an_api() -> FastAPI:
    app = FastAPI()

    @app.api_route("/api/echo/{name}", methods=["GET", "POST", "PUT"])
    async def echo(name: str, request: Request) -> dict[str, Any]:
        return {"name": name, "method": request.method, "query": dict(request.query_params),
                "authorization": request.headers.get("authorization"),
                "requestId": request.headers.get("x-request-id"),
                "idempotencyKey": request.headers.get("idempotency-key"),
                "client": request.client.host if request.client else None,
                "body": await request.json() if request.method != "GET" else None}

    @app.get("/api/refused")
    async def refused() -> JSONResponse:
        return JSONResponse({"code": "INVALID_TRANSITION", "detail": "the order is shipped",
                             "errors": [{"field": "status", "message": "no"}]}, status_code=409)

    @app.get("/api/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    return app


def page_request(app: FastAPI, token: str | None = "tok",
                 headers: dict[str, str] | None = None) -> HTTPConnection:
    headers = {**({"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}), **(headers or {})}
    return HTTPConnection({
        "type": "http", "app": app, "client": ("203.0.113.7", 51000), "path": "/app/sales",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


async def test_a_read_carries_the_persons_token_address_and_request_id():
    app = an_api()
    api = ApiClient(page_request(app, headers={"X-Request-ID": "req-1"}))
    answer = await api.get("/api/echo/ada lovelace", limit=20, cursor=None, q="", status="a,b")
    assert answer == {"name": "ada lovelace", "method": "GET",
                      "query": {"limit": "20", "status": "a,b"},
                      "authorization": "Bearer tok", "requestId": "req-1",
                      "idempotencyKey": None, "client": "203.0.113.7", "body": None}


async def test_a_write_sends_its_json_body_and_idempotency_key():
    app = an_api()
    api = ApiClient(page_request(app, token=None))
    posted = await api.post("/api/echo/x", {"amount": "7.50"}, idempotency_key="k-1")
    put = await api.put("/api/echo/x", {"status": "shipped"})
    assert (posted["method"], posted["body"], posted["idempotencyKey"]) == (
        "POST", {"amount": "7.50"}, "k-1")
    assert posted["authorization"] is None
    assert (put["method"], put["body"], put["idempotencyKey"]) == (
        "PUT", {"status": "shipped"}, None)


async def test_a_refusal_is_a_problem_with_the_apis_code_detail_and_errors():
    with pytest.raises(ApiProblem) as refused:
        await ApiClient(page_request(an_api())).get("/api/refused")
    assert refused.value == ApiProblem(409, "INVALID_TRANSITION", "the order is shipped",
                                       [{"field": "status", "message": "no"}])
    assert not refused.value.unauthorized


async def test_a_bug_in_the_api_is_its_500_not_the_pages_exception():
    with pytest.raises(ApiProblem) as failed:
        await ApiClient(page_request(an_api())).get("/api/broken")
    assert (failed.value.status, failed.value.code) == (500, "ERROR")
