"""Templates, the navigation every page shares, and the answers pages give."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from api import permissions
from api.auth import Principal, Role
from api.permissions import Grant
from web import session

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str


def navigation(user: Principal | None) -> list[NavItem]:
    """The sections a person may open."""
    if user is None:
        return []
    items: list[NavItem] = []
    if user.role is Role.USER:
        items += [NavItem("My orders", "/app/purchases"), NavItem("My sales", "/app/sales"),
                  NavItem("My statistics", "/app/stats")]
    if permissions.allows(user, Grant.READ_ANY_ORDER):
        items.append(NavItem("All orders", "/app/orders"))
    if permissions.allows(user, Grant.STATS_ANY):
        items.append(NavItem("Statistics", "/app/stats"))
    if may_use_console(user):
        items.append(NavItem("Console", "/app/console"))
    return items


def may_use_console(user: Principal) -> bool:
    """Operators and support: every alert and every order."""
    return (permissions.allows(user, Grant.ALERTS_ALL)
            and permissions.allows(user, Grant.READ_ANY_ORDER))


def home(user: Principal) -> str:
    """Where /app/ sends a person (a seller is sent to their sales by the page itself)."""
    if permissions.allows(user, Grant.READ_ANY_ORDER):
        return "/app/orders"
    return "/app/purchases"


@cache
def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=TEMPLATES)
    found.env.filters.update(words=words, percent=percent, duration=duration)
    found.env.globals.update(CSRF_FIELD=session.CSRF_FIELD, list_url=list_url,
                             idempotency_key=lambda: str(uuid.uuid4()))
    return found


def list_url(path: str, **params: Any) -> str:
    """A list page's address with its filters, leaving out the empty ones."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def words(value: str | None) -> str:
    """A wire value as a reader says it: "ready_to_ship" -> "ready to ship"."""
    return (value or "").replace("_", " ")


def percent(rate: float | None) -> str:
    """A 0..1 rate as a reader says it; a dash when there was nothing to divide by."""
    return "–" if rate is None else f"{rate * 100:.1f} %"


def duration(seconds: float | None) -> str:
    """A mean time in the unit that reads best: minutes, hours or days."""
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def page(request: HTTPConnection, name: str, context: dict[str, Any], *,
         user: Principal | None, status: int = 200) -> HTMLResponse:
    """A whole page or a fragment, with what every template may use."""
    context = {"user": user, "nav": navigation(user), "path": request.url.path,
               "csrf": session.csrf_token(request), **context}
    return templates().TemplateResponse(request, name, context, status_code=status)


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/app/sign-in", status_code=303)


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it then wants a fragment, not a page)."""
    return request.headers.get("hx-request") == "true"


def fragment(name: str, connection: HTTPConnection, user: Principal | None,
             context: dict[str, Any]) -> str:
    """A template as text, for the WebSocket (which has no response to render into)."""
    return templates().get_template(name).render({
        "user": user, "nav": navigation(user), "csrf": session.csrf_token(connection),
        **context})
