"""Tokens as identity providers issue them: issuer and audience checked, RS256/ES256 keys from a
real JWKS endpoint on loopback (rotated, then taken down), HS256 for the dev stack."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from api import tokens
from api.auth import Role, Scope, mint_token
from api.main import create_app
from oms.cli import main as oms
from oms.settings import DEV_JWT_SECRET as JWT_SECRET_DEV
from oms.settings import get_settings
from tests.conftest import JWT_SECRET
from tests.polling import eventually

ISSUER = "https://id.marketplace.test/"
AUDIENCE = "oms-api"
RECHECK = timedelta(seconds=1)


class IdentityProvider:
    """A JWKS endpoint on a loopback port, serving whichever keys the test publishes."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.published: list[str] = []
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                provider.fetches += 1
                body = json.dumps({"keys": [provider.jwk(kid) for kid in provider.published]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def new_key(self, kid: str, kind: str = "RS256", *, publish: bool = True) -> None:
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                          if kind == "RS256" else ec.generate_private_key(ec.SECP256R1()))
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"alg": "RS256"}
        else:
            jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"alg": "ES256"}
        return jwk | {"kid": kid, "use": "sig"}

    def token(self, kid: str, sub: str = "buyer-idp", *, signed_by: str | None = None,
              **claims: Any) -> str:
        key = self.keys[signed_by or kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        now = datetime.now(UTC)
        body = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                "exp": now + timedelta(minutes=5)} | claims
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    with contextlib.suppress(OSError):
        provider.stop()


