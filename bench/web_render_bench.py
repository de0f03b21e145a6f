"""`python -m bench.web_render_bench`: the web front's pages against the JSON API they read, at
marketplace scale.

Two cases, each two sides, all requests in process (one hand-built ASGI request each, as the
pages make their own API calls: no network, no server, no HTTP client) to one app on a
throwaway PostgreSQL seeded by bench.seed_orders:

  seller queue  GET /app/sales as BIG_SELLER (its first page of 20 and the tabs' counts)
                against GET /api/orders/seller/{BIG_SELLER}?limit=20&counts=true, the same
                data (and, beside it, the list alone without counts)
  order page    GET /app/orders/{id} (one of BIG_SELLER's orders, as its seller) against
                GET /api/orders/{id} and GET /api/orders/{id}/shipments, taken together as
                the page takes them

A page's time is the whole answer: the session check, its API calls (themselves in process,
through the same middleware and routes), the template. The sides take turns in blocks after a
warm-up (bench.latency.compare), each case bounded by --budget seconds. The abuse limits are
off: the benchmark is one client asking thousands of times a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp

from api.auth import Role, mint_token
from api.main import create_app
from bench import seed_orders
from bench.dashboard_bench import machine
from bench.latency import Summary, compare
from oms.settings import Settings
from web.api_client import Answer, asgi_request
from web.session import SESSION_COOKIE

SELLER = seed_orders.BIG_SELLER
SECRET = "render-bench-secret-" + "x" * 32
TARGET_RATIO = 1.5  # page p50 / API p50 (issue 15)
Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Result:
    name: str
    page: Summary
    api: Summary
    also: dict[str, Summary]  # other ways to the same data, for reading the ratio

    @property
    def ratio(self) -> float:
        return self.page.p50 / self.api.p50


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url, jwt_secret=SECRET,
                    rate_limit_enabled=False, log_level="WARNING")


async def an_order_of(url: str) -> str:
    """One of the big seller's orders in processing: the page then draws its forms (ship a
    parcel, cancel, refund)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(
                "SELECT id FROM orders WHERE seller_id = :s AND status = 'processing' "
                "ORDER BY created_at DESC, id DESC OFFSET 50 LIMIT 1"), {"s": SELLER})).scalar_one()
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Caller:
    """Requests as one person, straight into the app: the client's own work (URL and header
    models) is left out of both sides alike, so what is timed is the server's."""

    app: ASGIApp
    headers: list[tuple[bytes, bytes]]

    async def get(self, path: str, **params: object) -> Answer:
        return await asgi_request(self.app, "GET", path, query=urlencode(params).encode(),
                                  headers=self.headers, client=("127.0.0.1", 40000))


def fetch(caller: Caller, *paths: str, **params: object) -> Call:
    """GET each path (together, as the page does) and fail loudly on anything but 200."""
    async def run() -> None:
        answers = await asyncio.gather(*(caller.get(p, **params) for p in paths))
        for path, answer in zip(paths, answers, strict=True):
            if answer.status != 200:
                raise SystemExit(f"{path}: {answer.status} {answer.body[:300]!r}")
    return run


async def measure(url: str, args: argparse.Namespace) -> tuple[list[Result], dict]:
    app = create_app(settings_for(url))
    order_id = await an_order_of(url)
    token = mint_token(SECRET, SELLER, Role.USER)
    host = (b"host", b"oms.bench")
    pages = Caller(app, [host, (b"cookie", f"{SESSION_COOKIE}={token}".encode())])
    api = Caller(app, [host, (b"authorization", f"Bearer {token}".encode())])
    async with app.router.lifespan_context(app):
        cases = [
            ("seller queue (/app/sales vs list API with counts)", fetch(pages, "/app/sales"),
             fetch(api, f"/api/orders/seller/{SELLER}", limit=20, counts="true"),
             {"the list API without counts (no tabs)": fetch(
                 api, f"/api/orders/seller/{SELLER}", limit=20)}),
            ("order page (/app/orders/{id} vs order + shipments API)",
             fetch(pages, f"/app/orders/{order_id}"),
             fetch(api, f"/api/orders/{order_id}", f"/api/orders/{order_id}/shipments"), {}),
        ]
        sizes = {"queue_page_bytes": len((await pages.get("/app/sales")).body),
                 "order_page_bytes": len((await pages.get(f"/app/orders/{order_id}")).body)}
        results = []
        for name, page, answer, also in cases:
            page_s, api_s, *others = await compare([page, answer, *also.values()],
                                                   repeat=args.repeat, warmup=args.warmup,
                                                   budget=args.budget, block=args.block)
            results.append(Result(name, page_s, api_s, dict(zip(also, others, strict=True))))
            print(f"  {name}: page {page_s.p50 * 1000:.2f} ms, api {api_s.p50 * 1000:.2f} ms "
                  f"(p50, n={page_s.n})", file=sys.stderr, flush=True)
    return results, {"order_id": order_id, **sizes}


def report(results: list[Result], info: dict, seeded: str) -> str:
    ms = lambda v: f"{v * 1000:8.2f}"  # noqa: E731
    lines = [f"machine: {machine()}", seeded, f"order page: {info['order_id']}; pages "
             f"{info['queue_page_bytes']:,} and {info['order_page_bytes']:,} bytes", "",
             f"{'case (ms)':56} {'n':>4} {'page p50':>8} {'page p99':>8} {'api p50':>8} "
             f"{'api p99':>8} {'page/api':>8}"]
    for r in results:
        lines.append(f"{r.name:56} {r.page.n:4d} {ms(r.page.p50)} {ms(r.page.p99)} "
                     f"{ms(r.api.p50)} {ms(r.api.p99)} {r.ratio:7.2f}x")
        for other, summary in r.also.items():
            lines.append(f"  beside it, {other}: p50 {summary.p50 * 1000:.2f} ms, p99 "
                         f"{summary.p99 * 1000:.2f} ms")
    lines.append("")
    for r in results:
        verdict = "met" if r.ratio <= TARGET_RATIO else "MISSED"
        lines.append(f"target page/api p50 <= {TARGET_RATIO}: {r.name}: {r.ratio:.2f}x "
                     f"{verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.web_render_bench",
                                     description=__doc__.split("\n\n")[0])
    seed_orders.add_bench_database_arguments(parser)
    parser.add_argument("--repeat", type=int, default=300, help="timed runs per side per case")
    parser.add_argument("--warmup", type=int, default=30, help="untimed runs first")
    parser.add_argument("--block", type=int, default=10,
                        help="runs of one side in a row, the first untimed")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds per case after which it stops early")
    return parser.parse_args(argv)


def run(url: str, args: argparse.Namespace, seeded: str) -> None:
    print(seeded, file=sys.stderr, flush=True)
    results, info = asyncio.run(measure(url, args))
    print(report(results, info, seeded))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with seed_orders.bench_database(args, "oms_web_render") as (url, seeded):
        run(url, args, seeded)


if __name__ == "__main__":
    main()
