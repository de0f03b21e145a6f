"""What an operator reads when oms cannot start: the real commands, one line per problem,
naming the variable and what it expects, and never a traceback."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys

import pytest

from oms.devstack import LOCK_FILE
from oms.processes import free_port

pytestmark = pytest.mark.e2e
SECRET = "e2e-secret-0123456789abcdef0123456789abcdef"


def oms(*args: str, tmp_path, **variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMS_")}
    env.update({"OMS_JWT_SECRET": SECRET,
                "OMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'oms.db'}",
                "OMS_DATA_DIR": str(tmp_path / "data"),
                "OMS_WORKER_METRICS_PORT": "0", "OMS_TEMPORAL_METRICS_PORT": "0",
                **variables})
    return subprocess.run([sys.executable, "-m", "oms.cli", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def problem_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("oms")]


def test_each_wrong_setting_is_one_line_naming_its_variable(tmp_path):
    result = oms("worker", tmp_path=tmp_path, OMS_JWT_SECRET="short",
                 OMS_DATABASE_URL="mysql://db/oms", OMS_PAYMENT_TIMEOUT="banana",
                 OMS_API_PORT="99999")
    assert result.returncode == 2
    assert sorted(problem_lines(result)) == [
        "oms worker: OMS_API_PORT: must be at most 65535",
        "oms worker: OMS_DATABASE_URL: must start with sqlite+aiosqlite:// or "
        "postgresql+psycopg://",
        "oms worker: OMS_JWT_SECRET: must be at least 32 characters",
        "oms worker: OMS_PAYMENT_TIMEOUT: must be a duration in seconds or ISO 8601 "
        "(e.g. 30, PT15M, P7D)",
    ]
    assert result.stderr.count("\n") == 4, result.stderr


def test_a_misspelled_variable_is_named_with_the_closest_setting(tmp_path):
    result = oms("migrate", tmp_path=tmp_path, OMS_JWT_SECRTE="x", OMS_PAYMENT_TIMEUOT="60",
                 OMS_COMPLETELY_DIFFERENT="1")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in problem_lines(result) if "warning" in line]
    assert warnings == [
        "oms migrate: warning: OMS_COMPLETELY_DIFFERENT is not a setting of oms and is ignored",
        "oms migrate: warning: OMS_JWT_SECRTE is not a setting of oms and is ignored; did you mean "
        "OMS_JWT_SECRET?",
        "oms migrate: warning: OMS_PAYMENT_TIMEUOT is not a setting of oms and is ignored; did you "
        "mean OMS_PAYMENT_TIMEOUT?",
    ]


def test_an_unreachable_temporal_is_one_line(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    result = oms("worker", tmp_path=tmp_path, OMS_TEMPORAL_ADDRESS=address)
    assert result.returncode == 1
    assert problem_lines(result) == [
        f"oms worker: OMS_TEMPORAL_ADDRESS: cannot reach Temporal at {address}: "
        "Connection refused"]


@pytest.mark.parametrize("command", ["migrate", "seed"])
def test_an_unreachable_database_is_one_line(tmp_path, command):
    url = f"postgresql+psycopg://oms:secret@127.0.0.1:{free_port()}/oms"
    result = oms(command, tmp_path=tmp_path, OMS_DATABASE_URL=url)
    assert result.returncode == 1
    [line] = problem_lines(result)
    assert line.startswith(f"oms {command}: OMS_DATABASE_URL: cannot use the database at "
                           "postgresql+psycopg://oms:***@127.0.0.1:"), line
    assert "Connection refused" in line and "secret" not in line


def test_the_worker_refuses_an_unreachable_database(tmp_path, temporal_address):
    url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'oms.db'}"
    result = oms("worker", tmp_path=tmp_path, OMS_TEMPORAL_ADDRESS=temporal_address,
                 OMS_DATABASE_URL=url)
    assert result.returncode == 1
    [line] = problem_lines(result)
    assert line.startswith("oms worker: OMS_DATABASE_URL: cannot use the database at"), line


@pytest.mark.parametrize(("command", "variable"), [
    ("api", "OMS_API_PORT"), ("worker", "OMS_WORKER_METRICS_PORT")])
def test_a_port_in_use_is_one_line(tmp_path, command, variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = oms(command, tmp_path=tmp_path, **{variable: str(port)})
    assert result.returncode == 1
    assert problem_lines(result) == [
        f"oms {command}: {variable}: port {port} on 127.0.0.1 is already in use; stop what "
        "holds it or choose another"]


def test_a_second_dev_stack_on_the_same_data_folder_is_refused(tmp_path):
    """The lock, not the ports: the second stack asks for ports of its own."""
    data = tmp_path / "data"
    data.mkdir()
    with open(data / LOCK_FILE, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        result = oms("dev", tmp_path=tmp_path,
                     OMS_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
                     OMS_TEMPORAL_UI_PORT=str(free_port()), OMS_API_PORT=str(free_port()),
                     OMS_STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert problem_lines(result) == [
        f"oms dev: another stack (pid 4242) is running on the data folder {data}/; stop it, "
        "or give this one a folder of its own with OMS_DATA_DIR (and OMS_DATABASE_URL)"]
