"""The codec server: the Temporal Web UI and CLI ask it to decrypt payloads, for operators only.

Temporal's remote codec protocol: POST `<endpoint>/decode` or `/encode` with the JSON form of
`temporal.api.common.v1.Payloads` (metadata values and data in base64), answered in the same
form. The UI calls from the browser, with the signed-in user's token and `X-Namespace`, after a
CORS preflight: only the UI's origin is allowed, and only on these paths.

A UI without sign-in (the dev server's) sends no token. An operator then signs in here once
(`/codec/session`, a form for the operator's token), which sets an HttpOnly cookie for these
paths alone, and turns on "Include cross-origin credentials" in the UI's codec settings.
"""

from __future__ import annotations

import base64
import html
import logging
import time
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import parse_qs

import jwt
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, StringConstraints, model_validator
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.auth import AuthError, Principal, Role
from api.deps import TemporalDep, principal_of
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.strict_json import StrictJSONRoute
from domain.errors import ErrorCode
from oms.codec import UndecryptablePayload
from oms.settings import Settings

log = logging.getLogger("oms.api")
PREFIX = "/codec"

# Strict JSON as on every other route: a body that is not even JSON is a 422, as documented.
router = APIRouter(prefix=PREFIX, tags=["codec"], route_class=StrictJSONRoute,
                   responses={**PROBLEM_RESPONSES, **problem_responses(403, 413)})


# Standard base64 with its padding, as protobuf's JSON form writes bytes.
Base64 = Annotated[str, StringConstraints(
    pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")]


class PayloadJson(BaseModel):
    metadata: dict[str, Base64] = Field(default_factory=dict, description="values in base64")
    data: Base64 = Field("", description="base64")

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        # FastAPI validates bodies with from_attributes, which would take any value (a number,
        # a string) for a payload whose fields all have defaults.
        if not isinstance(value, dict | PayloadJson):
            raise ValueError("a payload is a JSON object")
        return value


class PayloadsJson(BaseModel):
    """`temporal.api.common.v1.Payloads` as the Temporal UI and CLI send and expect it."""

    payloads: list[PayloadJson] = Field(default_factory=list, max_length=1000)


SESSION_COOKIE = "oms_codec_session"


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _operator(request: Request) -> Principal:
    """The operator calling: by bearer token (the CLI, a UI that signs in) or by the session
    cookie this server set (a UI without sign-in). Anyone else is refused."""
    token = _bearer_token(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthError("a bearer token or a codec session is required")
    return await _operator_with(request, token)


async def _operator_with(request: Request, token: str) -> Principal:
    user = await principal_of(request.app.state.tokens, token)
    if user.role is not Role.OPERATOR:
        raise ApiError(ErrorCode.FORBIDDEN, "only operators may read orders' payloads")
    return user


Operator = Annotated[Principal, Depends(_operator)]


def _from_json(body: PayloadsJson) -> list[Payload]:
    try:
        return [Payload(metadata={k: base64.b64decode(v, validate=True)
                                  for k, v in p.metadata.items()},
                        data=base64.b64decode(p.data, validate=True))
                for p in body.payloads]
    except ValueError:  # binascii.Error, or ValueError for a character outside ASCII
        raise ApiError.invalid_field("payloads", "metadata values and data must be base64",
                                     detail="a payload is not in base64") from None


def _to_json(payloads: Sequence[Payload]) -> PayloadsJson:
    return PayloadsJson(payloads=[
        PayloadJson(metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                    data=base64.b64encode(p.data).decode())
        for p in payloads])


@router.post("/decode", operation_id="decodePayloads", response_model=PayloadsJson)
async def decode(body: PayloadsJson, user: Operator, temporal: TemporalDep) -> PayloadsJson:
    """Decrypt payloads as the workers do (plain ones come back unchanged). Operators only;
    each call is logged with the operator's id."""
    payloads = _from_json(body)
    codec = temporal.data_converter.payload_codec
    log.info("codec: operator %s decoded %d payloads", user.user_id, len(payloads))
    try:
        return _to_json(await codec.decode(payloads) if codec else payloads)
    except UndecryptablePayload as err:
        raise ApiError(ErrorCode.VALIDATION_ERROR, str(err)) from None


@router.post("/encode", operation_id="encodePayloads", response_model=PayloadsJson)
async def encode(body: PayloadsJson, user: Operator, temporal: TemporalDep) -> PayloadsJson:
    """Encrypt payloads with the current key, as a client would before sending them (the UI
    uses it for signals and queries it sends). Operators only."""
    payloads = _from_json(body)
    codec = temporal.data_converter.payload_codec
    return _to_json(await codec.encode(payloads) if codec else payloads)


_SIGN_IN = """<!doctype html><meta charset="utf-8"><title>oms codec session</title>
<h1>Decrypted payloads in the Temporal Web UI</h1>
<p>{status}</p>
<form method="post" action="{prefix}/session">
<label>Operator token<br><textarea name="token" rows="4" cols="80" required></textarea></label>
<p><button>Sign in</button></p></form>
<form method="post" action="{prefix}/session/end"><button>Sign out</button></form>
<p>Then, in the Temporal UI, open the codec server settings and turn on
<em>Include cross-origin credentials</em>.</p>"""


@router.get("/session", operation_id="codecSessionPage", response_class=HTMLResponse,
            include_in_schema=False)
async def session_page(request: Request) -> HTMLResponse:
    """The form an operator signs in with, for a Temporal UI that has no sign-in."""
    signed_in = SESSION_COOKIE in request.cookies
    return _page("A codec session is open in this browser." if signed_in
                 else "Not signed in: the Temporal UI shows payloads encrypted.")


@router.post("/session", operation_id="openCodecSession", response_class=HTMLResponse,
             include_in_schema=False)
async def open_session(request: Request) -> HTMLResponse:
    """Check the operator's token (the form's, or the bearer header's) and keep it in an
    HttpOnly cookie for the codec paths, until the token expires."""
    token = _bearer_token(request) or _form_token(await request.body())
    if not token:
        raise AuthError("an operator token is required")
    user = await _operator_with(request, token)
    expires = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
    page = _page(f"Signed in as {user.user_id} until the token expires.")
    page.set_cookie(SESSION_COOKIE, token, max_age=max(0, int(expires - time.time())),
                    path=PREFIX, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https")
    log.info("codec: operator %s opened a session", user.user_id)
    return page


@router.post("/session/end", operation_id="endCodecSession", response_class=HTMLResponse,
             include_in_schema=False)
async def end_session() -> HTMLResponse:
    page = _page("Signed out.")
    page.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return page


def _form_token(body: bytes) -> str | None:
    try:
        values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=5).get("token", [])
    except ValueError:  # more fields than the form has
        return None
    return (values[0].strip() or None) if values else None


def _page(status: str) -> HTMLResponse:
    return HTMLResponse(_SIGN_IN.format(status=html.escape(status), prefix=PREFIX))


class _CodecCors:
    """CORS for the codec paths alone: the Temporal UI's origin may call them from the
    browser; every other path answers as it did."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app, allow_origins=origins, allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True, max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """The codec routes and their CORS, for the UI at `settings.temporal_ui_origins`."""
    app.include_router(router)
    app.add_middleware(_CodecCors, origins=settings.temporal_ui_origins)
