from datetime import timedelta

import pytest
from pydantic import ValidationError

from oms.settings import DEV_JWT_SECRET, DEV_STRIPE_API_KEY, DEV_STRIPE_WEBHOOK_SECRET, Settings

PRODUCTION_STRIPE = {"OMS_STRIPE_API_KEY": "sk_live_" + "k" * 40,
                     "OMS_STRIPE_API_BASE": "https://api.stripe.com",
                     "OMS_STRIPE_WEBHOOK_SECRET": "whsec_" + "w" * 32}
PRODUCTION_PAYLOAD_KEYS = {"OMS_PAYLOAD_KEYS": "prod:cHJvZC1vbmx5LXBheWxvYWQta2V5LTAxMjM0NTY3ODk="}
PUBLIC_API = {"OMS_API_HOST": "0.0.0.0", "OMS_JWT_SECRET": "x" * 40,
              "OMS_SHIPPING_WEBHOOK_SECRET": "y" * 40, "OMS_ESCROW_WEBHOOK_SECRET": "z" * 40,
              **PRODUCTION_STRIPE, **PRODUCTION_PAYLOAD_KEYS}


def test_durations_come_from_the_environment_into_the_order_policy(monkeypatch):
    monkeypatch.setenv("OMS_DISPUTE_WINDOW", "P3D")
    monkeypatch.setenv("OMS_PAYMENT_TIMEOUT", "PT30M")
    policy = Settings(_env_file=None).order_policy()
    assert policy.dispute_window == timedelta(days=3)
    assert policy.payment_timeout == timedelta(minutes=30)


def test_policy_variables_are_read_from_the_env_file_too(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("OMS_STUCK_ALERT_REPEAT=PT2H\nOMS_MAX_HISTORY_EVENTS=500\n")
    policy = Settings(_env_file=env_file).policy
    assert policy.stuck_alert_repeat == timedelta(hours=2)
    assert policy.max_history_events == 500


def test_keywords_and_with_policy_change_single_durations():
    settings = Settings(_env_file=None, dispute_window=timedelta(days=2))
    assert settings.policy.dispute_window == timedelta(days=2)
    changed = settings.with_policy(payment_timeout=timedelta(minutes=5))
    assert changed.policy.payment_timeout == timedelta(minutes=5)
    assert changed.policy.dispute_window == timedelta(days=2)


@pytest.mark.parametrize(
    "env",
    [{"OMS_DATABASE_URL": "postgresql://u@h/db"},  # a sync driver would block the event loop
     {"OMS_API_PORT": "70000"},
     {"OMS_JWT_SECRET": "short"},
     {"OMS_LOG_LEVEL": "LOUD"},
     {"OMS_WORKER_MAX_CACHED_WORKFLOWS": "-1"},
     {"OMS_PAYMENT_TIMEOUT": "-PT1H"},  # a deadline in the past
     {"OMS_MAX_HISTORY_EVENTS": "5"},
     {"OMS_API_HOST": "0.0.0.0"},  # reachable from outside with the public dev secret
     {"OMS_API_HOST": "0.0.0.0", "OMS_JWT_SECRET": "x" * 40},  # webhook secrets still public
     {"OMS_STRIPE_API_KEY": "pk_test_123"},  # a publishable key cannot verify or refund
     {"OMS_STRIPE_API_BASE": "127.0.0.1:8420"},
     {"OMS_STRIPE_WEBHOOK_SECRET": "whsec_short"}],
)
def test_bad_configuration_is_refused_at_startup(monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_a_public_api_with_its_own_secret_is_fine(monkeypatch):
    monkeypatch.setenv("OMS_API_HOST", "0.0.0.0")
    monkeypatch.setenv("OMS_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("OMS_SHIPPING_WEBHOOK_SECRET", "y" * 40)
    monkeypatch.setenv("OMS_ESCROW_WEBHOOK_SECRET", "z" * 40)
    for key, value in {**PRODUCTION_STRIPE, **PRODUCTION_PAYLOAD_KEYS}.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.jwt_secret != DEV_JWT_SECRET



def test_stripe_defaults_to_the_dev_stacks_local_server():
    settings = Settings(_env_file=None)
    assert (settings.stripe_api_base, settings.stripe_port) == ("http://127.0.0.1:8420", 8420)
    assert settings.stripe_is_local
    assert settings.stripe_api_key == DEV_STRIPE_API_KEY
    assert settings.stripe_webhook_secret == DEV_STRIPE_WEBHOOK_SECRET


@pytest.mark.parametrize(("base", "local", "port"),
                         [("https://api.stripe.com", False, 443),
                          ("http://localhost:9000", True, 9000), ("http://[::1]:8420", True, 8420),
                          ("http://127.0.0.2", True, 80)])
def test_where_the_stripe_api_is(base, local, port):
    settings = Settings(_env_file=None, stripe_api_base=base)
    assert (settings.stripe_is_local, settings.stripe_port) == (local, port)


@pytest.mark.parametrize(("name", "dev_value"),
                         [("OMS_STRIPE_API_KEY", DEV_STRIPE_API_KEY),
                          ("OMS_STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET),
                          ("OMS_STRIPE_API_BASE", "http://127.0.0.1:8420"),
                          ("OMS_STRIPE_API_BASE", "http://localhost:8420")])
def test_a_public_api_refuses_the_dev_stripe(monkeypatch, name, dev_value):
    for key, value in {**PUBLIC_API, name: dev_value}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None)


def test_a_public_api_with_the_real_stripe_is_fine(monkeypatch):
    for key, value in PUBLIC_API.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert not settings.stripe_is_local


def test_a_duration_in_plain_seconds_is_read_as_seconds(monkeypatch):
    monkeypatch.setenv("OMS_PAYMENT_RECHECK_INTERVAL", "3600")
    monkeypatch.setenv("OMS_TEMPORAL_RPC_TIMEOUT", "12.5")
    monkeypatch.setenv("OMS_DISPUTE_WINDOW", "P3D")
    settings = Settings(_env_file=None)
    assert settings.policy.payment_recheck_interval == timedelta(hours=1)
    assert settings.temporal_rpc_timeout == timedelta(seconds=12.5)
    assert settings.policy.dispute_window == timedelta(days=3)
