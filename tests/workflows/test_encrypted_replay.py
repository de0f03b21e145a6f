"""Orders whose payloads the codec encrypted replay with the workers' keys, and only with them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from oms.codec import PayloadKeys, encrypted_converter, new_key
from oms.temporal import DEFAULT_PAYLOAD_KEYS
from workflows.converter import data_converter
from workflows.order_workflow import OrderWorkflow

ENCRYPTED = Path(__file__).parent.parent / "histories" / "v4_encrypted_fiat_happy_path.json"


def history() -> WorkflowHistory:
    return WorkflowHistory.from_json(ENCRYPTED.stem, ENCRYPTED.read_text())


# What the SDK writes itself and no codec sees: search attributes, the markers of patches and
# of local activities (their sequence numbers and names; results are encrypted).
SDK_OWN = ("searchAttributes", "details.patch-data", "details.data")


def payloads(node, path=""):
    """(path, encoding) of every payload in a history's JSON."""
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "encoding" in metadata:
            yield path, base64.b64decode(metadata["encoding"])
        for key, value in node.items():
            yield from payloads(value, f"{path}.{key}")
    elif isinstance(node, list):
        for value in node:
            yield from payloads(value, path)


def test_the_kept_history_is_encrypted():
    found = list(payloads(json.loads(ENCRYPTED.read_text())))
    plain = {path for path, encoding in found if encoding != b"binary/encrypted"}
    assert len(plain) < len(found)
    assert all(any(part in path for part in SDK_OWN) for path in plain), plain


async def test_it_replays_with_the_workers_keys():
    replayer = Replayer(workflows=[OrderWorkflow],
                        data_converter=encrypted_converter(DEFAULT_PAYLOAD_KEYS))
    result = await replayer.replay_workflow(history(), raise_on_replay_failure=True)
    assert result.replay_failure is None


@pytest.mark.parametrize("converter", [
    data_converter,  # no codec at all
    encrypted_converter(PayloadKeys.parse(f"dev:{new_key()}")),  # the right id, another key
], ids=["no codec", "wrong key"])
async def test_it_cannot_be_replayed_without_them(converter):
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=converter)
    result = await replayer.replay_workflow(history(), raise_on_replay_failure=False)
    assert result.replay_failure is not None
