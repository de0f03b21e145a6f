"""Verifying bearer tokens: HS256 with OMS_JWT_SECRET, RS256/ES256 with the keys the identity
provider publishes at OMS_JWT_JWKS_URL (looked up by the token's `kid`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

from api.auth import (
    HMAC_ALGORITHMS,
    PROVIDER_ALGORITHMS,
    AuthError,
    Principal,
    principal_from,
    verified_claims,
)
from oms.settings import Settings

log = logging.getLogger("oms.api")


class KeysUnavailable(Exception):
    """The identity provider could not be asked for a key this API does not know yet."""


class ProviderKeys:
    """The identity provider's signing keys by `kid`.

    PyJWKClient is synchronous (urllib): a known key is answered from memory on the event loop,
    and only a key not seen yet, or one due for a recheck, is fetched in a thread. A key the
    provider stops publishing is dropped at its next recheck; while the provider is unreachable,
    keys it published keep working and unknown ones are a 503, never accepted.
    """

    def __init__(self, url: str, *, recheck_after: float, cooldown: float,
                 timeout: float = 5.0) -> None:
        # The client's own cooldown keeps tokens with made-up `kid`s from hammering the provider.
        self._client = PyJWKClient(url, cache_jwk_set=True, lifespan=recheck_after,
                                   cooldown_duration=cooldown, timeout=timeout)
        self._recheck_after = recheck_after
        self._known: dict[str, tuple[PyJWK, float]] = {}  # kid -> (key, when it was confirmed)
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> PyJWK:
        known = self._known.get(kid)
        if known and time.monotonic() - known[1] < self._recheck_after:
            return known[0]
        async with self._lock:  # one fetch at a time; waiters find what it brought
            known = self._known.get(kid)
            if known and time.monotonic() - known[1] < self._recheck_after:
                return known[0]
            try:
                key = await asyncio.to_thread(self._client.get_signing_key, kid)
            except (PyJWKClientConnectionError, PyJWKSetError) as exc:
                if known:
                    log.warning("identity provider unreachable; still trusting key %s: %s",
                                kid, exc)
                    return known[0]
                raise KeysUnavailable(str(exc)) from exc
            except PyJWKClientError as exc:
                self._known.pop(kid, None)
                raise AuthError("the token's signing key is not the identity provider's") \
                    from exc
            self._known[kid] = (key, time.monotonic())
            return key


# How long a verified token is believed without checking it again: a client sends one token
# many times (a page sends its reader's on to the API), and each check is 0.15-0.35 ms.
KEEP_VERIFIED_SECONDS = 60.0
KEEP_VERIFIED_TOKENS = 4096


class VerifiedTokens:
    """Tokens verified lately, with the principal each names, kept until their own expiry or
    `keep` seconds, whichever comes first, and at most `size` of them (the least recently
    used go first). Only successes are kept: a forged token is checked, and counted by the
    abuse limits, every time."""

    def __init__(self, keep: float, size: int = KEEP_VERIFIED_TOKENS) -> None:
        self._keep = keep
        self._size = size
        self._kept: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        kept = self._kept.get(token)
        if kept is None:
            return None
        if time.time() >= kept[1]:
            del self._kept[token]
            return None
        self._kept.move_to_end(token)
        return kept[0]

    def keep(self, token: str, principal: Principal, expires_at: float) -> None:
        self._kept[token] = (principal, min(expires_at, time.time() + self._keep))
        self._kept.move_to_end(token)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)


@dataclass
class TokenVerifier:
    """Turns a bearer token into the principal it names, or raises AuthError (401) or
    KeysUnavailable (503)."""

    secret: str
    issuer: str
    audience: str
    provider: ProviderKeys | None = None
    verified: VerifiedTokens = field(
        default_factory=lambda: VerifiedTokens(KEEP_VERIFIED_SECONDS))

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        if not settings.jwt_jwks_url:
            return cls(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
        recheck = settings.jwt_jwks_recheck.total_seconds()
        provider = ProviderKeys(settings.jwt_jwks_url, recheck_after=recheck,
                                cooldown=settings.jwt_jwks_cooldown.total_seconds())
        # Never believed longer than a key is trusted without asking the provider again: a
        # key it stops publishing stops verifying within one recheck, as it did before.
        return cls(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience, provider,
                   VerifiedTokens(min(KEEP_VERIFIED_SECONDS, recheck)))

    async def principal(self, token: str) -> Principal:
        known = self.verified.get(token)
        if known is not None:
            return known
        claims = await self._verified_claims(token)
        principal = principal_from(claims)
        self.verified.keep(token, principal, float(claims["exp"]))
        return principal

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError("the token is not valid") from exc
        alg = header.get("alg")
        if alg in HMAC_ALGORITHMS:
            key, algorithms = self.secret, HMAC_ALGORITHMS
        elif alg in PROVIDER_ALGORITHMS and self.provider is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise AuthError("the token names no signing key (kid)")
            jwk = await self.provider.key(kid)
            if jwk.algorithm_name not in PROVIDER_ALGORITHMS:
                raise AuthError("the token's signing key is of an unsupported kind")
            # The key decides the algorithm, not the token: an RS256 key verifies RS256 only.
            key, algorithms = jwk, (jwk.algorithm_name,)
        else:
            raise AuthError("the token's algorithm is not accepted")
        return verified_claims(token, key, algorithms, self.issuer, self.audience)
