"""Bearer tokens and who they name.

A token's `sub` is the caller's id and `role` what it is: a person (`user`, acting through its
relation to each order), an `operator`, read-only `support`, or an `integration`, which acts
only through the `scope`s its token lists. Every token names its issuer (`iss`) and this API as
its audience (`aud`) and expires (`exp`). Tokens are HS256 with `OMS_JWT_SECRET` (the dev stack,
`oms token`) or RS256/ES256 from the marketplace's identity provider (api/jwks.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from domain.errors import ErrorCode
from oms.settings import DEV_JWT_AUDIENCE, DEV_JWT_ISSUER

# People log in again; an integration's token is configured once and rotated by its owner.
PERSON_TOKEN_LIFETIME = timedelta(hours=8)
INTEGRATION_TOKEN_LIFETIME = timedelta(days=30)
HMAC_ALGORITHMS = ("HS256",)
PROVIDER_ALGORITHMS = ("RS256", "ES256")


class Role(StrEnum):
    USER = "user"
    OPERATOR = "operator"
    SUPPORT = "support"
    INTEGRATION = "integration"


class Scope(StrEnum):
    """What an integration's token may do (api/permissions.py says where each one counts)."""

    ORDERS_READ = "orders:read"
    ORDERS_CREATE = "orders:create"
    SHIPPING_REPORT = "shipping:report"
    CATALOG_WRITE = "catalog:write"
    USERS_WRITE = "users:write"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    scopes: frozenset[Scope] = frozenset()

    @property
    def is_integration(self) -> bool:
        return self.role is Role.INTEGRATION


class AuthError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode.UNAUTHORIZED
        self.message = message


def mint_token(secret: str, sub: str, role: Role = Role.USER, ttl: timedelta | None = None, *,
               scopes: Iterable[Scope] = (), issuer: str = DEV_JWT_ISSUER,
               audience: str = DEV_JWT_AUDIENCE) -> str:
    """An HS256 token, as the dev stack and `oms token` issue them."""
    if ttl is None:
        ttl = INTEGRATION_TOKEN_LIFETIME if role is Role.INTEGRATION else PERSON_TOKEN_LIFETIME
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": sub, "role": role.value, "iss": issuer, "aud": audience,
                              "iat": now, "exp": now + ttl}
    if scopes:
        claims["scope"] = " ".join(sorted(Scope(s).value for s in scopes))
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str, *, issuer: str = DEV_JWT_ISSUER,
                 audience: str = DEV_JWT_AUDIENCE) -> Principal:
    """The principal of an HS256 token signed with `secret`."""
    return principal_from(verified_claims(token, secret, HMAC_ALGORITHMS, issuer, audience))


def verified_claims(token: str, key: Any, algorithms: Iterable[str], issuer: str,
                    audience: str) -> dict[str, Any]:
    """The claims of `token` once its signature (one of `algorithms` only: never `none`, never
    an HMAC over a public key), issuer, audience and expiry are checked."""
    try:
        return jwt.decode(token, key, algorithms=list(algorithms), issuer=issuer,
                          audience=audience,
                          options={"require": ["sub", "exp", "iss", "aud"]})
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the token has expired") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthError("the token is from another issuer") from exc
    except jwt.InvalidAudienceError as exc:
        raise AuthError("the token is for another audience") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("the token is not valid") from exc


def principal_from(claims: dict[str, Any]) -> Principal:
    sub = claims["sub"]
    if not isinstance(sub, str) or not 0 < len(sub) <= 64:
        raise AuthError("the token's subject is not a user id")
    try:
        role = Role(claims.get("role", Role.USER.value))
    except ValueError as exc:
        raise AuthError("the token's role is unknown") from exc
    raw = claims.get("scope", "")
    if not isinstance(raw, str):
        raise AuthError("the token's scope is not a space-separated string")
    # Scopes count for integrations only: a person's token from the identity provider may carry
    # scopes of its own (openid, profile) and never gains powers from them here.
    known = {s.value for s in Scope}
    scopes = frozenset(Scope(s) for s in raw.split() if s in known)
    return Principal(user_id=sub, role=role,
                     scopes=scopes if role is Role.INTEGRATION else frozenset())
