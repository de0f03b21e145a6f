"""The bare baseline: the least a Temporal workflow can do for each API call we measure.

`BareWorkflow` mirrors the shape of `OrderWorkflow` without any of its business:
  - it runs two activities when it starts, and `await_creation` (sent with update-with-start)
    answers once they have completed, as the API's `POST /api/orders` does: the order first
    asks its payment's provider (an activity), then writes the order;
  - `touch` is an update whose handler runs one activity and returns, as `change_status` does;
  - it then stays open, as an order does until it reaches a final status.

Only temporalio is imported here: the workflow sandbox re-imports this module.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

_ACTIVITY_TIMEOUT = timedelta(seconds=30)


@activity.defn
async def noop(value: str) -> str:
    return value


@workflow.defn
class BareWorkflow:
    def __init__(self) -> None:
        self._created = False
        self._touches = 0

    @workflow.run
    async def run(self, name: str) -> None:
        for _ in range(2):  # the payment's provider check, then the write
            await workflow.execute_activity(noop, name, start_to_close_timeout=_ACTIVITY_TIMEOUT)
        self._created = True
        # Never true: the benchmark leaves these open and the in-memory server goes away.
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def await_creation(self) -> str:
        await workflow.wait_condition(lambda: self._created)
        return workflow.info().workflow_id

    @workflow.update
    async def touch(self, note: str) -> int:
        await workflow.execute_activity(noop, note, start_to_close_timeout=_ACTIVITY_TIMEOUT)
        self._touches += 1
        return self._touches


async def create(client: Client, task_queue: str, workflow_id: str) -> str:
    """Start a workflow and wait until its first activity is done: one round trip."""
    start = WithStartWorkflowOperation(
        BareWorkflow.run,
        workflow_id,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await client.execute_update_with_start_workflow(
        BareWorkflow.await_creation, start_workflow_operation=start
    )


async def touch(client: Client, workflow_id: str, note: str) -> int:
    handle = client.get_workflow_handle_for(BareWorkflow.run, workflow_id)
    return await handle.execute_update(BareWorkflow.touch, note)
