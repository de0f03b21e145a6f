"""`python -m bench.run_bench`: the order API against bare temporalio, on one Temporal server.

Four measurements, each at the same concurrency and over the same number of operations:

  api  create   POST /api/orders over HTTP (uvicorn subprocess) -> update-with-start of the
                order workflow -> the worker subprocess writes the order to SQLite -> answer
  bare create   update-with-start of a trivial workflow whose update waits for its one no-op
                activity, from this process, served by a worker subprocess
  api  update   PUT /api/orders/{id}/status as the seller (order_confirmed, processing,
                ready_to_ship on each fresh order) -> workflow update -> one activity
  bare update   execute_update on a running trivial workflow; the handler runs one no-op
                activity

Each side has a warm-up that is not counted. Every process is a child of this one and is
stopped on exit, Ctrl-C or error; every operation and phase has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import temporalio
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from api.auth import mint_token
from bench import bare, cpu
from bench.load import PhaseResult, Recorder, combine, run_phase
from bench.stack import BUYER, JWT_SECRET, SELLER, Stack, rate_limit_settings, running_stack
from oms import processes
from oms.temporal import connect
from tests.factories import checkout_body

STEPS = ("order_confirmed", "processing", "ready_to_ship")  # what a seller does next
TARGETS = {"create": 0.5, "update": 0.6}  # API throughput as a share of bare temporalio's
RESULTS = Path(__file__).parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400,
                        help="orders (and bare workflows) created; each then gets "
                             f"{len(STEPS)} status updates (default 400)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="the measured orders are split into rounds, each running all "
                             "four measurements in turn (default 2)")
    parser.add_argument("--concurrency", type=int, default=20,
                        help="operations in flight (default 20)")
    parser.add_argument("--warmup", type=int, default=40,
                        help="uncounted creates (and their updates) per side first (default 40)")
    parser.add_argument("--listings", type=int, default=4,
                        help="listings the orders are spread over (default 4)")
    parser.add_argument("--log-level", default="INFO",
                        help="OMS_LOG_LEVEL of the API and worker (default INFO, as deployed)")
    parser.add_argument("--op-timeout", type=float, default=30, help="seconds per operation")
    parser.add_argument("--phase-timeout", type=float, default=180, help="seconds per phase")
    parser.add_argument("--no-codec", action="store_true",
                        help="the API and worker do not encrypt payloads "
                             "(OMS_PAYLOAD_ENCRYPTION=false), to measure what the codec costs; "
                             "the bare side never encrypts")
    parser.add_argument("--no-rate-limits", dest="rate_limits", action="store_false",
                        help="run the API without its abuse limits, to measure what they cost "
                             "(by default they are on, set high enough never to refuse)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the logs and SQLite database in DIR (default: a temporary "
                             "directory, removed afterwards)")
    args = parser.parse_args(argv)
    if min(args.orders, args.concurrency, args.rounds) < 1 or args.warmup < 0:
        parser.error("--orders, --concurrency and --rounds must be positive, "
                     "--warmup not negative")
    if args.rounds > args.orders:
        parser.error("--rounds cannot exceed --orders")
    return args


async def _checked(request: Awaitable[httpx.Response], expected: int) -> httpx.Response:
    response = await request
    if response.status_code != expected:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


class Bench:
    def __init__(self, stack: Stack, args: argparse.Namespace, client: Client,
                 http: httpx.AsyncClient) -> None:
        self.stack, self.args, self.client, self.http = stack, args, client, http
        self.buyer = {"Authorization": f"Bearer {mint_token(JWT_SECRET, BUYER)}"}
        self.seller = {"Authorization": f"Bearer {mint_token(JWT_SECRET, SELLER)}"}

    async def _phase(self, name: str, items: Any, job: Any) -> tuple[PhaseResult, list]:
        before = cpu.snapshot(self.stack.pids)
        result, done = await run_phase(name, items, job, concurrency=self.args.concurrency,
                                       op_timeout=self.args.op_timeout,
                                       phase_timeout=self.args.phase_timeout)
        result.cpu = cpu.spent(before, cpu.snapshot(self.stack.pids))
        print(f"  {name:<13} {result.ops:>5} ops {result.errors:>3} errors "
              f"{result.seconds:6.1f} s {result.throughput:8.1f} ops/s", flush=True)
        if result.errors and not result.ops:
            # Nothing works (a broken worker, say): stop now rather than time out for minutes.
            raise RuntimeError(f"{name}: every operation failed; first: {result.first_error}")
        return result, done

    # ---- through the API -----------------------------------------------------------------------

    async def api_create(self, name: str, count: int) -> tuple[PhaseResult, list[str]]:
        listings = self.stack.listings

        async def job(n: int, rec: Recorder) -> str:
            # A new payment reference per call: each is a new order, never an idempotent replay.
            body = checkout_body(buyer_id=BUYER, seller_id=SELLER,
                                 listing_id=listings[n % len(listings)])
            response = await rec.measure(
                _checked(self.http.post("/api/orders", json=body, headers=self.buyer), 201))
            return response.json()["order"]["id"]

        return await self._phase(name, range(count), job)

    async def api_update(self, name: str, order_ids: list[str]) -> PhaseResult:
        async def job(order_id: str, rec: Recorder) -> None:
            for status in STEPS:
                await rec.measure(_checked(self.http.put(
                    f"/api/orders/{order_id}/status", json={"status": status},
                    headers=self.seller), 200))

        return (await self._phase(name, order_ids, job))[0]

    # ---- bare temporalio -----------------------------------------------------------------------

    async def bare_create(self, name: str, count: int) -> tuple[PhaseResult, list[str]]:
        async def job(workflow_id: str, rec: Recorder) -> str:
            return await rec.measure(bare.create(self.client, self.stack.bare_task_queue,
                                                 workflow_id))

        # Fresh ids per phase: a reused id would join a running workflow instead of starting one.
        phase = uuid.uuid4().hex[:8]
        ids = [f"bare-{phase}-{n}" for n in range(count)]
        return await self._phase(name, ids, job)

    async def bare_update(self, name: str, workflow_ids: list[str]) -> PhaseResult:
        async def job(workflow_id: str, rec: Recorder) -> None:
            for step in STEPS:
                await rec.measure(bare.touch(self.client, workflow_id, step))

        return (await self._phase(name, workflow_ids, job))[0]

    async def run(self) -> dict[str, PhaseResult]:
        args = self.args
        if args.warmup:
            print("warm-up (not counted)", flush=True)
            await self.round(args.warmup)
        # Sides alternate, in rounds: a burst of outside load, or a server slowing as it fills
        # up, weighs on both alike.
        rounds = []
        for n in range(args.rounds):
            print(f"measured, round {n + 1} of {args.rounds}", flush=True)
            share = args.orders // args.rounds + (n < args.orders % args.rounds)
            rounds.append(await self.round(share))
        return {key: combine(key, [r[key] for r in rounds]) for key in LABELS}

    async def round(self, count: int) -> dict[str, PhaseResult]:
        bare_create, bare_ids = await self.bare_create("bare create", count)
        api_create, order_ids = await self.api_create("api create", count)
        bare_update = await self.bare_update("bare update", bare_ids)
        api_update = await self.api_update("api update", order_ids)
        return {"api_create": api_create, "bare_create": bare_create,
                "api_update": api_update, "bare_update": bare_update}


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # On Ctrl-C the client's in-flight calls are cancelled and each would otherwise print a
    # "never retrieved" traceback; anything else is reported as usual.
    if not isinstance(context.get("exception"),
                      asyncio.CancelledError | WorkflowUpdateRPCTimeoutOrCancelledError):
        loop.default_exception_handler(context)


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, PhaseResult]:
    asyncio.get_running_loop().set_exception_handler(_quiet_cancellations)
    client = await connect(stack.temporal_address, payload_keys=None)  # the bare side's
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=stack.api_url, limits=limits,
                                 timeout=args.op_timeout) as http:
        return await Bench(stack, args, client, http).run()


# ---- report ------------------------------------------------------------------------------------

LABELS = {
    "api_create": "api   POST /api/orders",
    "bare_create": "bare  update-with-start + 2 activities",
    "api_update": "api   PUT /api/orders/{id}/status",
    "bare_update": "bare  execute_update + 1 activity",
}


def ratios(results: dict[str, PhaseResult]) -> dict[str, float]:
    def share(kind: str) -> float:
        base = results[f"bare_{kind}"].throughput
        return results[f"api_{kind}"].throughput / base if base else 0.0

    return {kind: share(kind) for kind in TARGETS}


def print_report(results: dict[str, PhaseResult], args: argparse.Namespace) -> None:
    print(f"\n{args.orders} creates and {args.orders * len(STEPS)} updates per side, "
          f"{args.concurrency} in flight")
    print(f"{'operation':<38} {'ops':>5} {'err':>4} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for key, label in LABELS.items():
        r = results[key]
        print(f"{label:<38} {r.ops:>5} {r.errors:>4} {r.throughput:>8.1f} "
              f"{r.percentile(50):>8.1f} {r.percentile(99):>8.1f}")
    for kind, value in ratios(results).items():
        verdict = "meets" if value >= TARGETS[kind] else "below"
        print(f"{kind} throughput api/bare: {value:.2f} ({verdict} target {TARGETS[kind]:.2f})")
    print_cpu(results)
    for key, r in results.items():
        if r.errors:
            print(f"{key}: {r.errors} failed, first: {r.first_error}")


def print_cpu(results: dict[str, PhaseResult], labels: dict[str, str] | None = None) -> None:
    """CPU milliseconds per operation in each process, and how busy the cores were."""
    labels = labels or LABELS
    names = [n for n in next(iter(results.values())).cpu if n != cpu.OTHER]
    if not names:
        return
    cores = len(os.sched_getaffinity(0))
    print(f"\nCPU ms per operation; ours and other: share of the {cores} cores over the phase")
    print(f"{'operation':<38}" + "".join(f"{n:>12}" for n in names) + f"{'ours':>6}{'other':>7}")
    for key, label in labels.items():
        r = results[key]
        per_op = "".join(f"{r.cpu.get(n, 0) / max(r.ops, 1) * 1000:>12.1f}" for n in names)
        capacity = r.seconds * cores or 1
        ours = sum(r.cpu.get(n, 0) for n in names) / capacity
        print(f"{label:<38}{per_op}{ours:>6.0%}{r.cpu.get(cpu.OTHER, 0) / capacity:>7.0%}")
    other = max(r.cpu.get(cpu.OTHER, 0) / (r.seconds * cores or 1) for r in results.values())
    if other > 0.1:
        print(f"warning: other processes used up to {other:.0%} of the cores; "
              "the figures are not representative")


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        temporal_cli = subprocess.run([processes.temporal_binary(), "--version"],
                                      capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        temporal_cli = "unknown"
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)), "os": platform.platform(),
            "python": platform.python_version(), "temporalio": temporalio.__version__,
            "temporal_cli": temporal_cli, "code": code_version()}


def code_version() -> str:
    """The commit measured, marked dirty when the tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=RESULTS.parent.parent, capture_output=True,
                              text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}{'-dirty' if dirty else ''}" if commit else "unknown"


