"""Verifying bearer tokens: HS256 with OMS_JWT_SECRET, RS256/ES256 with the keys the identity
provider publishes at OMS_JWT_JWKS_URL (looked up by the token's `kid`)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

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


@dataclass
class TokenVerifier:
    """Turns a bearer token into the principal it names, or raises AuthError (401) or
    KeysUnavailable (503)."""

    secret: str
    issuer: str
    audience: str
    provider: ProviderKeys | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        provider = None
        if settings.jwt_jwks_url:
            provider = ProviderKeys(settings.jwt_jwks_url,
                                    recheck_after=settings.jwt_jwks_recheck.total_seconds(),
                                    cooldown=settings.jwt_jwks_cooldown.total_seconds())
        return cls(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience, provider)

    async def principal(self, token: str) -> Principal:
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
        return principal_from(verified_claims(token, key, algorithms, self.issuer,
                                              self.audience))
