"""Who is signed in to the pages, and the checks every form post passes.

The session is the person's bearer token itself, in an HttpOnly cookie: the pages send it to
the API as it would arrive from any client, so the API's own checks decide everything. The
cookie is SameSite=Lax, not Strict: an order page opened from a link in an email or a chat
should show the order, not a sign-in form. Lax still keeps the cookie off every cross-site
POST, fetch and WebSocket, and each form carries a CSRF token bound to the session on top.

The CSRF token is an HMAC of the session cookie under a key derived from OMS_JWT_SECRET (so
every API process agrees without another secret to configure); before sign-in it is bound to
a random pre-session cookie instead, so the sign-in form cannot be posted from elsewhere
either (a login CSRF would sign the victim in as the attacker).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.requests import HTTPConnection

from api.auth import AuthError, Principal
from api.tokens import KeysUnavailable

SESSION_COOKIE = "oms_session"
PRESESSION_COOKIE = "oms_presession"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# As long as the people's tokens the dev stack and `oms token` mint: the API refuses the
# token after its own `exp` anyway.
SESSION_MAX_AGE = 8 * 3600


class Refused(Exception):
    """A form post that must not be acted on (403): no or a wrong CSRF token, or another
    site's Origin."""


def _key(request: HTTPConnection) -> bytes:
    secret = request.app.state.settings.jwt_secret.encode()
    return hmac.new(secret, b"oms web csrf", hashlib.sha256).digest()


def session_token(request: HTTPConnection) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


async def principal(request: HTTPConnection) -> Principal | None:
    """The signed-in person, or None when there is no session or its token no longer
    verifies (expired, revoked keys): the pages then ask to sign in again."""
    token = session_token(request)
    if token is None:
        return None
    try:
        return await request.app.state.tokens.principal(token)
    except (AuthError, KeysUnavailable):
        return None


def csrf_token(request: HTTPConnection, binding: str | None = None) -> str:
    """The token a form of this session carries (hidden field and htmx header); `binding` is
    the pre-session value for the sign-in form."""
    bound = binding if binding is not None else session_token(request) or ""
    return hmac.new(_key(request), bound.encode(), hashlib.sha256).hexdigest()


def presession_value(request: HTTPConnection) -> str:
    """What the sign-in form's CSRF token is bound to: the visitor's pre-session cookie, or a
    new value for `keep_presession` to set."""
    return request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(32)


def keep_presession(request: Request, response: Response, value: str) -> None:
    if request.cookies.get(PRESESSION_COOKIE) != value:
        response.set_cookie(PRESESSION_COOKIE, value, max_age=3600, httponly=True,
                            samesite="strict", secure=_https(request), path="/app/")


def check_post(request: Request, form_token: str | None, *, signing_in: bool = False) -> None:
    """Refuse a post from another site, or without the CSRF token of this session (of the
    pre-session when `signing_in`)."""
    check_origin(request)
    sent = form_token or request.headers.get(CSRF_HEADER) or ""
    bound = request.cookies.get(PRESESSION_COOKIE) if signing_in else session_token(request)
    if not bound or not hmac.compare_digest(sent, csrf_token(request, bound)):
        raise Refused("this form has expired or did not come from this site: reload the page "
                      "and try again")


def check_origin(connection: HTTPConnection) -> None:
    """A browser names the page a post or a WebSocket comes from; another site's is refused,
    and so is `null` (an opaque or referrer-less origin). Without an Origin, the CSRF token
    alone decides."""
    origin = connection.headers.get("origin")
    if origin is None:
        if connection.headers.get("sec-fetch-site") == "cross-site":
            raise Refused("posted from another site")
        return
    host = connection.headers.get("host", "")
    parts = urlsplit(origin)
    if parts.netloc != host or parts.scheme not in ("http", "https"):
        raise Refused("posted from another site")


def sign_in(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_MAX_AGE, httponly=True,
                        samesite="lax", secure=_https(request), path="/app/")
    response.delete_cookie(PRESESSION_COOKIE, path="/app/")


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/app/")


def _https(request: HTTPConnection) -> bool:
    return request.url.scheme == "https"
