"""`oms dev` (what `make run` starts), as a user runs it: real processes, real HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from api.auth import Role, mint_token
from oms.processes import free_port, port_in_use
from tests.factories import checkout_body
from tests.polling import eventually

pytestmark = pytest.mark.e2e
SECRET = "e2e-secret-0123456789abcdef0123456789abcdef"


def _env(tmp_path) -> tuple[dict[str, str], dict[str, int]]:
    ports = {"temporal": free_port(), "ui": free_port(), "api": free_port(),
             "worker_metrics": free_port(), "sdk_metrics": free_port(), "stripe": free_port(),
             "chain": free_port()}
    env = {
        **os.environ,
        "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "OMS_TEMPORAL_UI_PORT": str(ports["ui"]),
        "OMS_API_PORT": str(ports["api"]),
        "OMS_WORKER_METRICS_PORT": str(ports["worker_metrics"]),
        "OMS_TEMPORAL_METRICS_PORT": str(ports["sdk_metrics"]),
        "OMS_STRIPE_API_BASE": f"http://127.0.0.1:{ports['stripe']}",
        "OMS_DATA_DIR": str(tmp_path / "data"),
        "OMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'oms.db'}",
        "OMS_JWT_SECRET": SECRET,
        "OMS_DEV_CHAIN_PORT": str(ports["chain"]),
    }
    return env, ports


def _oms(*args: str) -> list[str]:
    return [sys.executable, "-m", "oms.cli", *args]


def test_the_dev_stack_serves_an_order_and_stops_cleanly(tmp_path):
    env, ports = _env(tmp_path)
    proc = subprocess.Popen(_oms("dev"), env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        banner = _read_until(proc, "Tokens", timeout=90)
        assert f"http://127.0.0.1:{ports['api']}/docs" in banner
        assert f"http://127.0.0.1:{ports['ui']}" in banner
        api = f"http://127.0.0.1:{ports['api']}"
        buyer = {"Authorization": f"Bearer {mint_token(SECRET, 'buyer123')}"}
        seller = {"Authorization": f"Bearer {mint_token(SECRET, 'seller456')}"}
        # The stack's chain: the demo buyer funds an escrow for the demo seller's wallet.
        escrow_id = _pay(env, "escrow", "--amount", "200")
        assert escrow_id.startswith("0x") and len(escrow_id) == 66
        with httpx.Client(base_url=api, timeout=30) as http:
            health = http.get("/health")  # the banner comes once the stack is healthy
            assert health.json()["status"] == "ok", health.text
            body = checkout_body(buyer_id="buyer123", seller_id="seller456",
                                 listing_id="listing789")
            body["paymentResult"]["escrowId"] = escrow_id
            created = http.post("/api/orders", json=body, headers=buyer)
            assert created.status_code == 201, created.text
            order_id = created.json()["order"]["id"]
            moved = http.put(f"/api/orders/{order_id}/status", headers=seller,
                             json={"status": "order_confirmed"})
            assert moved.status_code == 200, moved.text
            details = http.get(f"/api/orders/{order_id}", headers=buyer).json()["order"]
            assert details["seller"]["storeName"] == "Alice's Electronics"  # seeded
            statuses = [e["status"] for e in details["timeline"] if e["status"]]
            assert statuses == ["escrow_locked", "order_confirmed"], details["timeline"]
            # The stack's listener hands the contract's EscrowCreated to the order too, once
            # confirmed (the order is locked already, so it only notes it).
            deadline = time.monotonic() + 30
            while "escrow" not in [e["source"] for e in details["timeline"]]:
                assert time.monotonic() < deadline, f"no chain event: {details['timeline']}"
                time.sleep(0.3)
                details = http.get(f"/api/orders/{order_id}", headers=buyer).json()["order"]
            ops = {"Authorization": f"Bearer {mint_token(SECRET, 'ops1', Role.OPERATOR)}"}
            assert http.get(f"/api/orders/{order_id}", headers=ops).status_code == 200
            assert http.get("/docs").status_code == 200
            # The web front's sign-in page offers the demo users in the dev stack.
            sign_in = http.get("/app/sign-in")
            assert sign_in.status_code == 200 and "buyer123" in sign_in.text, sign_in.text[:500]
        # The Temporal Web UI answers on its port, and the worker serves its metrics.
        assert httpx.get(f"http://127.0.0.1:{ports['ui']}/", timeout=10).status_code == 200
        orders = httpx.get(f"http://127.0.0.1:{ports['worker_metrics']}/metrics", timeout=10)
        assert 'oms_orders_created_total{payment_method="escrow"} 1.0' in orders.text
        sdk = httpx.get(f"http://127.0.0.1:{ports['sdk_metrics']}/metrics", timeout=10)
        assert "temporal_" in sdk.text
        # A crypto transfer from the demo buyer's wallet pays an order at once (the command
        # waits for the confirmations).
        crypto = checkout_body(buyer_id="buyer123", seller_id="seller456", method="crypto",
                               listing_id="listing789", total="100", quantity=1)
        crypto["paymentResult"]["transactionHash"] = _pay(env, "crypto", "--amount", "100")
        with httpx.Client(base_url=api, timeout=30) as http:
            config = http.get("/api/payments/config").json()
            assert config["chain"]["chainId"] == 31337 and config["methods"]["crypto"] == {
                "available": True, "reason": None}
            created = http.post("/api/orders", json=crypto, headers=buyer)
            assert created.status_code == 201, created.text
            assert created.json()["order"]["status"] == "payment_confirmed"
        # The stack's localstripe takes a card payment, as the README's walkthrough starts,
        # and tells the stack's API about it with a signed payment_intent.succeeded.
        paid = subprocess.run(_oms("pay", "fiat", "--buyer", "buyer123", "--amount", "79.98",
                                   "--currency", "USD"),
                              env=env, capture_output=True, text=True, timeout=60)
        assert paid.returncode == 0 and paid.stdout.startswith("pi_"), paid.stderr
        card = checkout_body(buyer_id="buyer123", seller_id="seller456", method="fiat",
                             listing_id="listing790", total="79.98", currency="USD")
        card["paymentResult"]["paymentIntentId"] = paid.stdout.strip()
        with httpx.Client(base_url=api, timeout=30) as http:
            created = http.post("/api/orders", json=card, headers=buyer)
            assert created.status_code == 201, created.text
            assert created.json()["order"]["status"] == "payment_confirmed"
            card_order = created.json()["order"]["id"]

            def told_by_stripe() -> bool:
                details = http.get(f"/api/orders/{card_order}", headers=buyer).json()["order"]
                return "card_processor" in [e["source"] for e in details["timeline"]]
            deadline = time.monotonic() + 30
            while not told_by_stripe():
                assert time.monotonic() < deadline, "localstripe's event never reached the API"
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    for port in ports.values():
        assert not port_in_use(port), f"port {port} still held after Ctrl-C"


@pytest.mark.parametrize("name, component", [("api", "API"),
                                             ("stripe", "Stripe (localstripe)"),
                                             ("chain", "chain (anvil)")])
def test_a_busy_port_gets_a_clear_message_not_a_traceback(tmp_path, name, component):
    env, ports = _env(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[name]))
        holder.listen()
        result = subprocess.run(_oms("dev"), env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 2
    assert f"{component}: port {ports[name]}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_token_command_mints_a_token_the_api_accepts(tmp_path):
    env, _ = _env(tmp_path)
    out = subprocess.run(_oms("token", "--sub", "ops1", "--role", "operator"), env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    from api.auth import decode_token

    principal = decode_token(SECRET, out)
    assert (principal.user_id, principal.role) == ("ops1", Role.OPERATOR)


def _pay(env: dict[str, str], method: str, *args: str) -> str:
    """`oms pay <method>`'s output: a transaction hash or an escrow id."""
    paid = subprocess.run(_oms("pay", method, *args), env=env, capture_output=True, text=True,
                          timeout=120)
    assert paid.returncode == 0, paid.stderr
    return paid.stdout.strip()


def _read_until(proc: subprocess.Popen, marker: str, timeout: float) -> str:
    """The stack's output up to the line with `marker`, read as it comes."""
    seen: list[str] = []
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)

    def marker_seen() -> bool:
        while line := proc.stdout.readline():
            seen.append(line)
            if marker in line:
                return True
        if proc.poll() is not None:  # no point waiting any longer
            raise RuntimeError("dev stack exited:\n" + "".join(seen))
        raise AssertionError("dev stack did not come up:\n" + "".join(seen))

    # The test is synchronous (subprocesses, a blocking HTTP client): one loop for the wait.
    asyncio.run(eventually(marker_seen, timeout=timeout))
    os.set_blocking(proc.stdout.fileno(), True)
    _drain(proc)
    return "".join(seen)


def _drain(proc: subprocess.Popen) -> None:
    """Keep reading the stack's output in the background so its pipe never fills."""
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()


