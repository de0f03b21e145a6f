"""Dependencies routes declare: settings, database, Temporal client, the caller, an order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from api import permissions
from api.auth import AuthError, Principal
from api.errors import ApiError
from api.params import OrderIdPath
from api.permissions import Grant
from api.tokens import KeysUnavailable, TokenVerifier
from db import queries
from db.engine import Database
from domain.errors import ErrorCode
from oms.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="JWT: HS256 with OMS_JWT_SECRET, or RS256/"
                     "ES256 from the identity provider at OMS_JWT_JWKS_URL")

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
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer token is required")
    return await principal_of(request.app.state.tokens, credentials.credentials)


async def principal_of(verifier: TokenVerifier, token: str) -> Principal:
    try:
        return await verifier.principal(token)
    except KeysUnavailable:
        raise ApiError(ErrorCode.TEMPORARILY_UNAVAILABLE,
                       "the identity provider cannot be reached to check this token") from None


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
    """The order in the path if the caller may read it: its buyer, its seller, or a holder of
    READ_ANY_ORDER. Otherwise 404, never revealing that it exists (an integration without
    the scope is told so, which reveals nothing about any order)."""
    permissions.require_person(user, Grant.READ_ANY_ORDER)
    return await _order_if(order_id, db, lambda row: (
        permissions.allows(user, Grant.READ_ANY_ORDER) or _party(user, row)))


async def get_order_to_change(order_id: OrderIdPath, user: CurrentUser,
                              db: DbDep) -> OrderParties:
    """The order in the path for a command: as VisibleOrder, and for an integration that may
    report on any order (what it may report is checked with the status it asks for)."""
    permissions.require_person(user, Grant.REPORT_SHIPPING)
    return await _order_if(order_id, db, lambda row: (
        permissions.allows(user, Grant.READ_ANY_ORDER)
        or permissions.allows(user, Grant.REPORT_SHIPPING) or _party(user, row)))


def _party(user: Principal, row) -> bool:
    return permissions.is_self(user, row.buyer_id) or permissions.is_self(user, row.seller_id)


async def _order_if(order_id: str, db: Database, may_see) -> OrderParties:
    async with db.reader.connect() as conn:
        row = await queries.order_parties(conn, order_id)
    if row is None or not may_see(row):
        raise ApiError(ErrorCode.NOT_FOUND, "no such order")
    return OrderParties(id=row.id, workflow_id=row.workflow_id, buyer_id=row.buyer_id,
                        seller_id=row.seller_id, status=row.status, currency=row.currency)


VisibleOrder = Annotated[OrderParties, Depends(get_visible_order)]
OrderToChange = Annotated[OrderParties, Depends(get_order_to_change)]
