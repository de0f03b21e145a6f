"""`python -m bench.workflow_load_bench`: what a worker pays to load an order it no longer
holds in its cache, with and without its two start-up measures.

A worker that meets an event for an order outside its cache builds a new workflow instance in
a fresh sandbox (which imports the workflow's module again), with a new payload converter, and
replays the order's history. `temporalio.worker.Replayer` does exactly that for each history
it is given, without a server, so this bench replays a recorded history in turns three ways:

  shipped        the worker as it runs: the workflow modules' bytecode on disk
                 (worker.ensure_workflow_bytecode) and workflows.converter's one TypeAdapter
                 cache per process
  no bytecode    the same, with Python looking for bytecode in an empty directory and not
                 writing any (an editable install under PYTHONDONTWRITEBYTECODE)
  sdk converter  the SDK's pydantic converter, whose TypeAdapter cache lives in each
                 converter, so in each workflow instance
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from bench.latency import compare
from worker import ensure_workflow_bytecode
from workflows.converter import data_converter
from workflows.order_workflow import OrderWorkflow

HISTORIES = Path(__file__).parent.parent / "tests" / "histories"


def replay(history: WorkflowHistory, converter: DataConverter, *, pycache: str | None):
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=converter)

    async def run() -> None:
        previous = sys.pycache_prefix
        sys.pycache_prefix = pycache
        try:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
        finally:
            sys.pycache_prefix = previous
        assert result.replay_failure is None
    return run


async def measure(args: argparse.Namespace) -> None:
    path = HISTORIES / f"{args.history}.json"
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    sys.dont_write_bytecode = True  # the "no bytecode" side must not leave any behind
    ensure_workflow_bytecode()
    with tempfile.TemporaryDirectory(prefix="oms-no-pyc-") as empty:
        names = ["shipped", "no bytecode", "sdk converter"]
        shipped, source, sdk = await compare(
            [replay(history, data_converter, pycache=None),
             replay(history, data_converter, pycache=empty),
             replay(history, pydantic_data_converter, pycache=None)],
            repeat=args.repeat, warmup=args.warmup, budget=args.budget)
    print(f"history {path.stem} ({len(history.events)} events), ms per replay, "
          f"n = {shipped.n}")
    print(f"{'side':14} {'p50':>7} {'p99':>7} {'mean':>7} {'p50 vs shipped':>15}")
    for name, s in zip(names, (shipped, source, sdk), strict=True):
        print(f"{name:14} {s.p50 * 1000:7.2f} {s.p99 * 1000:7.2f} {s.mean * 1000:7.2f} "
              f"{(s.p50 - shipped.p50) * 1000:+13.2f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workflow_load_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", default="v3_carrier_and_escrow_events",
                        help="a file name under tests/histories, without .json")
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=float, default=120.0)
    asyncio.run(measure(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
