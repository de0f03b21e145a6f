"""GET /api/payments/config: what a checkout needs, no secret, and why a method cannot be paid."""

from __future__ import annotations

import httpx

from api.main import create_app
from oms.settings import Settings
from tests.payments_chain.test_chain_settings import ARBITER, CHAIN, ESCROW, KEY, TOKEN


async def _config(settings: Settings, database_url: str) -> httpx.Response:
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://oms.test") as http:
        return await http.get("/api/payments/config")  # no token: a checkout's page asks


async def test_with_a_chain_it_names_the_chain_tokens_contract_and_address_but_no_key(
        monkeypatch, sqlite_url):
    for name, value in CHAIN.items():
        monkeypatch.setenv(name, value)
    answer = await _config(Settings(_env_file=None), sqlite_url)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "methods": {method: {"available": True, "reason": None}
                    for method in ("fiat", "crypto", "escrow")},
        "stripePublishableKey": "pk_test_dev_only_localstripe_0123456789",
        "chain": {"chainId": 31337, "confirmations": 3, "tokens": {"USDC": TOKEN},
                  "escrowContract": ESCROW, "receivingAddress": ARBITER.address},
    }
    assert KEY.removeprefix("0x") not in answer.text


async def test_without_a_chain_crypto_and_escrow_say_why_they_cannot_be_paid(sqlite_url):
    body = (await _config(Settings(_env_file=None), sqlite_url)).json()
    assert body["chain"] is None
    assert body["methods"]["fiat"] == {"available": True, "reason": None}
    for method in ("crypto", "escrow"):
        assert body["methods"][method] == {
            "available": False, "reason": "no chain is configured (OMS_CHAIN_RPC_URL)"}
    stand_in = (await _config(Settings(_env_file=None, chain_stand_in=True), sqlite_url)).json()
    assert stand_in["methods"]["crypto"]["available"] is True
    assert "checkout's word" in stand_in["methods"]["crypto"]["reason"]
