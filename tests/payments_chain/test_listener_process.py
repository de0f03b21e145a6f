"""`oms chain-listen` as a process: a line and status 2 without a chain or with a wrong
setting of its own, delivering from a real anvil to the inbox, and stopping cleanly on SIGTERM
and SIGINT; its service in the compose file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from db import tables as t
from tests.chain import CHAIN_ID
from tests.payments_chain.escrows import fund
from tests.payments_chain.fixtures import CONFIRMATIONS
from tests.payments_chain.listening import key
from tests.polling import eventually
from tests.unit.test_compose import command, service

ROOT = Path(__file__).resolve().parents[2]


def _environment(**settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMS_")}
    return {**env, **settings}


def _oms(tmp_path: Path, env: dict[str, str], *args: str, **popen) -> subprocess.Popen:
    # From an empty folder, so no .env is read.
    return subprocess.Popen([sys.executable, "-m", "oms.cli", *args], cwd=tmp_path, env={
        **env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, **popen)


def test_without_a_chain_it_says_so_in_one_line_and_exits_2(tmp_path):
    proc = _oms(tmp_path, _environment(), "chain-listen")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out.strip().splitlines() == [
        "oms chain-listen: no chain is configured: set OMS_CHAIN_RPC_URL and the other "
        "OMS_CHAIN_* settings (README, Where the money comes from)"]


@pytest.mark.parametrize(("name", "value", "line"), [
    ("OMS_CHAIN_START_BLOCK", "-1", "OMS_CHAIN_START_BLOCK: must be at least 0"),
    ("OMS_CHAIN_START_BLOCK", "latest", "OMS_CHAIN_START_BLOCK: must be a valid integer"),
    ("OMS_CHAIN_POLL_SECONDS", "0", "OMS_CHAIN_POLL_SECONDS: must be more than 0"),
])
def test_a_wrong_listener_setting_is_one_line(tmp_path, name, value, line):
    proc = _oms(tmp_path, _environment(**{name: value}), "chain-listen")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert line in out.splitlines()[0], out


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
async def test_it_delivers_from_the_chain_and_stops_cleanly_on_a_signal(
        tmp_path, chain, db, sqlite_url, temporal_address, stop):
    env = _environment(
        OMS_DATABASE_URL=sqlite_url, OMS_TEMPORAL_ADDRESS=temporal_address,
        OMS_CHAIN_RPC_URL=chain.url, OMS_CHAIN_ID=str(CHAIN_ID),
        OMS_CHAIN_TOKENS=f"USDC={chain.token.address}",
        OMS_ESCROW_CONTRACT=chain.escrow.address, OMS_RECEIVING_ADDRESS=chain.arbiter.address,
        OMS_CHAIN_SIGNER_KEY=chain.arbiter.key.hex(), OMS_CHAIN_POLL_SECONDS="0.1")
    proc = _oms(tmp_path, env, "chain-listen", start_new_session=True)
    try:
        escrow_id = await fund(chain)
        await chain.mine(CONFIRMATIONS - 1)

        async def kept():
            # No order has this escrow: the event waits in the inbox for it.
            async with db.reader.connect() as conn:
                status = (await conn.execute(select(t.webhook_events.c.status).where(
                    t.webhook_events.c.event_id == key(escrow_id)))).scalar()
            assert status == "pending"
            return True

        await eventually(kept, timeout=30)
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "listening to the escrow contract" in out and "chain listener stopping" in out
    assert "Traceback" not in out, out


def test_compose_runs_the_listener_from_the_workers_image_when_asked():
    listen, worker = service("chain-listen"), service("worker")
    assert command(listen) == ["oms", "chain-listen"]
    assert (listen["image"], listen["build"]) == (worker["image"], worker["build"])
    assert listen["profiles"] == ["chain"]
    assert listen["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
