"""`oms dev`: the whole stack on the embedded defaults, stopped cleanly with Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

from api.auth import PERSON_TOKEN_LIFETIME, Role, Scope, mint_token
from db.engine import create_database
from db.migrate import upgrade
from oms import dev_chain, processes
from oms.dev_stripe import register_webhook
from oms.seed import (
    DEMO_BUYER,
    DEMO_OPERATOR,
    DEMO_SELLER,
    DEMO_SHIPPING_SYSTEM,
    DEMO_SUPPORT,
    seed_demo,
)
from oms.settings import Settings
from webhooks.card_events import SUBSCRIBED_EVENTS


def run_dev_stack(settings: Settings) -> int:
    # Two stacks on one data folder would run two Temporal servers on one database file,
    # which corrupts it: the folder is locked for as long as this stack runs.
    lock = _lock_data_folder(settings.data_dir)
    if lock is None:
        return 2
    with lock:
        return _run_dev_stack(settings)


LOCK_FILE = "oms-dev.lock"


def _lock_data_folder(data: Path) -> IO[str] | None:
    data.mkdir(parents=True, exist_ok=True)
    lock = open(data / LOCK_FILE, "a+")  # held, not closed, for the stack's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        print(f"oms dev: another stack (pid {holder}) is running on the data folder {data}/; "
              "stop it, or give this one a folder of its own with OMS_DATA_DIR (and "
              "OMS_DATABASE_URL)", file=sys.stderr)
        return None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _run_dev_stack(settings: Settings) -> int:
    host, _, port_text = settings.temporal_address.rpartition(":")
    temporal_port = int(port_text)
    ports = {
        "Temporal (gRPC)": temporal_port,
        "Temporal Web UI": settings.temporal_ui_port,
        "API": settings.api_port,
        "worker metrics": settings.worker_metrics_port,
        "Temporal SDK metrics": settings.temporal_metrics_port,
        # The dev Stripe runs here unless OMS_STRIPE_API_BASE names a Stripe elsewhere.
        "Stripe (localstripe)": settings.stripe_port if settings.stripe_is_local else 0,
        # The local chain runs here unless OMS_CHAIN_RPC_URL names a chain elsewhere.
        "chain (anvil)": settings.dev_chain_port if _runs_a_chain(settings) else 0,
    }
    busy = [f"  {name}: port {port}" for name, port in ports.items()
            if port and processes.port_in_use(port)]
    if busy:
        print("oms dev: these ports are already in use:\n" + "\n".join(busy), file=sys.stderr)
        print("Stop whatever holds them (another `make run`?), or choose others with "
              "OMS_TEMPORAL_ADDRESS, OMS_TEMPORAL_UI_PORT, OMS_API_PORT, "
              "OMS_WORKER_METRICS_PORT, OMS_TEMPORAL_METRICS_PORT, OMS_STRIPE_API_BASE and "
              "OMS_DEV_CHAIN_PORT.",
              file=sys.stderr)
        return 2

    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen] = []
    stopping = False

    def on_signal(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        temporal = processes.spawn(
            processes.temporal_dev_server_args(temporal_port, ui_port=settings.temporal_ui_port,
                                               db_file=data / "temporal.db",
                                               codec_endpoint=_codec_endpoint(settings)),
            log=data / "temporal.log",
        )
        children.append(temporal)
        if settings.stripe_is_local:
            # Its state beside Temporal's, so orders paid before a restart still verify.
            localstripe = processes.spawn(
                processes.localstripe_args(settings.stripe_port,
                                           state_file=data / "localstripe.pickle"),
                log=data / "localstripe.log",
            )
            children.append(localstripe)
            processes.wait_for_port(settings.stripe_port, localstripe, timeout=30)
            # localstripe forgets its webhook endpoints when it stops: subscribe the API again.
            register_webhook(settings.stripe_api_base, "oms", _stripe_webhook_url(settings),
                             settings.stripe_webhook_secret, SUBSCRIBED_EVENTS)
        # The web front's sign-in offers a button per demo user, on loopback only.
        env = dict(os.environ)
        if settings.api_host in ("127.0.0.1", "localhost", "::1"):
            env.setdefault("OMS_WEB_DEMO_SIGN_IN", "true")
        chain = None
        if _runs_a_chain(settings):
            anvil = processes.spawn(
                dev_chain.anvil_args(dev_chain.anvil_binary(), settings.dev_chain_port,
                                     state_file=data / "anvil-state.json"),
                log=data / "anvil.log")
            children.append(anvil)
            processes.wait_for_port(settings.dev_chain_port, anvil, timeout=30)
            chain = asyncio.run(dev_chain.ensure_deployed(
                f"http://127.0.0.1:{settings.dev_chain_port}", data))
            env.update(chain.settings_env())  # the worker and the API pay on it
        elif not settings.chain_rpc_url:
            print("oms dev: no local chain: node_modules/ is missing (install Node.js 20+ and "
                  "run `npm ci`), so crypto and escrow orders cannot be paid", file=sys.stderr)
        processes.wait_for_port(temporal_port, temporal, timeout=60)
        upgrade(settings.database_url)
        asyncio.run(_seed(settings, chain))
        # The escrow contract's events reach the orders through the listener, on any chain.
        parts = (("worker", "chain-listen", "api") if chain or settings.chain_rpc_url
                 else ("worker", "api"))
        for name in parts:
            children.append(processes.spawn([sys.executable, "-m", "oms.cli", name], env=env,
                                            inherit_output=True))
        processes.wait_for_port(settings.api_port, children[-1], timeout=60)
        _wait_until_healthy(f"{_local_api(settings)}/health", children, timeout=60)
        print(_banner(settings), flush=True)
        next_block = time.monotonic()
        while not stopping:
            if any(child.poll() is not None for child in children):
                print("oms dev: a component exited; stopping the rest (the logs of Temporal, "
                      f"localstripe and anvil are in {data}/)", file=sys.stderr)
                return 1
            if chain and time.monotonic() >= next_block:
                next_block = time.monotonic() + dev_chain.CONFIRMING_EVERY_SECONDS
                # A node that misses a beat only delays a confirmation by a second.
                with contextlib.suppress(OSError, ValueError, RuntimeError):
                    dev_chain.mine_toward_confirmations(chain.rpc_url,
                                                        settings.chain_confirmations)
            time.sleep(0.2)
        return 0
    except (RuntimeError, TimeoutError, OSError) as err:  # OSError: the chain did not answer
        print(f"oms dev: could not start: {err}", file=sys.stderr)
        return 1
    finally:
        print("oms dev: stopping", file=sys.stderr)
        for child in reversed(children):  # API, listener, worker, anvil, localstripe, Temporal
            processes.stop(child)


def _local_api(settings: Settings) -> str:
    """The API as this machine's browser and localstripe reach it."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def _stripe_webhook_url(settings: Settings) -> str:
    return f"{_local_api(settings)}/api/webhooks/stripe"


