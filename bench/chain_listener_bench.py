"""`python -m bench.chain_listener_bench`: the escrow event listener against a real anvil and
the real stack (Temporal dev server, the API and the worker as processes, SQLite).

  throughput  N escrows funded in one block, an escrow order created for each (all waiting in
              `payment_pending`: the orders' own rechecks are an hour away), then the block
              confirmed: one listener poll turns the N EscrowCreated logs into N signals
              through the inbox; timed to the poll's end (signals stored by Temporal) and to
              the last order showing `escrow_locked` in the read model
  latency     anvil mining a block every second (`evm_setIntervalMining 1`), the listener
              polling every OMS_CHAIN_POLL_SECONDS: an escrow funded and its order created, then
              the time from the block that gives the escrow its last confirmation (seen with
              eth_blockNumber every 10 ms) to GET /api/orders/{id} showing `escrow_locked`

Loopback only; everything stops on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select
from web3 import AsyncHTTPProvider, AsyncWeb3

from api.auth import mint_token
from bench.stack import BUYER, JWT_SECRET, SELLER, running_stack
from chain_events.listener import ChainListener
from chain_events.service import listen
from chain_events.sink import InboxSink
from db import reference_repo
from db import tables as t
from db.engine import create_database
from oms.settings import Settings
from oms.temporal import connect
from tests.chain import (
    BUYER_FUNDS,
    CHAIN_ID,
    Chain,
    anvil,
    anvil_binary,
    artifact,
    deploy,
    role_accounts,
)
from tests.factories import checkout_body
from tests.payments_chain.escrows import WEEK

CONFIRMATIONS = 3
UNITS = 200_000_000  # checkout_body: 2 x 100 USDC


def chain_settings(chain: Chain) -> dict[str, str]:
    return {"OMS_CHAIN_RPC_URL": chain.url, "OMS_CHAIN_ID": str(CHAIN_ID),
            "OMS_CHAIN_TOKENS": f"USDC={chain.token.address}",
            "OMS_ESCROW_CONTRACT": chain.escrow.address,
            "OMS_RECEIVING_ADDRESS": chain.arbiter.address,
            "OMS_CHAIN_SIGNER_KEY": chain.arbiter.key.hex(),
            "OMS_CHAIN_CONFIRMATIONS": str(CONFIRMATIONS)}


async def _deploy(url: str) -> tuple[str, str]:
    """The stablecoin and the escrow deployed, the buyer funded: their addresses."""
    w3 = AsyncWeb3(AsyncHTTPProvider(url))
    accounts = role_accounts()
    try:
        token = await deploy(w3, "TestStablecoin", accounts["deployer"])
        escrow = await deploy(w3, "Escrow", accounts["deployer"], accounts["arbiter"].address)
        chain = Chain(url=url, w3=w3, accounts=accounts, token=token, escrow=escrow)
        await chain.send(token.functions.mint(chain.buyer.address, BUYER_FUNDS), chain.deployer)
        return token.address, escrow.address
    finally:
        await w3.provider.disconnect()


def _chain(url: str, token: str, escrow: str) -> Chain:
    w3 = AsyncWeb3(AsyncHTTPProvider(url))
    return Chain(url=url, w3=w3, accounts=role_accounts(),
                 token=w3.eth.contract(address=token, abi=artifact("TestStablecoin")["abi"]),
                 escrow=w3.eth.contract(address=escrow, abi=artifact("Escrow")["abi"]))


class Bench:
    def __init__(self, args, chain, stack, db, http: httpx.AsyncClient) -> None:
        self.args, self.chain, self.stack, self.db, self.http = args, chain, stack, db, http
        self.buyer = {"Authorization": f"Bearer {mint_token(JWT_SECRET, BUYER)}"}

    async def wallets(self) -> None:
        async with self.db.transaction() as conn:
            for user_id, account in ((BUYER, self.chain.buyer), (SELLER, self.chain.seller)):
                await reference_repo.upsert_user(conn, user_id, name=user_id,
                                                 email=f"{user_id}@example.com",
                                                 store_name=None,
                                                 wallet_address=account.address)

    async def send_escrow(self, *, mined: bool = False) -> str:
        """Send the buyer's funding of a new escrow (and wait for its block if `mined`)."""
        escrow_id = "0x" + os.urandom(32).hex()
        tx_hash = await self.chain.escrow.functions.create(
            escrow_id, self.chain.seller.address, self.chain.token.address, UNITS,
            await self.chain.now() + WEEK).transact({"from": self.chain.buyer.address})
        if mined:
            await self.chain.w3.eth.wait_for_transaction_receipt(tx_hash)
        return escrow_id

    async def order(self, escrow_id: str, n: int) -> str:
        body = checkout_body(buyer_id=BUYER, seller_id=SELLER,
                             listing_id=self.stack.listings[n % len(self.stack.listings)],
                             method="escrow")
        body["paymentResult"]["escrowId"] = escrow_id
        answer = await self.http.post("/api/orders", json=body, headers=self.buyer)
        if answer.status_code != 201 or answer.json()["order"]["status"] != "payment_pending":
            raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:300]}")
        return answer.json()["order"]["id"]

    async def throughput(self, listener: ChainListener) -> None:
        n, chain = self.args.escrows, self.chain
        await chain.send(chain.token.functions.approve(chain.escrow.address, UNITS * n),
                         chain.buyer)
        await chain.rpc("evm_setAutomine", False)
        await chain.rpc("evm_setBlockGasLimit", hex(2_000_000_000))
        ids = [await self.send_escrow() for _ in range(n)]
        await chain.mine(1)
        await chain.rpc("evm_setAutomine", True)
        gate = asyncio.Semaphore(16)

        async def one(i: int, escrow_id: str) -> str:
            async with gate:
                return await self.order(escrow_id, i)

        started = time.perf_counter()
        orders = await asyncio.gather(*(one(i, e) for i, e in enumerate(ids)))
        print(f"setup: {n} escrows in one block, {n} orders payment_pending in "
              f"{time.perf_counter() - started:.1f} s")
        await chain.mine(CONFIRMATIONS - 1)
        started = time.perf_counter()
        delivered = await listener.poll()
        signalled = time.perf_counter() - started
        while await self.locked(orders) < n:  # noqa: ASYNC110 - another process's writes
            await asyncio.sleep(0.05)
        applied = time.perf_counter() - started
        assert delivered == n, delivered
        print(f"throughput: {n} confirmed events signalled in {signalled:.2f} s "
              f"({n / signalled:.0f} signals/s); all {n} orders escrow_locked in the read "
              f"model after {applied:.2f} s ({n / applied:.0f} orders/s)")

    async def locked(self, orders: list[str]) -> int:
        async with self.db.reader.connect() as conn:
            return (await conn.execute(select(func.count()).where(
                t.orders.c.id.in_(orders), t.orders.c.status == "escrow_locked"))).scalar_one()

    async def latency(self, settings: Settings) -> None:
        chain = self.chain
        await chain.send(chain.token.functions.approve(chain.escrow.address,
                                                       UNITS * self.args.samples), chain.buyer)
        await chain.rpc("evm_setIntervalMining", 1)
        stop = asyncio.Event()
        listening = asyncio.create_task(listen(settings, stop))
        samples = []
        try:
            for i in range(self.args.samples):
                escrow_id = await self.send_escrow(mined=True)
                order_id = await self.order(escrow_id, i)
                created = await self.created_block(escrow_id)
                confirming = created + CONFIRMATIONS - 1
                while await chain.w3.eth.block_number < confirming:  # noqa: ASYNC110 - the node
                    await asyncio.sleep(0.01)
                mined = time.perf_counter()
                while (await self.http.get(  # noqa: ASYNC110 - what a dashboard sees
                        f"/api/orders/{order_id}", headers=self.buyer)
                       ).json()["order"]["status"] != "escrow_locked":
                    await asyncio.sleep(0.01)
                samples.append(time.perf_counter() - mined)
        finally:
            stop.set()
            await listening
            await chain.rpc("evm_setIntervalMining", 0)
        samples.sort()
        print(f"latency over {len(samples)} orders, a block every 1 s, the listener polling "
              f"every {settings.chain_poll_seconds:g} s: p50 {statistics.median(samples):.2f} s, "
              f"p90 {samples[int(len(samples) * 0.9) - 1]:.2f} s, max {samples[-1]:.2f} s")

    async def created_block(self, escrow_id: str) -> int:
        while True:
            logs = await self.chain.escrow.events.EscrowCreated.get_logs(
                from_block=0, argument_filters={"escrowId": escrow_id})
            if logs:
                return logs[-1]["blockNumber"]
            await asyncio.sleep(0.05)


