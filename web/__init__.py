"""The web front under /app/: server-rendered pages for buyers, sellers and operators.

Every page reads, and every form acts, through the same HTTP API the clients use
(web/api_client.py), as the signed-in person; nothing here calls a workflow or a repository.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages (not API operations: outside the OpenAPI document) and their files."""
    from web import dashboards, forms, live, routes, session, sign_in

    app.add_exception_handler(session.Refused, routes.refused)
    for router in (sign_in.router, routes.router, dashboards.router, forms.router,
                   live.router):
        app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC), name="web-static")
