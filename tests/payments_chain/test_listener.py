"""The escrow event listener on a real anvil, its cursor in a real database: confirmations,
reorgs shallow and deep, restarts and bounded scans. What it delivers goes to a recording sink
here; test_listener_orders.py takes it through the inbox and real workflows."""

from __future__ import annotations

import logging

from chain_events.cursor import load
from tests.chain import CHAIN_ID
from tests.payments_chain.escrows import fund
from tests.payments_chain.fixtures import CONFIRMATIONS, TOTAL_UNITS
from tests.payments_chain.listening import (
    RecordingNode,
    RecordingSink,
    approve,
    create,
    key,
    listener,
)


async def test_an_event_is_delivered_once_it_has_its_confirmations_and_only_then(db, chain):
    sink = RecordingSink()
    scanner = listener(db, chain, sink)
    escrow_id = await fund(chain)  # its block is its first confirmation
    assert await scanner.poll() == 0
    await chain.mine(CONFIRMATIONS - 2)
    assert await scanner.poll() == 0
    assert sink.delivered == []
    await chain.mine(1)
    assert await scanner.poll() == 1
    (event,) = sink.delivered
    assert (event.key, event.kind) == (key(escrow_id), "EscrowCreated")
    assert event.args == {"buyer": chain.buyer.address, "seller": chain.seller.address,
                          "token": chain.token.address, "amount": TOTAL_UNITS,
                          "deadline": (await chain.record(escrow_id))["deadline"]}
    await chain.mine(5)
    assert await scanner.poll() == 0
    assert len(sink.delivered) == 1


async def test_the_five_events_become_the_escrow_webhooks_events(db, chain):
    sink = RecordingSink()
    disputed = await fund(chain)
    released = await fund(chain)
    refunded = await fund(chain)
    split = await fund(chain)
    escrow = chain.escrow.functions
    await chain.send(escrow.dispute(disputed), chain.buyer)
    await chain.send(escrow.resolve(disputed, TOTAL_UNITS), chain.arbiter)  # all to the buyer
    await chain.send(escrow.dispute(split), chain.seller)
    await chain.send(escrow.resolve(split, 1_000_000), chain.arbiter)
    await chain.send(escrow.release(released), chain.buyer)
    await chain.send(escrow.refund(refunded), chain.seller)
    await chain.mine(CONFIRMATIONS)
    await listener(db, chain, sink).poll()
    events = {d.incoming.event.event_id: d.incoming for d in sink.deliveries}
    assert set(events) == {
        *(key(e) for e in (disputed, released, refunded, split)),
        key(disputed, "DisputeCreated"), key(disputed, "DisputeResolved"),
        key(split, "DisputeCreated"), key(split, "DisputeResolved"),
        key(released, "EscrowReleased"), key(refunded, "EscrowRefunded")}
    resolved = events[key(disputed, "DisputeResolved")]
    assert (resolved.event.source.value, resolved.event.kind, resolved.event.outcome) == \
        ("escrow", "DisputeResolved", "refund")
    assert events[key(split, "DisputeResolved")].event.outcome == "release"
    assert resolved.named_workflow == f"order-escrow-{disputed}"
    assert resolved.event.transaction_hash.startswith("0x")
    assert all(i.known for i in events.values())
    # Each escrow's events in the chain's order: funded before disputed before resolved.
    of_disputed = [e.kind for e in sink.delivered if e.escrow_id == disputed]
    assert of_disputed == ["EscrowCreated", "DisputeCreated", "DisputeResolved"]


async def test_a_log_orphaned_before_its_confirmations_is_never_delivered_its_replacement_once(
        db, chain, caplog):
    sink = RecordingSink()
    scanner = listener(db, chain, sink)
    await approve(chain, escrows=2)
    await chain.mine(CONFIRMATIONS)
    assert await scanner.poll() == 0  # up to the approval's block
    before = await chain.snapshot()
    orphan = await create(chain)
    await chain.mine(CONFIRMATIONS - 2)  # one short
    assert await scanner.poll() == 0
    await chain.revert(before)  # the fork without it: no block the listener scanned changed
    replacement = await create(chain)
    await chain.mine(CONFIRMATIONS)
    with caplog.at_level(logging.WARNING, logger="oms.chain"):
        assert await scanner.poll() == 1
        await chain.mine(3)
        assert await scanner.poll() == 0
    assert sink.keys == [key(replacement)]
    assert orphan != replacement and not caplog.records