async def _run(args, url: str, contracts: tuple[str, str], stack, database_url: str) -> None:
    chain = _chain(url, *contracts)
    db = create_database(database_url)
    client = await connect(stack.temporal_address)
    settings = Settings(_env_file=None, database_url=database_url,
                        temporal_address=stack.temporal_address,
                        chain_poll_seconds=args.poll_seconds,
                        **{k.removeprefix("OMS_").lower(): v
                           for k, v in chain_settings(chain).items()})
    listener = ChainListener(db, chain.w3, InboxSink(db, client), chain_id=CHAIN_ID,
                             contract=chain.escrow.address, confirmations=CONFIRMATIONS)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
            bench = Bench(args, chain, stack, db, http)
            await bench.wallets()
            await bench.throughput(listener)
            await bench.latency(settings)
    finally:
        await db.dispose()
        await chain.w3.provider.disconnect()


def _bench(args) -> None:
    binary = anvil_binary()
    if binary is None:
        raise SystemExit("anvil is missing: run `npm ci`")
    with anvil(binary) as url:
        contracts = asyncio.run(_deploy(url))
        workdir = Path(tempfile.mkdtemp(prefix="oms-chain-bench-"))
        settings = {**chain_settings(_chain(url, *contracts)),
                    "OMS_PAYMENT_RECHECK_INTERVAL": "PT1H"}
        with running_stack(workdir, listings=10, inventory=1_000_000, log_level="WARNING",
                           settings=settings) as stack:
            asyncio.run(asyncio.wait_for(
                _run(args, url, contracts, stack, f"sqlite+aiosqlite:///{workdir / 'oms.db'}"),
                timeout=900))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--escrows", type=int, default=500)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    _bench(parser.parse_args())


if __name__ == "__main__":
    main()
