"""The web front under /app/: server-rendered pages for buyers, sellers and operators.

Every page reads, and every form acts, through the same HTTP API the clients use
(web/api_client.py), as the signed-in person; nothing here calls a workflow or a repository.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Mount, Router

PREFIX = "/app"
STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages and their files at /app (not API operations: outside the OpenAPI
    document).

    Install this before the API's routers: a request is then told to be a page's or not by
    one prefix test, where the pages' routes after the API's routers were reached only once
    each of those had been tried (0.35 ms a page, BENCHMARKS.md)."""
    from web import dashboards, forms, live, routes, session, sign_in

    app.add_exception_handler(session.Refused, routes.refused)
    for kind in (RequestValidationError, StarletteHTTPException):
        _pages_answer(app, kind, routes.wrong_request)
    pages = [route for router in (sign_in.router, routes.router, dashboards.router,
                                  forms.router, live.router) for route in router.routes]
    pages.append(Mount("/static", StaticFiles(directory=STATIC), name="web-static"))
    app.mount(PREFIX, Router(routes=pages), name="web")


def _pages_answer(app: FastAPI, kind: type[Exception], on_a_page) -> None:
    """Under /app/ a person gets a page for `kind` (no such page, a malformed post), where
    the API's own handler answers problem+json everywhere else."""
    api_answer = app.exception_handlers[kind]

    async def answer(request: Request, exc: Exception) -> Response:
        if request.scope["type"] == "http" and request.url.path.startswith(PREFIX + "/"):
            return await on_a_page(request, exc)
        return await api_answer(request, exc)

    app.add_exception_handler(kind, answer)
