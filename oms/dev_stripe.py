"""localstripe, the dev stack's and the tests' Stripe, on loopback with its state where we say.

`localstripe`'s own command listens on every interface and pickles its whole state to the one
file /tmp/localstripe.pickle after every write, so two instances (the dev stack and a test run)
overwrite each other's state. This runs the same application on 127.0.0.1 with its state in
memory (tests) or in a file of its own (the dev stack, beside Temporal's state).
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path


def _keep_state_in(store, path: Path | None) -> None:
    """Point localstripe's store at `path`, or at nothing (memory only)."""
    if path is None:
        store.try_load_from_disk = lambda: None
        store.dump_to_disk = lambda: None
        return

    def load() -> None:
        if path.exists():
            with path.open("rb") as f:
                state = pickle.load(f)
            store.clear()
            store.update(state)

    def dump() -> None:
        # Written aside and renamed, so a stack stopped mid-write keeps its last whole state.
        partial = path.with_suffix(".partial")
        with partial.open("wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)

    store.try_load_from_disk = load
    store.dump_to_disk = dump


def register_webhook(api_base: str, endpoint_id: str, url: str, secret: str,
                     events: Iterable[str] | None = None) -> None:
    """Have localstripe at `api_base` send its events to `url`, signed with `secret` the way
    Stripe signs them (`Stripe-Signature`). Registering the same `endpoint_id` again replaces it;
    registrations live in memory, so register after every start."""
    fields: list[tuple[str, str]] = [("url", url), ("secret", secret)]
    fields += [("events[]", event) for event in events or ()]
    request = urllib.request.Request(f"{api_base}/_config/webhooks/{endpoint_id}",
                                     data=urllib.parse.urlencode(fields).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oms.dev_stripe", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", type=Path, help="keep state in this file (default: memory)")
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe.resources import store
    from localstripe.server import app

    _keep_state_in(store, args.state)
    store.try_load_from_disk()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None,
                handle_signals=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
