"""`oms`: run the dev stack, its parts, migrations and tokens; pay at the dev Stripe."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from oms import logs
from oms.settings import Settings, load_or_exit
from oms.startup import CannotStart, database_unreachable, require_free_port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oms", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="start Temporal, the worker and the API on the embedded defaults")
    sub.add_parser("api", help="run the API (uvicorn)")
    sub.add_parser("worker", help="run the Temporal worker")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("seed", help="load the demo users and listings")
    sub.add_parser("chain-listen", help="deliver the escrow contract's confirmed events to "
                                        "the orders (needs OMS_CHAIN_RPC_URL)")
    token = sub.add_parser("token", help="mint a JWT for the API (HS256, OMS_JWT_SECRET)")
    token.add_argument("--sub", required=True, help="user id, or the integration's name")
    token.add_argument("--role", choices=["user", "operator", "support", "integration"],
                       help="default: user, or integration when --scope is given")
    token.add_argument("--scope", action="append", default=[], metavar="SCOPE",
                       help="an integration's scope, repeatable: " + ", ".join(_scope_names()))
    token.add_argument("--hours", type=float, default=None,
                       help="lifetime (default: 8 for people, 720 for integrations)")
    pay = sub.add_parser("pay", help="pay as a checkout would, to create an order with")
    methods = pay.add_subparsers(dest="method", required=True)
    fiat = methods.add_parser("fiat", help="pay with a test card at OMS_STRIPE_API_BASE; "
                                           "prints the PaymentIntent id")
    fiat.add_argument("--buyer", required=True, help="buyer id the payment names")
    fiat.add_argument("--amount", required=True, help="in major units, e.g. 200 or 199.99")
    fiat.add_argument("--currency", default="USD", help="USD, EUR or GBP")
    fiat.add_argument("--card", default="visa", choices=["visa", "declined"])
    crypto = methods.add_parser("crypto", help="transfer test stablecoins from the demo buyer's "
                                               "wallet; prints the transaction hash")
    escrow = methods.add_parser("escrow", help="fund an escrow from the demo buyer's wallet "
                                               "for a seller; prints the escrow id")
    for chain_method in (crypto, escrow):
        chain_method.add_argument("--buyer", default="buyer123", help="the demo buyer")
        chain_method.add_argument("--amount", required=True, help="in major units, e.g. 100")
        chain_method.add_argument("--currency", default="USDC", help="a currency the chain has a "
                                                                     "token for (USDC)")
    escrow.add_argument("--seller", default="seller456",
                        help="the seller whose registered wallet the escrow pays")
    args = parser.parse_args(argv)

    settings = load_or_exit(f"oms {args.command}")
    logs.configure(settings.log_level, settings.log_format)
    try:
        return _run(parser, args, settings)
    except OperationalError as err:
        print(f"oms {args.command}: {database_unreachable(settings.database_url, err)}",
              file=sys.stderr)
        return 1
    except CannotStart as err:
        print(f"oms {args.command}: {err}", file=sys.stderr)
        return 1


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "dev":
        from oms.devstack import run_dev_stack

        return run_dev_stack(settings)
    if args.command == "api":
        import uvicorn

        require_free_port("OMS_API_PORT", settings.api_port, settings.api_host)
        # No `server: uvicorn` banner (it tells a scanner what to try); its log lines go
        # through oms.logs like the rest.
        uvicorn.run("api.main:app", factory=True, host=settings.api_host, port=settings.api_port,
                    log_level=settings.log_level.lower(), server_header=False, log_config=None)
        return 0
    if args.command == "worker":
        import worker

        return worker.main()
    if args.command == "migrate":
        from db.migrate import upgrade

        upgrade(settings.database_url)
        return 0
    if args.command == "seed":
        from db.engine import create_database
        from oms.seed import seed_demo

        async def _seed() -> None:
            db = create_database(settings.database_url)
            await seed_demo(db)
            await db.dispose()

        asyncio.run(_seed())
        return 0
    if args.command == "token":
        return _token(parser, settings, args)
    if args.command == "chain-listen":
        from chain_events import NO_CHAIN

        if settings.chain_rpc_url is None:
            print(NO_CHAIN, file=sys.stderr)
            return 2
        from chain_events.service import run

        return run(settings)
    if args.command == "pay":
        return _pay(args, settings)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _pay(args: argparse.Namespace, settings) -> int:
    if args.method == "fiat":
        from oms.pay import pay_fiat

        return pay_fiat(settings, buyer=args.buyer, amount=args.amount,
                        currency=args.currency, card=args.card)
    from oms import pay_chain

    if args.method == "crypto":
        return pay_chain.pay_crypto(settings, buyer=args.buyer, amount=args.amount,
                                    currency=args.currency)
    return pay_chain.pay_escrow(settings, buyer=args.buyer, seller=args.seller,
                                amount=args.amount, currency=args.currency)


def _scope_names() -> list[str]:
    from api.auth import Scope

    return [s.value for s in Scope]


def _token(parser: argparse.ArgumentParser, settings, args: argparse.Namespace) -> int:
    from api.auth import Role, Scope, mint_token

    role = Role(args.role or ("integration" if args.scope else "user"))
    unknown = sorted(set(args.scope) - set(_scope_names()))
    if unknown:
        parser.error(f"unknown scope {', '.join(unknown)}; known: {', '.join(_scope_names())}")
    if args.scope and role is not Role.INTEGRATION:
        parser.error("scopes are for integrations; people act through their relations and "
                     "operators and support through their role")
    if role is Role.INTEGRATION and not args.scope:
        parser.error("an integration acts only through its scopes: give at least one --scope")
    if args.hours is not None and not 0 < args.hours <= 24 * 366:
        parser.error("--hours must be more than 0 and at most a year")
    ttl = None if args.hours is None else timedelta(hours=args.hours)
    print(mint_token(settings.jwt_secret, args.sub, role, ttl,
                     scopes=[Scope(s) for s in args.scope], issuer=settings.jwt_issuer,
                     audience=settings.jwt_audience))
    return 0


if __name__ == "__main__":
    sys.exit(main())
