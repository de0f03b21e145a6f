"""Record workflow histories for the replay test: `python -m tests.record_histories`.

Runs representative orders on a throwaway dev server and SQLite database and writes each
history to tests/histories/. Re-record only for a deliberate, compatible change; histories of
earlier versions stay, so running orders keep replaying.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from api import order_commands
from api.errors import ApiError
from db.engine import create_database
from db.migrate import upgrade
from domain.commands import StatusChangeRequest
from domain.order import ActorKind, OrderStatus, PaymentMethod, flow_for
from oms.settings import Settings
from oms.temporal import connect
from tests import servers
from tests.factories import order_request, seed_listing
from worker import build_worker
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

HISTORIES = Path(__file__).parent / "histories"
ACTORS = {OrderStatus.IN_TRANSIT: ActorKind.SYSTEM, OrderStatus.DELIVERED: ActorKind.SYSTEM,
          OrderStatus.COMPLETED: ActorKind.BUYER}


async def _record(address: str, db_url: str) -> None:
    settings = Settings(database_url=db_url, temporal_address=address, _env_file=None)
    client = await connect(address)
    db = create_database(db_url)
    listing = await seed_listing(db, seller_id="seller-rec", inventory=100,
                                 listing_id="listing-rec")
    async with build_worker(client, db, settings, settings.task_queue):
        for method in PaymentMethod:
            request = order_request(buyer_id="buyer-rec", seller_id="seller-rec",
                                    listing_id=listing, method=method)
            await order_commands.create_order(client, settings, request)
            wf_id = workflow_id_for(method, request.payment.reference)
            handle = client.get_workflow_handle_for(OrderWorkflow.run, wf_id)
            for status in flow_for(method)[1:]:
                await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
                    status=status, actor_kind=ACTORS.get(status, ActorKind.SELLER),
                    actor_id="rec", tracking_number="1Z999AA1234567890"))
            await handle.result()
            _write(f"v1_{method.value}_happy_path", await handle.fetch_history())
        request = order_request(buyer_id="buyer-rec", seller_id="seller-rec",
                                listing_id=listing, method=PaymentMethod.FIAT, total="1")
        try:
            await order_commands.create_order(client, settings, request)
        except ApiError:
            pass
        handle = client.get_workflow_handle_for(
            OrderWorkflow.run, workflow_id_for(PaymentMethod.FIAT, request.payment.reference))
        await handle.result()
        _write("v1_rejected_and_refunded", await handle.fetch_history())
    await db.dispose()


def _write(name: str, history) -> None:
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
    print(f"recorded {name}: {len(history.events)} events")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, servers.temporal_dev_server() as address:
        db_url = f"sqlite+aiosqlite:///{tmp}/oms.db"
        upgrade(db_url)
        asyncio.run(_record(address, db_url))


if __name__ == "__main__":
    main()