@contextlib.asynccontextmanager
async def app_for(settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as http:
            yield http


@pytest.fixture
async def api_idp(settings, idp) -> AsyncIterator[httpx.AsyncClient]:
    """The API trusting `idp` (cooldown off, so a rotated key is picked up at once)."""
    async with app_for(settings.model_copy(update={
            "jwt_jwks_url": idp.url, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
            "jwt_jwks_recheck": RECHECK, "jwt_jwks_cooldown": timedelta(0)})) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_of(api, token: str) -> int:
    return (await api.get("/api/notifications", headers=bearer(token))).status_code


# ---- the identity provider's keys --------------------------------------------------------


async def test_rs256_and_es256_tokens_from_the_provider_are_accepted(api_idp, idp):
    idp.new_key("rsa-1")
    idp.new_key("ec-1", "ES256")
    assert await status_of(api_idp, idp.token("rsa-1")) == 200
    assert await status_of(api_idp, idp.token("ec-1")) == 200
    answer = await api_idp.get("/api/orders/buyer/buyer-idp",
                               headers=bearer(idp.token("ec-1")))
    assert answer.status_code == 200, answer.text


async def test_a_known_key_is_answered_from_memory_without_a_thread(api_idp, idp, monkeypatch):
    threads = []
    to_thread = asyncio.to_thread

    async def counted(func, *args):
        threads.append(func)
        return await to_thread(func, *args)

    monkeypatch.setattr(tokens.asyncio, "to_thread", counted)
    idp.new_key("rsa-1")
    assert await status_of(api_idp, idp.token("rsa-1")) == 200
    assert (len(threads), idp.fetches) == (1, 1)
    for _ in range(20):
        assert await status_of(api_idp, idp.token("rsa-1")) == 200
    assert (len(threads), idp.fetches) == (1, 1)


async def test_a_rotated_key_is_picked_up_by_kid_and_a_dropped_one_refused(api_idp, idp):
    idp.new_key("2026-01")
    old = idp.token("2026-01")
    assert await status_of(api_idp, old) == 200
    idp.new_key("2026-02")
    idp.published.remove("2026-01")
    assert await status_of(api_idp, idp.token("2026-02")) == 200

    async def old_key_refused():
        assert await status_of(api_idp, old) == 401
        return True

    # Known keys are trusted until their recheck (OMS_JWT_JWKS_RECHECK, 1 s here).
    await eventually(old_key_refused, timeout=RECHECK.total_seconds() * 5)


@pytest.mark.parametrize("forgery", ["unpublished kid", "signed by another key",
                                     "wrong issuer", "wrong audience", "expired"])
async def test_tokens_the_provider_did_not_issue_for_us_are_401(api_idp, idp, forgery):
    idp.new_key("rsa-1")
    idp.new_key("stolen", publish=False)
    token = {
        "unpublished kid": lambda: idp.token("stolen"),
        "signed by another key": lambda: idp.token("rsa-1", signed_by="stolen"),
        "wrong issuer": lambda: idp.token("rsa-1", iss="https://elsewhere.test/"),
        "wrong audience": lambda: idp.token("rsa-1", aud="another-api"),
        "expired": lambda: idp.token("rsa-1", exp=datetime.now(UTC) - timedelta(seconds=1)),
    }[forgery]()
    answer = await api_idp.get("/api/notifications", headers=bearer(token))
    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHORIZED")


async def test_an_hmac_over_the_providers_public_key_is_refused(api_idp, idp):
    idp.new_key("rsa-1")
    public_pem = idp.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    now = datetime.now(UTC)
    claims = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": now + timedelta(minutes=5)}
    # PyJWT itself refuses a PEM key as an HMAC secret; sign the confused token by hand.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims | {"exp": int(claims["exp"].timestamp())}).encode())
    signature = b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert await status_of(api_idp, f"{header}.{payload}.{signature}") == 401


async def test_an_unreachable_provider_is_503_for_unknown_keys_never_an_accept(api_idp, idp):
    idp.new_key("rsa-1")
    known = idp.token("rsa-1")
    assert await status_of(api_idp, known) == 200
    idp.new_key("rsa-2")  # published, but the API never saw it before the provider went down
    unknown = idp.token("rsa-2")
    idp.stop()
    answer = await api_idp.get("/api/notifications", headers=bearer(unknown))
    assert (answer.status_code, answer.json()["code"]) == (503, "TEMPORARILY_UNAVAILABLE")
    assert answer.headers["retry-after"]
    assert await status_of(api_idp, known) == 200
    await asyncio.sleep(RECHECK.total_seconds() * 1.2)  # past its recheck, with no provider
    assert await status_of(api_idp, known) == 200


async def test_without_a_jwks_url_provider_tokens_are_401(api, idp):
    idp.new_key("rsa-1")
    assert await status_of(api, idp.token("rsa-1", iss="oms-dev", aud="oms")) == 401


# ---- HS256 tokens, claims and lifetimes ----------------------------------------------------


@pytest.mark.parametrize("claims", [{"iss": "someone-else"}, {"aud": "another-api"},
                                    {"iss": None}, {"aud": None}, {"exp": None}])
async def test_hs256_tokens_need_our_issuer_audience_and_expiry(api, claims):
    now = datetime.now(UTC)
    body = {"sub": "u1", "iss": "oms-dev", "aud": "oms", "exp": now + timedelta(hours=1)}
    body = {k: v for k, v in (body | claims).items() if v is not None}
    assert await status_of(api, jwt.encode(body, JWT_SECRET, algorithm="HS256")) == 401
    good = {"sub": "u1", "iss": "oms-dev", "aud": "oms", "exp": now + timedelta(hours=1)}
    assert await status_of(api, jwt.encode(good, JWT_SECRET, algorithm="HS256")) == 200


async def test_an_unsigned_token_is_401(api):
    unsigned = jwt.encode({"sub": "u1", "iss": "oms-dev", "aud": "oms",
                           "exp": datetime.now(UTC) + timedelta(hours=1)}, None, algorithm="none")
    assert await status_of(api, unsigned) == 401


async def test_scopes_give_a_person_nothing(api):
    token = jwt.encode({"sub": "u1", "role": "user", "scope": "orders:read users:write",
                        "iss": "oms-dev", "aud": "oms",
                        "exp": datetime.now(UTC) + timedelta(hours=1)}, JWT_SECRET)
    assert (await api.get("/api/orders", headers=bearer(token))).status_code == 403


async def test_the_old_system_role_is_refused(api):
    token = jwt.encode({"sub": "carrier", "role": "system", "iss": "oms-dev", "aud": "oms",
                        "exp": datetime.now(UTC) + timedelta(hours=1)}, JWT_SECRET)
    assert await status_of(api, token) == 401


def test_people_tokens_last_hours_and_integrations_need_scopes():
    def lifetime(token: str) -> timedelta:
        claims = jwt.decode(token, options={"verify_signature": False})
        return timedelta(seconds=claims["exp"] - claims["iat"])

    assert lifetime(mint_token(JWT_SECRET, "u1")) == timedelta(hours=8)
    assert lifetime(mint_token(JWT_SECRET, "ops", Role.OPERATOR)) == timedelta(hours=8)
    carrier = mint_token(JWT_SECRET, "c", Role.INTEGRATION, scopes=[Scope.SHIPPING_REPORT])
    assert jwt.decode(carrier, options={"verify_signature": False})["scope"] == "shipping:report"


def test_oms_token_mints_scoped_integration_tokens_and_refuses_nonsense(capsys, monkeypatch):
    for name in ("OMS_JWT_SECRET", "OMS_JWT_ISSUER", "OMS_JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    get_settings.cache_clear()  # `oms` reads the settings of this environment
    assert oms(["token", "--sub", "ups", "--scope", "shipping:report", "--hours", "2"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), JWT_SECRET_DEV, audience="oms",
                        algorithms=["HS256"])
    assert (claims["role"], claims["scope"], claims["iss"]) == (
        "integration", "shipping:report", "oms-dev")
    assert claims["exp"] - claims["iat"] == 2 * 3600
    for nonsense in (["--scope", "orders:everything"], ["--role", "integration"],
                     ["--role", "operator", "--scope", "orders:read"], ["--role", "system"]):
        with pytest.raises(SystemExit) as exited:
            oms(["token", "--sub", "x", *nonsense])
        assert exited.value.code == 2
