"""`python -m bench.bare_worker --address HOST:PORT --task-queue NAME`: serves `BareWorkflow`.

A process of its own, like the order worker, so both sides of the comparison pay for a
separate worker process and the client and worker do not share one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from temporalio.worker import Worker

from bench.bare import BareWorkflow, noop
from oms.temporal import connect


async def serve(address: str, task_queue: str) -> None:
    # Same connection (and pydantic data converter) as the order worker, without the payload
    # codec: bare temporalio, whether or not the orders' side encrypts.
    client = await connect(address, payload_keys=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, workflows=[BareWorkflow],
                      activities=[noop]):
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.bare_worker", description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
