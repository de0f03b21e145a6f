"""What became of a webhook event: the inbox's states and the answers a provider gets.

An `InboxOutcome` is at once the `status` of the event's inbox row, the `status` of the
webhook's answer and the `outcome` label of `oms_webhook_events_total`, with two exceptions:
`duplicate` is answered and counted but never stored (the row is there already, from the
first delivery), and `claimed` is stored but never answered (the order took a pending event
when it started, after the webhook had been answered).

A `Rejection` is only a metric label. A delivery with a bad signature (401) or a malformed body
(422) is no event the inbox holds: it is neither recorded nor answered with a status, so it is
kept out of the inbox's states.
"""

from __future__ import annotations

from enum import StrEnum


class InboxOutcome(StrEnum):
    # Signalled to the workflow, which writes the row with the change the event makes.
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    # The order has not started yet; it claims the event when it does.
    PENDING = "pending"
    CLAIMED = "claimed"
    # Acknowledged so the provider stops retrying, never applied.
    UNKNOWN_ORDER = "unknown_order"
    UNKNOWN_TYPE = "unknown_type"
    ORDER_CLOSED = "order_closed"  # the order is final and its workflow has ended
    # Recorded and acknowledged, never applied: the event may not touch the order it names
    # (an escrow event for a card order, or for another order's escrow).
    REJECTED = "rejected"


class Rejection(StrEnum):
    SIGNATURE = "rejected_signature"
    MALFORMED = "rejected_malformed"
