"""The codec server: the Temporal Web UI and CLI ask it to decrypt payloads, for operators only.

Temporal's remote codec protocol: POST `<endpoint>/decode` or `/encode` with the JSON form of
`temporal.api.common.v1.Payloads` (metadata values and data in base64), answered in the same
form. The UI calls from the browser, with the signed-in user's token and `X-Namespace`, after a
CORS preflight: only the UI's origin is allowed, and only on these paths.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.auth import Role
from api.deps import CurrentUser, TemporalDep
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from domain.errors import ErrorCode
from oms.codec import UndecryptablePayload
from oms.settings import Settings

log = logging.getLogger("oms.api")
PREFIX = "/codec"

router = APIRouter(prefix=PREFIX, tags=["codec"],
                   responses={**PROBLEM_RESPONSES, **problem_responses(403)})


class PayloadJson(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict, description="values in base64")
    data: str = Field("", description="base64")


class PayloadsJson(BaseModel):
    """`temporal.api.common.v1.Payloads` as the Temporal UI and CLI send and expect it."""

    payloads: list[PayloadJson] = Field(default_factory=list, max_length=1000)


def _operator_only(user: CurrentUser) -> None:
    if user.role is not Role.OPERATOR:
        raise ApiError(ErrorCode.FORBIDDEN, "only operators may read orders' payloads")


def _from_json(body: PayloadsJson) -> list[Payload]:
    try:
        return [Payload(metadata={k: base64.b64decode(v, validate=True)
                                  for k, v in p.metadata.items()},
                        data=base64.b64decode(p.data, validate=True))
                for p in body.payloads]
    except binascii.Error:
        raise ApiError.invalid_field("payloads", "metadata values and data must be base64",
                                     detail="a payload is not in base64") from None


def _to_json(payloads: Sequence[Payload]) -> PayloadsJson:
    return PayloadsJson(payloads=[
        PayloadJson(metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                    data=base64.b64encode(p.data).decode())
        for p in payloads])


@router.post("/decode", operation_id="decodePayloads", response_model=PayloadsJson)
async def decode(body: PayloadsJson, user: CurrentUser, temporal: TemporalDep) -> PayloadsJson:
    """Decrypt payloads as the workers do (plain ones come back unchanged). Operators only;
    each call is logged with the operator's id."""
    _operator_only(user)
    payloads = _from_json(body)
    codec = temporal.data_converter.payload_codec
    log.info("codec: operator %s decoded %d payloads", user.user_id, len(payloads))
    try:
        return _to_json(await codec.decode(payloads) if codec else payloads)
    except UndecryptablePayload as err:
        raise ApiError(ErrorCode.VALIDATION_ERROR, str(err)) from None


@router.post("/encode", operation_id="encodePayloads", response_model=PayloadsJson)
async def encode(body: PayloadsJson, user: CurrentUser, temporal: TemporalDep) -> PayloadsJson:
    """Encrypt payloads with the current key, as a client would before sending them (the UI
    uses it for signals and queries it sends). Operators only."""
    _operator_only(user)
    payloads = _from_json(body)
    codec = temporal.data_converter.payload_codec
    return _to_json(await codec.encode(payloads) if codec else payloads)


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
