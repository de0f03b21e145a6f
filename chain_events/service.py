"""`oms chain-listen`: the listener as a process, polling until SIGTERM or SIGINT.

`run(settings)` is the whole program (the CLI calls it, and a dev stack can spawn
`python -m oms.cli chain-listen`); `listen(settings, stop)` is the loop, for a caller that has
an event loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import ClientError
from sqlalchemy.exc import DBAPIError
from temporalio.service import RPCError
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import Web3Exception

from chain_events import NO_CHAIN
from chain_events.listener import ChainListener
from chain_events.sink import InboxSink
from db.engine import create_database
from oms.settings import Settings
from oms.startup import CannotStart, temporal_unreachable
from oms.temporal import connect

log = logging.getLogger("oms.chain")
# What a node, Temporal or the database not answering looks like: a line, and the next poll.
UNAVAILABLE = (ClientError, OSError, TimeoutError, Web3Exception, RPCError, DBAPIError)


def run(settings: Settings) -> int:
    if settings.chain_rpc_url is None:
        print(NO_CHAIN, file=sys.stderr)
        return 2
    try:
        asyncio.run(_until_signalled(settings))
    except CannotStart as err:
        print(f"oms chain-listen: {err}", file=sys.stderr)
        return 1
    return 0


async def _until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await listen(settings, stop)


async def listen(settings: Settings, stop: asyncio.Event) -> None:
    """Poll every OMS_CHAIN_POLL_SECONDS until `stop` is set; a poll under way finishes the
    block range it is in (an interrupted one is delivered again, idempotently, next time)."""
    assert settings.chain_rpc_url and settings.chain_id and settings.escrow_contract
    try:
        client = await connect(settings.temporal_address, settings.temporal_namespace,
                               payload_keys=settings.payload_key_ring)
    except RuntimeError as err:  # the SDK's connect failure: no type of its own
        raise temporal_unreachable(settings.temporal_address, err) from None
    db = create_database(settings.database_url)
    w3 = AsyncWeb3(AsyncHTTPProvider(settings.chain_rpc_url))
    listener = ChainListener(db, w3, InboxSink(db, client), chain_id=settings.chain_id,
                             contract=settings.escrow_contract,
                             confirmations=settings.chain_confirmations,
                             start_block=settings.chain_start_block)
    log.info("listening to the escrow contract %s on chain %d at %s: %d confirmations, "
             "every %g s", settings.escrow_contract, settings.chain_id, settings.chain_rpc_url,
             settings.chain_confirmations, settings.chain_poll_seconds)
    try:
        while not stop.is_set():
            try:
                await listener.poll(stopping=stop.is_set)
            except UNAVAILABLE as err:
                log.warning("poll failed, trying again in %g s: %s: %s",
                            settings.chain_poll_seconds, type(err).__name__, err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.chain_poll_seconds)
        log.info("chain listener stopping")
    finally:
        await w3.provider.disconnect()
        await db.dispose()
