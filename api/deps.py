"""Dependencies routes declare: settings, database, Temporal client, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from api.auth import AuthError, Principal, decode_token
from db.engine import Database
from oms.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="JWT signed with OMS_JWT_SECRET (HS256)")

# Dependencies are `async def` although none awaits: FastAPI runs a plain `def` dependency in
# its thread pool, a thread round trip per dependency per request. They do no I/O, so they run
# on the event loop.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


async def get_principal(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer token is required")
    return decode_token(settings.jwt_secret, credentials.credentials)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
CurrentUser = Annotated[Principal, Depends(get_principal)]
