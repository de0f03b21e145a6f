"""The chain's settings: all or none, checksummed addresses, a signer key never shown, and the
providers the worker gets from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.payments import LedgerStandIn, NoChain, payment_providers
from db.engine import create_database
from domain.order import PaymentMethod
from oms.settings import Settings, problems
from payments.chain_escrow import EscrowPayments
from payments.chain_provider import Chain, CryptoTransfers
from payments.errors import ProviderRefused
from payments.stripe_provider import StripeProvider
from tests.chain import role_accounts
from tests.unit.test_settings import PUBLIC_API

ACCOUNTS = role_accounts()
ARBITER, TOKEN, ESCROW = (ACCOUNTS["arbiter"], ACCOUNTS["deployer"].address,
                          ACCOUNTS["seller"].address)
KEY = ARBITER.key.hex()
CHAIN = {"OMS_CHAIN_RPC_URL": "http://127.0.0.1:8545", "OMS_CHAIN_ID": "31337",
         "OMS_CHAIN_TOKENS": f"USDC={TOKEN}", "OMS_ESCROW_CONTRACT": ESCROW,
         "OMS_RECEIVING_ADDRESS": ARBITER.address, "OMS_CHAIN_SIGNER_KEY": KEY}


def _settings(monkeypatch, env: dict[str, str]) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def _problems(monkeypatch, env: dict[str, str]) -> list[str]:
    with pytest.raises(ValidationError) as err:
        _settings(monkeypatch, env)
    return problems(err.value)


def test_a_whole_chain_configuration_is_read_with_lowercase_addresses_checksummed(monkeypatch):
    settings = _settings(monkeypatch, {**CHAIN, "OMS_CHAIN_TOKENS": f"USDC={TOKEN.lower()}",
                                       "OMS_ESCROW_CONTRACT": ESCROW.lower()})
    assert settings.chain_token_addresses == {"USDC": TOKEN}
    assert settings.escrow_contract == ESCROW
    assert settings.chain_confirmations == 3
    assert settings.chain_signer_address == ARBITER.address
    assert KEY.removeprefix("0x") not in repr(settings) + str(settings.model_dump())


def test_without_a_chain_crypto_and_escrow_are_refused_unless_the_stand_in_is_asked_for(
        monkeypatch):
    settings = _settings(monkeypatch, {})
    assert (settings.chain_rpc_url, settings.chain_stand_in) == (None, False)
    stripe = StripeProvider.from_settings(settings)
    refused = payment_providers(stripe)
    on_trust = payment_providers(stripe, stand_in=True)
    for method in (PaymentMethod.CRYPTO, PaymentMethod.ESCROW):
        assert isinstance(refused[method], NoChain)
        assert isinstance(on_trust[method], LedgerStandIn)


async def test_no_chain_refuses_to_verify_or_move_money_and_says_why():
    no_chain = NoChain(PaymentMethod.ESCROW)
    for attempt in (no_chain.verify, no_chain.refund, no_chain.release):
        with pytest.raises(ProviderRefused, match="escrow payments need a chain.*"
                                                  "OMS_CHAIN_RPC_URL"):
            await attempt(None)  # refused before the command is looked at


def test_the_stand_in_is_refused_beside_a_chain_and_beyond_loopback(monkeypatch):
    assert _problems(monkeypatch, {**CHAIN, "OMS_CHAIN_STAND_IN": "true"}) == [
        "OMS_CHAIN_STAND_IN is for machines without a chain; OMS_CHAIN_RPC_URL names one"]
    for name in ("CHAIN_RPC_URL", "CHAIN_ID", "CHAIN_TOKENS", "ESCROW_CONTRACT",
                 "RECEIVING_ADDRESS", "CHAIN_SIGNER_KEY"):
        monkeypatch.delenv(f"OMS_{name}")
    public = {**PUBLIC_API, "OMS_CHAIN_STAND_IN": "true"}
    assert _problems(monkeypatch, public) == [
        "OMS_CHAIN_STAND_IN takes payments on trust: it is not for an API that listens beyond "
        "loopback"]


async def test_with_a_chain_the_worker_gets_the_chain_providers(monkeypatch, sqlite_url):
    settings = _settings(monkeypatch, CHAIN)
    db = create_database(sqlite_url)
    chain = Chain.from_settings(settings, db)
    try:
        providers = payment_providers(StripeProvider.from_settings(settings), chain)
        assert isinstance(providers[PaymentMethod.CRYPTO], CryptoTransfers)
        assert isinstance(providers[PaymentMethod.ESCROW], EscrowPayments)
        assert chain.signer.address == chain.receiving_address == ARBITER.address
    finally:
        await chain.aclose()
        await db.dispose()


@pytest.mark.parametrize(("env", "expected"), [
    ({"OMS_CHAIN_RPC_URL": "http://127.0.0.1:8545"},
     "OMS_CHAIN_RPC_URL is set, so set OMS_CHAIN_ID, OMS_CHAIN_TOKENS, OMS_ESCROW_CONTRACT, "
     "OMS_RECEIVING_ADDRESS, OMS_CHAIN_SIGNER_KEY too"),
    ({"OMS_CHAIN_TOKENS": "usdc=0x1"},
     "OMS_CHAIN_TOKENS: 'usdc=0x1' is not CURRENCY=0xADDRESS"),
    ({"OMS_CHAIN_TOKENS": "USDC=0x12"}, "OMS_CHAIN_TOKENS: USDC: '0x12' is not an address"),
    ({"OMS_CHAIN_TOKENS": f"USDC={TOKEN},USDT={TOKEN}"},
     "OMS_CHAIN_TOKENS: gives one token to two currencies"),
    ({"OMS_ESCROW_CONTRACT": ESCROW.swapcase().replace("0X", "0x")},
     "OMS_ESCROW_CONTRACT: 0x"),
    ({"OMS_RECEIVING_ADDRESS": "receiving"}, "OMS_RECEIVING_ADDRESS: 'receiving' is not"),
    ({"OMS_CHAIN_SIGNER_KEY": "not-a-key"}, "OMS_CHAIN_SIGNER_KEY: must be a private key"),
    ({"OMS_CHAIN_CONFIRMATIONS": "0"}, "OMS_CHAIN_CONFIRMATIONS: must be at least 1"),
    ({**CHAIN, "OMS_RECEIVING_ADDRESS": ESCROW},
     f"OMS_CHAIN_SIGNER_KEY is the key of {ARBITER.address}, not of OMS_RECEIVING_ADDRESS"),
])
def test_a_wrong_chain_setting_is_one_line_naming_it(monkeypatch, env, expected):
    (line,) = _problems(monkeypatch, env)
    assert line.startswith(expected), line
    assert KEY.removeprefix("0x") not in line


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused(monkeypatch):
    wrong = ESCROW[:-1] + ("a" if ESCROW[-1] != "a" else "b")  # mixed case, one digit off
    (line,) = _problems(monkeypatch, {"OMS_ESCROW_CONTRACT": wrong})
    assert "wrong EIP-55 checksum" in line
