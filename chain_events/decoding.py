"""The escrow contract's logs as events: decoded with the committed ABI
(contracts/artifacts/Escrow.json) and named as the escrow webhook names them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from domain.events import ESCROW_TYPES, EventSource, ExternalEvent
from domain.order import PaymentMethod
from payments.chain_escrow import ARTIFACT
from webhooks.ingest import Incoming
from workflows.shared import workflow_id_for

log = logging.getLogger("oms.chain")


@dataclass(frozen=True)
class ChainEvent:
    """One escrow event in one block."""

    escrow_id: str  # 0x + 64 lower-case hex digits, as the contract's bytes32 key
    kind: str  # the event's name: EscrowCreated, DisputeCreated, ...
    args: dict[str, Any]  # its other arguments, addresses checksummed
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int

    @property
    def key(self) -> str:
        """The event's id in the inbox and the workflow: escrow id and kind, never the log's
        position, which a transaction re-included after a reorg can change. The contract
        emits each kind at most once per escrow."""
        return f"{self.escrow_id}:{self.kind}"

    def incoming(self, occurred_at: datetime) -> Incoming:
        """The event as the escrow webhook would have made it."""
        event = ExternalEvent(source=EventSource.ESCROW, event_id=self.key, kind=self.kind,
                              occurred_at=occurred_at, transaction_hash=self.transaction_hash,
                              outcome=self._outcome())
        return Incoming(event=event, known=self.kind in ESCROW_TYPES,
                        named_workflow=workflow_id_for(PaymentMethod.ESCROW, self.escrow_id),
                        escrow_id=self.escrow_id)

    def _outcome(self) -> str | None:
        if self.kind != "DisputeResolved":
            return None
        # All to the buyer is a refund; anything to the seller completes the order (its split
        # was owed as a refund and a release).
        return "refund" if self.args["toSeller"] == 0 else "release"


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


class EscrowLogs:
    """Decodes the contract's five events from raw logs."""

    def __init__(self) -> None:
        abi = json.loads(ARTIFACT.read_text())["abi"]
        self._events = {}
        for item in abi:
            if item["type"] == "event" and item["name"] in ESCROW_TYPES:
                types = ",".join(i["type"] for i in item["inputs"])
                self._events[_hex(keccak(text=f"{item['name']}({types})"))] = item

    @property
    def topics(self) -> list[str]:
        return list(self._events)

    def decode(self, raw: Any) -> ChainEvent | None:
        """The event of one log, or None (logged) for a log that is none of them."""
        topics = [_hex(t) for t in raw["topics"]]
        item = self._events.get(topics[0]) if topics else None
        if item is None:
            log.warning("log %s of %s is no escrow event; skipped", raw["logIndex"],
                        _hex(raw["transactionHash"]))
            return None
        indexed = [i for i in item["inputs"] if i["indexed"]]
        plain = [i for i in item["inputs"] if not i["indexed"]]
        values = {i["name"]: abi_decode([i["type"]], bytes.fromhex(t[2:]))[0]
                  for i, t in zip(indexed, topics[1:], strict=True)}
        values |= dict(zip([i["name"] for i in plain],
                           abi_decode([i["type"] for i in plain], bytes(raw["data"])),
                           strict=True))
        types = {i["name"]: i["type"] for i in item["inputs"]}
        args = {name: to_checksum_address(v) if types[name] == "address" else v
                for name, v in values.items() if name != "escrowId"}
        return ChainEvent(escrow_id=_hex(values["escrowId"]), kind=item["name"], args=args,
                          block_number=raw["blockNumber"], block_hash=_hex(raw["blockHash"]),
                          transaction_hash=_hex(raw["transactionHash"]),
                          log_index=raw["logIndex"])


def block_time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
