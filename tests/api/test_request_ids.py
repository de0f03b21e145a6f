"""A request id on every response and on the log lines it causes, in the API and in the
worker; tokens never written to a log."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import websockets

from api.auth import mint_token
from oms import logs
from oms.processes import free_port, spawn, stop, wait_for_port
from tests.conftest import JWT_SECRET, bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually


@contextlib.contextmanager
def json_log_lines(caplog) -> Iterator[list[dict]]:
    """Every line logged meanwhile, as oms.logs writes it with OMS_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    caplog.set_level(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


async def test_a_request_id_is_echoed_or_made(api):
    given = await api.get("/health", headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["x-request-id"] == "trace-42.a"
    made = await api.get("/health")
    assert len(made.headers["x-request-id"]) == 32
    # An id that could forge log lines or fill them is replaced.
    odd = await api.get("/health", headers={"X-Request-ID": "a\" b" + "x" * 200})
    assert len(odd.headers["x-request-id"]) == 32


async def test_an_order_can_be_followed_from_the_request_to_the_worker(api, session_db,
                                                                      caplog):
    seller, buyer = unique("seller"), unique("buyer")
    listing = await seed_listing(session_db, seller_id=seller)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing)
    rid = unique("req")
    with json_log_lines(caplog) as lines:
        created = await api.post("/api/orders", json=body,
                                 headers={**bearer(buyer), "X-Request-ID": rid})
        assert created.status_code == 201, created.text
        order_id = created.json()["order"]["id"]
        changed = await api.put(f"/api/orders/{order_id}/status",
                                json={"status": "order_confirmed"},
                                headers={**bearer(seller), "X-Request-ID": rid + "-2"})
        assert changed.status_code == 200, changed.text
    assert {"time", "level", "logger", "message", "request_id", "order_id"} <= set(lines[0])
    ours = [line for line in lines if line["request_id"] == rid]
    # The workflow noted the command's request, and the activities it caused carry it.
    assert any(line["logger"] == "temporalio.workflow" for line in ours), lines
    written = [line for line in ours if "written as" in line["message"]]
    assert written and written[0]["order_id"] == order_id, lines
    assert any(line["request_id"] == rid + "-2" and line["order_id"] == order_id
               for line in lines), lines


@pytest.fixture
def api_process(tmp_path) -> Iterator[tuple[str, subprocess.Popen, object]]:
    """`oms api` as an operator runs it, logging JSON to a file."""
    port = free_port()
    log_path = tmp_path / "api.log"
    env = {**os.environ, "OMS_API_PORT": str(port), "OMS_LOG_FORMAT": "json",
           "OMS_JWT_SECRET": JWT_SECRET,
           "OMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'oms.db'}",
           "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    subprocess.run([sys.executable, "-m", "oms.cli", "migrate"], env=env, cwd=tmp_path,
                   check=True, capture_output=True)
    proc = spawn([sys.executable, "-m", "oms.cli", "api"], env=env, log=log_path)
    try:
        wait_for_port(port, proc, timeout=30)
        yield f"127.0.0.1:{port}", proc, log_path
    finally:
        stop(proc)


async def test_tokens_in_urls_never_reach_the_log(api_process):
    address, proc, log_path = api_process
    token = mint_token(JWT_SECRET, "buyer-redact")
    async with websockets.connect(f"ws://{address}/api/ws?token={token}"):
        pass
    async with httpx.AsyncClient() as http:
        await http.get(f"http://{address}/health?token={token}",
                       headers={"X-Request-ID": "redact-1"})

    def logged() -> list[dict]:
        lines = [json.loads(line) for line in log_path.read_text().splitlines()]
        return lines if any(line["request_id"] == "redact-1" for line in lines) else []

    lines = await eventually(logged)
    text = log_path.read_text()
    assert token not in text and token.split(".")[-1] not in text
    assert sum("token=[redacted]" in line["message"] for line in lines) >= 2, text
    # The access log line of a request carries its id.
    assert any(line["logger"] == "uvicorn.access" and line["request_id"] == "redact-1"
               for line in lines), text
