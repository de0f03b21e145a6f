"""Dependencies routes declare: settings, database, Temporal client, the caller, an order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from api.auth import AuthError, Principal, decode_token
from api.errors import ApiError
from api.params import OrderIdPath
from db import queries
from db.engine import Database
from domain.errors import ErrorCode
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


@dataclass(frozen=True)
class OrderParties:
    """What decides who may see or change an order, and how to reach its workflow."""

    id: str
    workflow_id: str
    buyer_id: str
    seller_id: str
    status: str
    currency: str


async def get_visible_order(order_id: OrderIdPath, user: CurrentUser, db: DbDep) -> OrderParties:
    """The order in the path if the caller may see it; otherwise 404, never revealing that it
    exists."""
    async with db.reader.connect() as conn:
        row = await queries.order_parties(conn, order_id)
    if row is None or not (user.is_staff or user.user_id in (row.buyer_id, row.seller_id)):
        raise ApiError(ErrorCode.NOT_FOUND, "no such order")
    return OrderParties(id=row.id, workflow_id=row.workflow_id, buyer_id=row.buyer_id,
                        seller_id=row.seller_id, status=row.status, currency=row.currency)


VisibleOrder = Annotated[OrderParties, Depends(get_visible_order)]
