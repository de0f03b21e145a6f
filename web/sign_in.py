"""Signing in and out of the pages: a token from the identity provider, or in the dev stack
one button per demo user (OMS_WEB_DEMO_SIGN_IN). The token is verified with the API's own
TokenVerifier before it is kept (web/session.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import AuthError, Role, mint_token
from api.tokens import KeysUnavailable
from oms.seed import DEMO_BUYER, DEMO_OPERATOR, DEMO_SELLER, DEMO_SUPPORT
from web import session
from web.render import page, to_sign_in

router = APIRouter(include_in_schema=False)

# The dev stack's people (oms/devstack.py prints their tokens), one sign-in button each.
DEMO_USERS: dict[str, tuple[str, Role, str]] = {
    "buyer": (DEMO_BUYER, Role.USER, "Buyer"),
    "seller": (DEMO_SELLER, Role.USER, "Seller"),
    "operator": (DEMO_OPERATOR, Role.OPERATOR, "Operator"),
    "support": (DEMO_SUPPORT, Role.SUPPORT, "Support (read-only)"),
}


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, None)


def _sign_in_page(request: Request, error: str | None, status: int = 200) -> Response:
    binding = session.presession_value(request)
    demo = DEMO_USERS if request.app.state.settings.web_demo_sign_in else {}
    response = page(request, "sign_in.html", {
        "demo_users": demo, "error": error, "csrf": session.csrf_token(request, binding)},
        user=None, status=status)
    session.keep_presession(request, response, binding)
    return response


@router.post("/sign-in")
async def sign_in(request: Request, csrf: Annotated[str | None, Form()] = None,
                  token: Annotated[str | None, Form(max_length=8192)] = None,
                  demo: Annotated[str | None, Form(max_length=20)] = None) -> Response:
    session.check_post(request, csrf, signing_in=True)
    settings = request.app.state.settings
    if demo is not None:
        if not settings.web_demo_sign_in or demo not in DEMO_USERS:
            return _sign_in_page(request, "demo sign-in is not available here", 403)
        sub, role, _ = DEMO_USERS[demo]
        token = mint_token(settings.jwt_secret, sub, role, issuer=settings.jwt_issuer,
                           audience=settings.jwt_audience)
    token = (token or "").strip()
    try:
        user = await request.app.state.tokens.principal(token)
    except AuthError as err:
        return _sign_in_page(request, f"That token was not accepted: {err.message}.", 401)
    except KeysUnavailable:
        return _sign_in_page(request, "The identity provider cannot be reached to check the "
                                      "token; try again shortly.", 503)
    if user.is_integration:
        return _sign_in_page(request, "That is an integration's token: the pages are for "
                                      "people.", 403)
    response = RedirectResponse("/app/", status_code=303)
    session.sign_in(request, response, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    session.check_post(request, csrf)
    response = to_sign_in()
    session.sign_out(response)
    return response