def save(results: dict[str, PhaseResult], args: argparse.Namespace, info: dict[str, Any]
         ) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench-{stamp}.json"
    path.write_text(json.dumps({
        "at": stamp, "machine": info,
        "config": {k: v for k, v in vars(args).items() if k != "no_json"},
        "results": {k: r.as_dict() for k, r in results.items()},
        "ratios": {k: round(v, 3) for k, v in ratios(results).items()},
        "targets": TARGETS,
    }, indent=2) + "\n")
    return path


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="oms-bench-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=True)
    if any(keep.iterdir()):
        raise SystemExit(f"{keep} is not empty")
    yield keep.resolve()


def _tail_logs(folder: Path, lines: int = 15) -> None:
    for log in sorted(folder.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {log.name}", *tail, sep="\n", file=sys.stderr)


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM takes the same way out as Ctrl-C, so the child processes are stopped too.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, "
          f"temporalio {info['temporalio']}, code {info['code']}", flush=True)
    started = time.monotonic()
    with _workdir(args.keep) as workdir:
        try:
            with running_stack(workdir, listings=args.listings, inventory=10**9,
                               log_level=args.log_level,
                               payload_encryption=not args.no_codec,
                               settings=rate_limit_settings(args.rate_limits)) as stack:
                print(f"stack up in {time.monotonic() - started:.1f} s", flush=True)
                results = asyncio.run(measure(stack, args))
        except KeyboardInterrupt:
            print("\ninterrupted; processes stopped", file=sys.stderr)
            return 130
        except Exception:
            _tail_logs(workdir)
            raise
    print_report(results, args)
    if not args.no_json:
        print(f"\nwritten to {os.path.relpath(save(results, args, info))}")
    print(f"total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
