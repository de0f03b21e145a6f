"""The production compose file and image, checked against the code they run.

No container engine is needed: the compose file is read as YAML, its `${...}` references are
resolved the way `docker compose` resolves them, and the result is checked against `Settings`,
the `oms` command line and the PostgreSQL init script.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from oms import cli
from oms.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

APP_SERVICES = ("migrate", "api", "worker")
ALL_SERVICES = {"postgres", "temporal", "temporal-ui", *APP_SERVICES}
SETTING_NAMES = {f"OMS_{name.upper()}" for name in Settings.model_fields}

# What the operator exports before `docker compose up`; everything else takes its default.
HOST_ENV = {
    "OMS_JWT_SECRET": "compose-test-secret-0123456789abcdef0123",
    "OMS_SHIPPING_WEBHOOK_SECRET": "compose-test-shipping-secret-0123456789",
    "OMS_ESCROW_WEBHOOK_SECRET": "compose-test-escrow-secret-0123456789ab",
    "OMS_STRIPE_API_KEY": "sk_test_compose0123456789",
    "OMS_STRIPE_WEBHOOK_SECRET": "whsec_compose_test_0123456789abcdef",
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


def published_ports(svc: dict) -> dict[int, int]:
    """published port -> container port."""
    ports = {}
    for entry in svc.get("ports", []):
        if isinstance(entry, dict):
            ports[int(entry["published"])] = int(entry["target"])
            continue
        parts = str(entry).split("/")[0].split(":")
        # "host:container" or "ip:host:container"
        ports[int(parts[-2])] = int(parts[-1])
    return ports


def command(svc: dict) -> list[str]:
    cmd = svc["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_the_stack_has_its_six_services():
    assert ALL_SERVICES <= set(load_compose()["services"])


@pytest.mark.parametrize(("name", "port"), [("api", 8000), ("temporal", 7233),
                                            ("temporal-ui", 8080)])
def test_published_ports(name, port):
    assert published_ports(service(name)).get(port) == port


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