async def test_anvils_own_reorg_replaces_an_unconfirmed_block_and_its_log_is_never_delivered(
        db, chain):
    sink = RecordingSink()
    scanner = listener(db, chain, sink)
    orphan = await fund(chain)
    assert await scanner.poll() == 0
    # The last two blocks (the approval and the escrow's) replaced by empty ones.
    await chain.rpc("anvil_reorg", 2, [])
    assert (await chain.record(orphan))["state"] == 0
    await chain.mine(CONFIRMATIONS + 2)
    assert await scanner.poll() == 0
    replacement = await fund(chain)
    await chain.mine(CONFIRMATIONS)
    assert await scanner.poll() == 1
    assert sink.keys == [key(replacement)]


async def test_a_reorg_deeper_than_the_confirmations_is_an_error_naming_what_it_undid(
        db, chain, caplog):
    sink = RecordingSink()
    scanner = listener(db, chain, sink)
    before = await chain.snapshot()
    signalled = await fund(chain)
    await chain.mine(CONFIRMATIONS)
    assert await scanner.poll() == 1
    await chain.revert(before)  # deeper than the confirmations: a signalled event undone
    replacement = await fund(chain)
    await chain.mine(CONFIRMATIONS + 3)
    with caplog.at_level(logging.ERROR, logger="oms.chain"):
        assert await scanner.poll() == 1
    assert sink.keys == [key(signalled), key(replacement)]
    assert [(o.escrow_id, o.kind) for o in sink.orphans] == [(signalled, "EscrowCreated")]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("deeper than OMS_CHAIN_CONFIRMATIONS=3" in line for line in errors), errors
    assert any(signalled in line and "the signal stands" in line for line in errors), errors
    caplog.clear()
    assert await scanner.poll() == 0
    assert not caplog.records and len(sink.orphans) == 1


async def test_a_new_listener_on_the_same_cursor_repeats_nothing_and_misses_nothing(db, chain):
    first_sink, second_sink = RecordingSink(), RecordingSink()
    seen_before = await fund(chain)
    await chain.mine(CONFIRMATIONS)
    assert await listener(db, chain, first_sink).poll() == 1
    while_down = await fund(chain)  # no listener running
    await chain.mine(CONFIRMATIONS)
    unconfirmed = await fund(chain)
    restarted = listener(db, chain, second_sink)
    assert await restarted.poll() == 1
    await chain.mine(CONFIRMATIONS)
    assert await restarted.poll() == 1
    assert first_sink.keys == [key(seen_before)]
    assert second_sink.keys == [key(while_down), key(unconfirmed)]
    async with db.reader.connect() as conn:
        cursor = await load(conn, CHAIN_ID, chain.escrow.address, start_block=0)
    assert cursor.block_number == await chain.w3.eth.block_number - CONFIRMATIONS + 1
    assert cursor.recent[-1].number == cursor.block_number
    assert cursor.recent[-1].hash == cursor.block_hash


async def test_the_chain_is_scanned_in_bounded_ranges_and_nothing_between_is_missed(db, chain):
    sink, node = RecordingSink(), RecordingNode(chain.w3)
    escrows = []
    for _ in range(3):
        escrows.append(await fund(chain))
        await chain.mine(4)
    await chain.mine(CONFIRMATIONS)
    assert await listener(db, chain, sink, w3=node, blocks_per_query=5).poll() == 3
    assert sink.keys == [key(e) for e in escrows]
    assert node.ranges and all(to - start + 1 <= 5 for start, to in node.ranges)
    # Consecutive ranges, each starting where the last ended.
    assert all(later[0] == earlier[1] + 1
               for earlier, later in zip(node.ranges, node.ranges[1:], strict=False))
    assert node.ranges[0][0] == 0


async def test_the_scan_starts_at_the_start_block(db, chain):
    sink = RecordingSink()
    too_early = await fund(chain)
    start = await chain.w3.eth.block_number + 1
    wanted = await fund(chain)
    await chain.mine(CONFIRMATIONS)
    assert await listener(db, chain, sink, start_block=start).poll() == 1
    assert sink.keys == [key(wanted)] and too_early != wanted
