"""The stack the chaos tests break: PostgreSQL, a persisted Temporal dev server, two workers and
the API, each a real process that can be killed, stopped and started again on the same port.

localstripe (the session's, tests/conftest.py) is left alone: it is the payment provider, not
part of the service. Everything here is a child of the test process and is stopped on the way
out (`running_stack`), whatever the test did to it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from db.migrate import upgrade
from oms import processes
from tests import servers

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "chaos-secret-0123456789abcdef0123456789abcdef"


class Service:
    """One process of the stack, started again on the same port after a kill or a stop."""

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None, log: Path,
                 port: int | None = None) -> None:
        self.name, self.args, self.env, self.log, self.port = name, args, env, log, port
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        with self.log.open("a") as out:
            out.write(f"\n--- {self.name} started at {time.strftime('%H:%M:%S')} ---\n")
        self.proc = processes.spawn(self.args, env=self.env, log=self.log)
        if self.port is not None:
            processes.wait_for_port(self.port, self.proc, timeout=timeout)

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, as a crash or the OOM killer does it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc)


class Postgres:
    """A throwaway cluster whose server can be stopped and started again, as an outage does."""

    def __init__(self) -> None:
        bin_dir = servers.postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb) found")
        self._bin = bin_dir
        # Not under pytest's tmp_path: as root, that is a folder the server's user cannot enter.
        self.data = Path(tempfile.mkdtemp(prefix="oms-chaos-pg-"))
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            name = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(name)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", name, "--"]
        self.port = processes.free_port()
        self._cluster = self.data / "cluster"
        self._pg("initdb", "-D", str(self._cluster), "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C")

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c max_connections=300")
        self._pg("pg_ctl", "-D", str(self._cluster), "-o", options, "-l",
                 str(self.data / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once, as a failover or a crashed server does."""
        self._pg("pg_ctl", "-D", str(self._cluster), "-m", mode, "-w", "stop", check=False)

    def _pg(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run([*self._as_user, str(self._bin / tool), *args], check=check,
                       capture_output=True, timeout=60)


@dataclass
class ChaosStack:
    postgres: Postgres
    temporal: Service
    workers: list[Service]
    api: Service
    database_url: str
    temporal_address: str
    task_queue: str
    logs: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"


@contextlib.contextmanager
def running_stack(workdir: Path, *, stripe_api_base: str, worker_env: dict[str, str]
                  ) -> Iterator[ChaosStack]:
    """The whole stack on loopback; `worker_env` adds settings for the workers only."""
    with contextlib.ExitStack() as cleanup:
        postgres = Postgres()
        cleanup.callback(shutil.rmtree, postgres.data, ignore_errors=True)
        cleanup.callback(postgres.stop, "immediate")
        postgres.start()
        database_url = servers.create_database(postgres.base_url, "oms_chaos")
        upgrade(database_url)
        temporal_port = processes.free_port()
        temporal = Service("temporal", processes.temporal_dev_server_args(
            temporal_port, db_file=workdir / "temporal.db"), None, workdir / "temporal.log",
            temporal_port)
        temporal.start()
        cleanup.callback(temporal.stop)
        address = f"127.0.0.1:{temporal_port}"
        task_queue = f"orders-chaos-{uuid.uuid4().hex[:8]}"
        # Only our OMS_* settings: one left in the shell would change what is tested.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        env.update({
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "OMS_DATABASE_URL": database_url, "OMS_TEMPORAL_ADDRESS": address,
            "OMS_TASK_QUEUE": task_queue, "OMS_JWT_SECRET": JWT_SECRET,
            "OMS_STRIPE_API_BASE": stripe_api_base, "OMS_API_HOST": "127.0.0.1",
            "OMS_WORKER_METRICS_PORT": "0", "OMS_TEMPORAL_METRICS_PORT": "0",
            # A command no worker answers (all killed) is a 503 the client retries, soon.
            "OMS_TEMPORAL_RPC_TIMEOUT": "PT10S",
            "OMS_CHAIN_STAND_IN": "true",  # its crypto orders carry made-up hashes
        })
        python = sys.executable
        workers = [Service(f"worker-{n}", [python, "-m", "oms.cli", "worker"],
                           {**env, **worker_env}, workdir / f"worker-{n}.log") for n in (1, 2)]
        for worker in workers:
            worker.start()
            cleanup.callback(worker.stop)
        api_port = processes.free_port()
        api = Service("api", [python, "-m", "oms.cli", "api"],
                      {**env, "OMS_API_PORT": str(api_port)}, workdir / "api.log", api_port)
        api.start()
        cleanup.callback(api.stop)
        yield ChaosStack(postgres, temporal, workers, api, database_url, address, task_queue,
                         workdir)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
