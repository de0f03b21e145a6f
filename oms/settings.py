"""All configuration, read from OMS_* environment variables (or a .env file) once."""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from domain.commands import OrderPolicy
from oms.codec import PayloadKeys
from payments.chain_addresses import checksummed

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
# What the dev stack and `oms token` put in `iss` and `aud`, and what the API expects unless set.
DEV_JWT_ISSUER = "oms-dev"
DEV_JWT_AUDIENCE = "oms"
DEV_SHIPPING_SECRET = "dev-only-shipping-webhook-secret-0123456789"
DEV_ESCROW_SECRET = "dev-only-escrow-webhook-secret-0123456789ab"
# The dev stack's and the tests' Stripe is localstripe, which takes any key of this shape.
DEV_STRIPE_API_KEY = "sk_test_dev_only_localstripe_0123456789"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_dev_only_stripe_webhook_secret_012345"
DEV_STRIPE_API_BASE = "http://127.0.0.1:8420"
DEV_STRIPE_PUBLISHABLE_KEY = "pk_test_dev_only_localstripe_0123456789"
# The dev stack's and the tests' payload key: public, so refused beyond loopback like the rest.
DEV_PAYLOAD_KEYS = "dev:ZGV2LW9ubHktcGF5bG9hZC1rZXktY2hhbmdlLW1lISE="
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///.oms/oms.db"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "orders"
    # How long a command waits for its order workflow to answer before the API says 503.
    temporal_rpc_timeout: timedelta = Field(timedelta(seconds=30), ge=timedelta(seconds=1),
                                            le=timedelta(minutes=5))
    jwt_secret: str = Field(DEV_JWT_SECRET, min_length=32)
    # Every token must name this issuer and audience (`iss`, `aud`).
    jwt_issuer: str = Field(DEV_JWT_ISSUER, min_length=1)
    jwt_audience: str = Field(DEV_JWT_AUDIENCE, min_length=1)
    # The identity provider's published keys (JWKS): RS256/ES256 tokens are accepted when set.
    # A known key is rechecked this often (dropped if no longer published); an unknown `kid`
    # makes the API ask the provider again at most once per cooldown.
    jwt_jwks_url: str | None = Field(None, pattern=r"^https?://\S+$")
    jwt_jwks_recheck: timedelta = Field(timedelta(minutes=5), ge=timedelta(seconds=1),
                                        le=timedelta(days=1))
    jwt_jwks_cooldown: timedelta = Field(timedelta(seconds=30), ge=timedelta(0),
                                         le=timedelta(hours=1))
    shipping_webhook_secret: str = Field(DEV_SHIPPING_SECRET, min_length=32)
    escrow_webhook_secret: str = Field(DEV_ESCROW_SECRET, min_length=32)
    # Card payments: the Stripe API (localstripe from the dev stack unless set), its secret key
    # and the secret Stripe signs webhooks with.
    stripe_api_key: str = Field(DEV_STRIPE_API_KEY, pattern=r"^(sk|rk)_(test|live)_\S+$")
    stripe_api_base: str = Field(DEV_STRIPE_API_BASE, pattern=r"^https?://[^/\s]+$")
    stripe_webhook_secret: str = Field(DEV_STRIPE_WEBHOOK_SECRET, min_length=32)
    # Not a secret: checkouts collect cards with it (GET /api/payments/config tells them).
    stripe_publishable_key: str = Field(DEV_STRIPE_PUBLISHABLE_KEY,
                                        pattern=r"^pk_(test|live)_\S+$")
    # Payload encryption (oms/codec.py): `id:base64-key,...`, 32-byte keys, the first encrypts
    # new payloads and all decrypt. OMS_PAYLOAD_ENCRYPTION=false turns it off, to measure its
    # cost on one machine only. The codec server answers the Temporal Web UI at this origin
    # (default: the dev stack's UI).
    payload_keys: str = Field(DEV_PAYLOAD_KEYS, repr=False)
    payload_encryption: bool = True
    temporal_ui_origin: str | None = Field(None, pattern=r"^https?://[^/\s]+$")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    temporal_ui_port: int = Field(8233, ge=1, le=65535)
    # Where operators open an order's run (the operator console's links); default: the dev
    # stack's Web UI on OMS_TEMPORAL_UI_PORT.
    temporal_ui_url: str | None = Field(None, pattern=r"^https?://[^/\s]+(/\S*)?$")
    # The dev stack's local chain (anvil), unless OMS_CHAIN_RPC_URL names a chain elsewhere.
    dev_chain_port: int = Field(8545, ge=1, le=65535)
    data_dir: Path = Path(".oms")
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    log_level: str = "INFO"
    # `json`: one JSON object per line (time, level, logger, message, request_id, order_id).
    log_format: Literal["text", "json"] = "text"
    # Live updates: how often API processes look for new updates when no NOTIFY wakes them
    # (SQLite), and how many undelivered updates a WebSocket client may fall behind.
    live_poll_interval: timedelta = Field(timedelta(milliseconds=250),
                                          ge=timedelta(milliseconds=20), le=timedelta(seconds=10))
    ws_queue_size: int = Field(256, ge=1, le=10_000)
    # The web front (/app/, web/): one sign-in button per demo user instead of the token form.
    # The dev stack turns it on; never beyond loopback, since the buttons mint tokens for
    # whoever asks.
    web_demo_sign_in: bool = False
    # Prometheus endpoints of the worker (0 turns one off): order metrics, and the Temporal
    # SDK's own (workflow task latency, activity failures, schedule-to-start, ...).
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(9465, ge=0, le=65535)
    temporal_metrics_port: int = Field(9464, ge=0, le=65535)
    # Orders the worker keeps in memory between events. An event for an order not among them
    # replays its history first (BENCHMARKS.md, webhook ingest); more costs memory per order.
    worker_max_cached_workflows: int = Field(1000, ge=0, le=1_000_000)

    # Abuse limits (api/rate_limits.py), in the `limits` syntax: "100/minute", "5/second;
    # 100/minute". Each is a moving window per client address, or per bearer token for the
    # principal's; failed authentication counts the 401 answers an address got. The storage
    # is per process unless it names a shared one (README, "Abuse limits").
    rate_limit_enabled: bool = True
    rate_limit_storage: str = "memory://"
    rate_limit_per_principal: str = "600/minute"
    rate_limit_per_client: str = "1200/minute"
    rate_limit_webhooks: str = "3000/minute"
    rate_limit_failed_auth: str = "20/minute"

    # Every duration an order obeys, set with the flat names users know (OMS_PAYMENT_TIMEOUT,
    # OMS_DISPUTE_WINDOW, ...: one per field of OrderPolicy, which holds defaults and limits).
    policy: OrderPolicy = OrderPolicy()

    # Order emails go out through this SMTP server when set (smtp://, smtps://; see README).
    smtp_url: str | None = Field(None, pattern=r"^smtps?://")
    email_from: str = "oms <no-reply@oms.local>"

    # The ledger gateway fails this many attempts of each operation before succeeding, so
    # retries and compensation can be shown on demand. 0 in normal use.
    gateway_fail_first_attempts: int = Field(0, ge=0, le=100)
    # ... and takes this long per operation, as a remote payment service would. The time is
    # spent after the provider has acted and before the ledger row is written: the window
    # in which a crash matters, which this widens for demonstrations and tests.
    gateway_latency: timedelta = Field(timedelta(0), le=timedelta(seconds=30))

    # Crypto and escrow on an EVM chain (payments/chain_provider.py). Unset: no chain, and
    # both are served by the development stand-in. Set, every other chain setting is needed:
    # the chain's id (transactions are signed for it), the ERC-20 token of each currency
    # (`USDC=0x...,EURC=0x...`), the escrow contract, the address crypto payments are sent to
    # and the key of that address, which is also the escrow's arbiter. A payment counts once
    # its block has this many confirmations (its own block is the first).
    chain_rpc_url: str | None = Field(None, pattern=r"^https?://\S+$")
    chain_id: int | None = Field(None, ge=1)
    chain_confirmations: int = Field(3, ge=1, le=10_000)
    chain_tokens: str = ""
    escrow_contract: str | None = None
    receiving_address: str | None = None
    chain_signer_key: SecretStr | None = None
    # Without a chain, crypto and escrow orders cannot be paid. For load tests and demos on a
    # machine without one, this stand-in believes the checkout's claim and moves no money:
    # never in production (refused beyond loopback and beside a chain).
    chain_stand_in: bool = False
    # The escrow event listener (`oms chain-listen`, chain_events/): the first block it scans
    # when it has no cursor yet (the escrow contract's deployment block saves scanning the
    # chain's history), and how often it asks the node for new blocks.
    chain_start_block: int = Field(0, ge=0)
    chain_poll_seconds: float = Field(2.0, gt=0, le=3600)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+psycopg://")
        return url

    @field_validator("payload_keys")
    @classmethod
    def _usable_payload_keys(cls, text: str) -> str:
        PayloadKeys.parse(text)  # PayloadKeyError is a ValueError: one line saying what is wrong
        return text

    @field_validator("rate_limit_per_principal", "rate_limit_per_client", "rate_limit_webhooks",
                     "rate_limit_failed_auth")
    @classmethod
    def _rate_limit_syntax(cls, value: str, info: ValidationInfo) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"OMS_{(info.field_name or '').upper()}={value!r} is not a rate "
                             "limit like 100/minute or 10/second;100/minute") from None
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage_known(cls, uri: str) -> str:
        from limits.errors import ConfigurationError
        from limits.storage import storage_from_string

        try:
            storage_from_string(rate_limit_storage_uri(uri))
        except (ConfigurationError, ValueError) as err:
            reason = str(err).replace("async+", "").splitlines()[0]
            raise ValueError(f"OMS_RATE_LIMIT_STORAGE={uri!r} is not a usable rate limit "
                             f"storage: {reason}") from None
        return uri

    @field_validator("escrow_contract", "receiving_address")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return checksummed(value)
        except ValueError as err:
            raise ValueError(str(err)) from None

    @field_validator("chain_tokens")
    @classmethod
    def _token_list(cls, value: str) -> str:
        chain_token_addresses(value)  # ValueError: one line naming the wrong entry
        return value

    @field_validator("chain_signer_key")
    @classmethod
    def _usable_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}",
                                                key.get_secret_value()):
            # The value is never echoed: it is a private key.
            raise ValueError("must be a private key: 64 hexadecimal digits, with or "
                             "without 0x")
        return key

    @model_validator(mode="after")
    def _whole_chain_or_none(self) -> Settings:
        if self.chain_rpc_url is None:
            return self
        if self.chain_stand_in:
            raise ValueError("OMS_CHAIN_STAND_IN is for machines without a chain; "
                             "OMS_CHAIN_RPC_URL names one")
        missing = [f"OMS_{name.upper()}" for name in (
            "chain_id", "chain_tokens", "escrow_contract", "receiving_address",
            "chain_signer_key") if not getattr(self, name)]
        if missing:
            raise ValueError(f"OMS_CHAIN_RPC_URL is set, so set {', '.join(missing)} too")
        signer = self.chain_signer_address
        if signer != self.receiving_address:
            raise ValueError(f"OMS_CHAIN_SIGNER_KEY is the key of {signer}, not of "
                             f"OMS_RECEIVING_ADDRESS {self.receiving_address}: crypto refunds "
                             "are paid from the receiving address")
        return self

    @property
    def chain_token_addresses(self) -> dict[str, str]:
        """The ERC-20 token of each currency on the chain (OMS_CHAIN_TOKENS)."""
        return chain_token_addresses(self.chain_tokens)

    @property
    def chain_signer_address(self) -> str | None:
        if self.chain_signer_key is None:
            return None
        from eth_account import Account

        return Account.from_key(self.chain_signer_key.get_secret_value()).address

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        level = level.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _no_dev_secret_off_loopback(self) -> Settings:
        # The built-in secrets are public; an API reachable from other hosts must have its own.
        if self.api_host not in _LOOPBACK:
            for name, value, dev in (
                ("OMS_JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
                ("OMS_SHIPPING_WEBHOOK_SECRET", self.shipping_webhook_secret, DEV_SHIPPING_SECRET),
                ("OMS_ESCROW_WEBHOOK_SECRET", self.escrow_webhook_secret, DEV_ESCROW_SECRET),
                ("OMS_STRIPE_API_KEY", self.stripe_api_key, DEV_STRIPE_API_KEY),
                ("OMS_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret,
                 DEV_STRIPE_WEBHOOK_SECRET),
                ("OMS_PAYLOAD_KEYS", self.payload_keys, DEV_PAYLOAD_KEYS),
            ):
                if value == dev:
                    raise ValueError(f"set {name} when the API listens beyond loopback")
            if self.chain_stand_in:
                raise ValueError("OMS_CHAIN_STAND_IN takes payments on trust: it is not for an "
                                 "API that listens beyond loopback")
            if not self.payload_encryption:
                raise ValueError("OMS_PAYLOAD_ENCRYPTION=false is for measurements on one "
                                 "machine: buyers' data would reach Temporal in plain text")
            if self.stripe_is_local:
                raise ValueError("set OMS_STRIPE_API_BASE to the Stripe API when the API listens "
                                 "beyond loopback: the local one takes no real payments")
        return self

    @model_validator(mode="after")
    def _no_demo_sign_in_off_loopback(self) -> Settings:
        if self.web_demo_sign_in and self.api_host not in _LOOPBACK:
            raise ValueError("OMS_WEB_DEMO_SIGN_IN is for the dev stack: it signs anyone in as "
                             "a demo user, so the API must listen on loopback only")
        return self

    @property
    def payload_key_ring(self) -> PayloadKeys | None:
        """The keys payloads are encrypted with; None when encryption is off."""
        return PayloadKeys.parse(self.payload_keys) if self.payload_encryption else None

    @property
    def temporal_ui_origins(self) -> list[str]:
        """Where the Temporal Web UI that calls the codec server is served from."""
        if self.temporal_ui_origin:
            return [self.temporal_ui_origin]
        return [f"http://{host}:{self.temporal_ui_port}" for host in ("127.0.0.1", "localhost")]

    @property
    def temporal_ui_base(self) -> str:
        """The Temporal Web UI's address, without a trailing slash."""
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}").rstrip("/")

    @property
    def stripe_is_local(self) -> bool:
        """Whether the Stripe API is on this machine (localstripe, started by the dev stack)."""
        host = urlsplit(self.stripe_api_base).hostname or ""
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    @property
    def stripe_port(self) -> int:
        parts = urlsplit(self.stripe_api_base)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @model_validator(mode="before")
    @classmethod
    def _gather_policy(cls, data: Any) -> Any:
        """Fold OMS_PAYMENT_TIMEOUT and its siblings (read by _PolicyVariables, or passed as
        keywords) into `policy`."""
        if not isinstance(data, dict):
            return data
        # A duration may be given in seconds (OMS_PAYMENT_RECHECK_INTERVAL=3600), which the
        # environment hands over as text that pydantic reads only as ISO 8601.
        for name in DURATION_FIELDS & data.keys():
            data[name] = _plain_seconds(data[name])
        flat = {name: _plain_seconds(data.pop(name)) for name in POLICY_FIELDS if name in data}
        if flat:
            policy = data.get("policy") or {}
            if isinstance(policy, OrderPolicy):
                policy = dataclasses.asdict(policy)
            data["policy"] = {**policy, **flat}
        return data

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, _PolicyVariables(env_settings), env_settings,
                _PolicyVariables(dotenv_settings), dotenv_settings, file_secret_settings)

    def with_policy(self, **changes: Any) -> Settings:
        """These settings with some of the policy's durations changed."""
        return self.model_copy(update={"policy": dataclasses.replace(self.policy, **changes)})

    def order_policy(self) -> OrderPolicy:
        """The policy a new order starts with."""
        return dataclasses.replace(self.policy, send_email=self.smtp_url is not None)


POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(OrderPolicy)) - {"send_email"}
DURATION_FIELDS = frozenset(name for name, field in Settings.model_fields.items()
                            if field.annotation is timedelta)
_SECONDS = re.compile(r"\s*\d+(\.\d+)?\s*")


def _plain_seconds(value: Any) -> Any:
    return float(value) if isinstance(value, str) and _SECONDS.fullmatch(value) else value


class _PolicyVariables(PydanticBaseSettingsSource):
    """The policy's OMS_* variables from an environment source, which reads only the variables
    of declared fields by itself."""

    def __init__(self, source: EnvSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self._source = source

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prefix = (self._source.env_prefix or "").lower()
        variables = self._source.env_vars
        return {name: variables[prefix + name] for name in POLICY_FIELDS
                if variables.get(prefix + name) is not None}


def chain_token_addresses(text: str) -> dict[str, str]:
    """`USDC=0x...,EURC=0x...` as {currency: checksummed address}; ValueError says what is
    wrong (the setting's name is added where it is reported)."""
    tokens: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        currency, _, address = (side.strip() for side in entry.partition("="))
        if not re.fullmatch(r"[A-Z]{3,10}", currency) or not address:
            raise ValueError(f"{entry!r} is not CURRENCY=0xADDRESS "
                             "(an upper-case currency code, e.g. USDC=0x...)")
        if currency in tokens:
            raise ValueError(f"names {currency} twice")
        try:
            tokens[currency] = checksummed(address)
        except ValueError as err:
            raise ValueError(f"{currency}: {err}") from None
    if len(set(tokens.values())) < len(tokens):
        raise ValueError("gives one token to two currencies")
    return tokens


def rate_limit_storage_uri(uri: str) -> str:
    """The asynchronous variant of a `limits` storage URI (memory://, redis://...), so a
    shared storage never blocks the event loop."""
    return uri if uri.startswith("async+") else f"async+{uri}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


# ---- what an operator sees when the settings are wrong ----------------------------------------

# Variables of the test suite, not of oms.
_NOT_SETTINGS = ("OMS_TEST_",)


def known_variables() -> frozenset[str]:
    """Every OMS_* variable oms reads."""
    fields = set(Settings.model_fields) - {"policy"}
    return frozenset(f"OMS_{name.upper()}" for name in fields | POLICY_FIELDS)


def unknown_variable_warnings(environ: Mapping[str, str]) -> list[str]:
    """A line for each OMS_* variable oms does not read, with the closest one it does: a
    misspelled setting is otherwise silently ignored."""
    known = known_variables()
    lines = []
    for name in sorted(environ):
        if not name.startswith("OMS_") or name in known or name.startswith(_NOT_SETTINGS):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        lines.append(f"warning: {name} is not a setting of oms and is ignored{hint}")
    return lines


def problems(err: ValidationError) -> list[str]:
    """One line per wrong setting, naming its variable and what it expects."""
    lines = []
    for e in err.errors():
        loc = [str(part) for part in e["loc"]]
        if loc and loc[0] == "policy":
            loc = loc[1:]  # the policy's fields are set with flat names
        name = f"OMS_{loc[0].upper()}" if loc else None
        lines.append(f"{name}: {_expected(e)}" if name else _expected(e))
    return lines


def _expected(error: Any) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "string_too_short":
        return f"must be at least {ctx['min_length']} characters"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        words = {"greater_than_equal": "at least", "less_than_equal": "at most",
                 "greater_than": "more than", "less_than": "less than"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {words} {_human(bound)}"
    if kind in ("time_delta_parsing", "time_delta_type"):
        return "must be a duration in seconds or ISO 8601 (e.g. 30, PT15M, P7D)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"].replace("Input should be", "must be").replace("Value error, ", "")


def _human(bound: Any) -> str:
    if isinstance(bound, timedelta):
        return f"{bound.total_seconds():g} s"
    return str(bound)


_warned: list[bool] = []


def load_or_exit(program: str) -> Settings:
    """The settings, after warning of unknown variables (once per process); wrong ones print
    a line each and end the program (status 2) instead of a traceback."""
    if not _warned:
        _warned.append(True)
        for line in unknown_variable_warnings(os.environ):
            print(f"{program}: {line}", file=sys.stderr)
    try:
        return get_settings()
    except ValidationError as err:
        for line in problems(err):
            print(f"{program}: {line}", file=sys.stderr)
        raise SystemExit(2) from None
