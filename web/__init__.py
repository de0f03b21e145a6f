"""The web front under /app/: server-rendered pages for buyers, sellers and operators.

Every page reads, and every form acts, through the same HTTP API the clients use
(web/api_client.py), as the signed-in person; nothing here calls a workflow or a repository.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
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
    pages = [route for router in (sign_in.router, routes.router, dashboards.router,
                                  forms.router, live.router) for route in router.routes]
    pages.append(Mount("/static", StaticFiles(directory=STATIC), name="web-static"))
    app.mount(PREFIX, Router(routes=pages), name="web")
