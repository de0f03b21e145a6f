"""Verified tokens are believed again only while they are valid, and never for long."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from api import tokens
from api.auth import DEV_JWT_AUDIENCE, DEV_JWT_ISSUER, AuthError, Principal, Role, mint_token
from api.tokens import TokenVerifier, VerifiedTokens

SECRET = "verified-tokens-test-secret-" + "x" * 32
ADA = Principal(user_id="ada", role=Role.USER)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(1_000_000.0)
    monkeypatch.setattr(tokens.time, "time", fake)
    return fake


def test_a_token_is_kept_until_its_own_expiry(clock):
    kept = VerifiedTokens(keep=60)
    kept.keep("t", ADA, expires_at=clock.now + 10)
    clock.now += 9.9
    assert kept.get("t") == ADA
    clock.now += 0.1
    assert kept.get("t") is None


def test_a_long_lived_token_is_checked_again_after_the_keep_time(clock):
    kept = VerifiedTokens(keep=60)
    kept.keep("t", ADA, expires_at=clock.now + 8 * 3600)
    clock.now += 59
    assert kept.get("t") == ADA
    clock.now += 1
    assert kept.get("t") is None


def test_the_least_recently_used_go_first(clock):
    kept = VerifiedTokens(keep=60, size=2)
    for token in ("a", "b"):
        kept.keep(token, ADA, expires_at=clock.now + 60)
    assert kept.get("a") == ADA  # "b" is now the least recently used
    kept.keep("c", ADA, expires_at=clock.now + 60)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (ADA, None, ADA)


async def test_an_expired_token_is_refused_though_it_was_verified_before():
    verifier = TokenVerifier(SECRET, DEV_JWT_ISSUER, DEV_JWT_AUDIENCE)
    token = mint_token(SECRET, "ada", ttl=timedelta(seconds=1))
    assert await verifier.principal(token) == ADA
    await asyncio.sleep(max(0.0, verifier.verified._kept[token][1] - time.time()) + 0.05)
    with pytest.raises(AuthError, match="expired"):
        await verifier.principal(token)


async def test_a_refused_token_is_not_kept():
    verifier = TokenVerifier(SECRET, DEV_JWT_ISSUER, DEV_JWT_AUDIENCE)
    forged = mint_token("another-secret-" + "y" * 32, "ada")
    for _ in range(2):
        with pytest.raises(AuthError):
            await verifier.principal(forged)
    assert verifier.verified.get(forged) is None
