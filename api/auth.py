"""JWT bearer tokens (HS256): `sub` is the user id, `role` user | operator | system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from domain.errors import ErrorCode


class Role(StrEnum):
    USER = "user"
    OPERATOR = "operator"
    SYSTEM = "system"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role

    @property
    def is_staff(self) -> bool:
        """Operators and trusted systems see every order."""
        return self.role in (Role.OPERATOR, Role.SYSTEM)


class AuthError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode.UNAUTHORIZED
        self.message = message


def mint_token(secret: str, sub: str, role: Role = Role.USER,
               ttl: timedelta = timedelta(days=30)) -> str:
    now = datetime.now(UTC)
    claims = {"sub": sub, "role": role.value, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("the token is not valid") from exc
    sub = claims["sub"]
    if not isinstance(sub, str) or not 0 < len(sub) <= 64:
        raise AuthError("the token's subject is not a user id")
    try:
        role = Role(claims.get("role", Role.USER.value))
    except ValueError as exc:
        raise AuthError("the token's role is unknown") from exc
    return Principal(user_id=sub, role=role)
