from datetime import timedelta

import pytest
from pydantic import ValidationError

from oms.settings import DEV_JWT_SECRET, Settings


def test_durations_come_from_the_environment_into_the_order_policy(monkeypatch):
    monkeypatch.setenv("OMS_DISPUTE_WINDOW", "P3D")
    monkeypatch.setenv("OMS_PAYMENT_TIMEOUT", "PT30M")
    policy = Settings(_env_file=None).order_policy()
    assert policy.dispute_window == timedelta(days=3)
    assert policy.payment_timeout == timedelta(minutes=30)


@pytest.mark.parametrize(
    "env",
    [{"OMS_DATABASE_URL": "postgresql://u@h/db"},  # a sync driver would block the event loop
     {"OMS_API_PORT": "70000"},
     {"OMS_JWT_SECRET": "short"},
     {"OMS_LOG_LEVEL": "LOUD"},
     {"OMS_WORKER_MAX_CACHED_WORKFLOWS": "-1"},
     {"OMS_API_HOST": "0.0.0.0"},  # reachable from outside with the public dev secret
     {"OMS_API_HOST": "0.0.0.0", "OMS_JWT_SECRET": "x" * 40}],  # webhook secrets still public
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
    settings = Settings(_env_file=None)
    assert settings.jwt_secret != DEV_JWT_SECRET

