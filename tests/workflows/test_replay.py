"""Every recorded history must replay against today's workflow code (determinism guard).

A change that would break running orders fails here; guard it with `workflow.patched()`.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.converter import data_converter
from workflows.order_workflow import OrderWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay():
    # v1: before the events-and-time patch (no timers); v2: after it; v3: read-model writes
    # as local activities.
    assert {p.stem.split("_")[0] for p in HISTORIES} == {"v1", "v2", "v3"}
    assert len(HISTORIES) >= 17


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=data_converter)
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