def _codec_endpoint(settings: Settings) -> str:
    """The API's codec server as the browser showing the Temporal UI reaches it."""
    return f"{_local_api(settings)}/codec"


def _runs_a_chain(settings: Settings) -> bool:
    """The stack starts its own chain unless one is configured, if npm installed anvil."""
    return not settings.chain_rpc_url and dev_chain.anvil_binary() is not None


async def _seed(settings: Settings, chain: dev_chain.DevChain | None) -> None:
    """The demo users and listings; with the dev chain, the demo buyer's and seller's wallets
    (the buyer's is funded)."""
    accounts = dev_chain.role_accounts()
    wallets = ({DEMO_BUYER: accounts["buyer"].address, DEMO_SELLER: accounts["seller"].address}
               if chain else {})
    db = create_database(settings.database_url)
    try:
        await seed_demo(db, wallets)
    finally:
        await db.dispose()


def _wait_until_healthy(url: str, children: list[subprocess.Popen], *, timeout: float) -> None:
    """The banner means ready: the API answers /health with 200 (its database and Temporal
    reachable), which can take a few seconds more than its port opening."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, ValueError):
            pass  # 503 (HTTPError is an OSError) or not answering yet
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a component exited while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


def _chain_line(settings: Settings) -> str:
    if settings.chain_rpc_url:
        return settings.chain_rpc_url
    if not _runs_a_chain(settings):
        return "none (crypto and escrow orders cannot be paid: `npm ci` installs a local one)"
    return (f"http://127.0.0.1:{settings.dev_chain_port} (anvil, "
            f"{settings.chain_confirmations} confirmations in about as many seconds: "
            "`oms pay crypto --amount 100` and `oms pay escrow --amount 100` pay from "
            f"{DEMO_BUYER}'s wallet)")


def _banner(settings: Settings) -> str:
    api = f"http://{settings.api_host}:{settings.api_port}"

    def mint(sub: str, role: Role = Role.USER, scopes: tuple[Scope, ...] = ()) -> str:
        return mint_token(settings.jwt_secret, sub, role, scopes=scopes,
                          issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    tokens = {
        f"buyer    ({DEMO_BUYER})": mint(DEMO_BUYER),
        f"seller   ({DEMO_SELLER})": mint(DEMO_SELLER),
        f"operator ({DEMO_OPERATOR})": mint(DEMO_OPERATOR, Role.OPERATOR),
        f"support  ({DEMO_SUPPORT}, read-only)": mint(DEMO_SUPPORT, Role.SUPPORT),
        f"carrier  ({DEMO_SHIPPING_SYSTEM}, shipping:report)": mint(
            DEMO_SHIPPING_SYSTEM, Role.INTEGRATION, (Scope.SHIPPING_REPORT,)),
    }
    lines = [
        "",
        "oms is running. Ctrl-C stops everything.",
        f"  Web front    {api}/app/ (sign in as a demo user with one click)",
        f"  API docs     {api}/docs",
        f"  Health       {api}/health",
        f"  Temporal UI  http://127.0.0.1:{settings.temporal_ui_port}",
        f"  Live updates ws://{settings.api_host}:{settings.api_port}/api/ws?token=<token>",
        f"  Metrics      {api}/metrics (API), http://{settings.metrics_host}:"
        f"{settings.worker_metrics_port}/metrics (orders), http://{settings.metrics_host}:"
        f"{settings.temporal_metrics_port}/metrics (Temporal SDK)",
        f"  Stripe API   {settings.stripe_api_base}"
        + (" (localstripe: `oms pay fiat --buyer buyer123 --amount 200` pays with a test card)"
           if settings.stripe_is_local else ""),
        f"  Chain        {_chain_line(settings)}",
        f"  Data         {settings.data_dir}/ (SQLite read model, Temporal and Stripe state)",
        "",
        "Tokens (export one as TOKEN and send 'Authorization: Bearer $TOKEN'; people's last "
        f"{PERSON_TOKEN_LIFETIME.total_seconds() / 3600:.0f} h, `oms token` mints more):",
        *(f"  {who}: {token}" for who, token in tokens.items()),
        "",
    ]
    return "\n".join(lines)
