"""Every recorded history must replay against today's workflow code (determinism guard).

A change that would break running orders fails here; guard it with `workflow.patched()` and
record a history of the new behaviour (`python -m tests.record_histories`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.commands import OrderOutcome, OrderWorkflowInput
from oms.codec import encrypted_converter
from oms.temporal import DEFAULT_PAYLOAD_KEYS
from workflows.order_workflow import OrderWorkflow


def _workers_converter():
    """The workers' converter, through which histories recorded before the codec pass as they
    are. Made by the tests, not at import: the sandbox re-imports this module."""
    return encrypted_converter(DEFAULT_PAYLOAD_KEYS)

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_there_are_histories_to_replay():
    # v3: orders started with 0.1.0's workflow; v4: payments verified with their provider.
    assert {p.stem.split("_")[0] for p in HISTORIES} >= {"v3", "v4"}
    assert len(HISTORIES) >= 16


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=_workers_converter())
    result = await replayer.replay_workflow(_history(path), raise_on_replay_failure=True)
    assert result.replay_failure is None


@workflow.defn(name="OrderWorkflow")
class _UnpatchedChange(OrderWorkflow):
    """Today's workflow with a change running orders would notice and no patch: it waits a
    moment before writing the order."""

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderOutcome:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(input)


async def test_an_unpatched_change_fails_to_replay_every_history():
    # The canary: a history that replays under a change running orders would notice could not
    # fail the replay test above either. One replayer for them all: a failure costs it about
    # 0.6 s, where a replayer for each history took 1.5 s.
    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in HISTORIES:
            yield _history(path)

    replayer = Replayer(workflows=[_UnpatchedChange], data_converter=_workers_converter())
    failures = {}
    async with replayer.workflow_replay_iterator(histories()) as results:
        async for result in results:
            failures[result.history.workflow_id] = type(result.replay_failure)
    assert failures == {path.stem: NondeterminismError for path in HISTORIES}
