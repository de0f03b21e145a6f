"""Parcels (DESIGN §3, "Parcels"): an order shipped in one or more parcels, and how the order's
status follows them. Pure.

The rule: the order is `shipped` once every unit is in a shipped parcel (until then it stays
`ready_to_ship`, `partially_shipped`), and from then on it is where its least advanced parcel
is: `delivered` once every parcel is delivered (`partially_delivered` while only some are).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from domain.errors import DomainError, ErrorCode
from domain.order import ActorKind, OrderStatus, can_transition

S = OrderStatus
# A parcel's statuses, in the order it passes them.
PARCEL_FLOW = (S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED)
SHIPPERS = frozenset({ActorKind.SELLER, ActorKind.OPERATOR})


class Fulfilment(StrEnum):
    PARTIALLY_SHIPPED = "partially_shipped"
    PARTIALLY_DELIVERED = "partially_delivered"


@dataclass(frozen=True)
class ParcelLine:
    listing_id: str
    quantity: int


@dataclass(frozen=True)
class Parcel:
    tracking_number: str
    carrier: str | None
    status: OrderStatus  # one of PARCEL_FLOW
    shipped_at: datetime
    lines: list[ParcelLine] = field(default_factory=list)
    estimated_delivery: date | None = None
    delivered_at: datetime | None = None
    version: int = 0  # bumped by every change, so a late read-model write never goes back
    alerts: int = 0  # stuck-shipment alerts raised for it (domain/timers.parcel_deadline)

    def moved_to(self, status: OrderStatus, at: datetime) -> Parcel:
        return replace(self, status=status, version=self.version + 1,
                       delivered_at=at if status is S.DELIVERED else self.delivered_at)


@dataclass(frozen=True)
class ShipParcelRequest:
    actor_kind: ActorKind
    actor_id: str
    tracking_number: str
    carrier: str | None = None
    lines: list[ParcelLine] = field(default_factory=list)  # none: every unit not shipped yet
    estimated_delivery: date | None = None
    notes: str | None = None


@dataclass(frozen=True)
class ParcelOutcome:
    parcel: Parcel
    status: OrderStatus  # the order's, once the parcel left
    fulfilment: Fulfilment | None


def unshipped(ordered: dict[str, int], parcels: list[Parcel]) -> dict[str, int]:
    """Units per listing not in any parcel yet (listings with none left are left out)."""
    left = dict(ordered)
    for parcel in parcels:
        for line in parcel.lines:
            left[line.listing_id] = left.get(line.listing_id, 0) - line.quantity
    return {listing: units for listing, units in left.items() if units > 0}


def check_parcel(request: ShipParcelRequest, *, status: OrderStatus, ordered: dict[str, int],
                 parcels: list[Parcel]) -> list[ParcelLine]:
    """The parcel's lines if the order may ship it now, else a DomainError."""
    if request.actor_kind not in SHIPPERS:
        raise DomainError(ErrorCode.FORBIDDEN, "only the seller or an operator ships a parcel")
    if status is not S.READY_TO_SHIP:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"parcels leave an order that is ready_to_ship, not {status}",
                          current_status=status)
    if any(p.tracking_number == request.tracking_number for p in parcels):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "this order already has a parcel with "
                          "this tracking number", field="trackingNumber")
    return parcel_lines(request, ordered=ordered, parcels=parcels)


def parcel_lines(request: ShipParcelRequest, *, ordered: dict[str, int],
                 parcels: list[Parcel]) -> list[ParcelLine]:
    """What goes in the parcel: its lines, or every unit left when it names none."""
    left = unshipped(ordered, parcels)
    if not request.lines:
        return [ParcelLine(listing, units) for listing, units in sorted(left.items())]
    for line in request.lines:
        if not 0 < line.quantity <= left.get(line.listing_id, 0):
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              f"{left.get(line.listing_id, 0)} of listing {line.listing_id} "
                              "are left to ship", field="items")
    return list(request.lines)


def fulfilment(ordered: dict[str, int], parcels: list[Parcel]) -> Fulfilment | None:
    """How far the parcels are, when the order's status alone does not say it."""
    if not parcels:
        return None
    if unshipped(ordered, parcels):
        return Fulfilment.PARTIALLY_SHIPPED
    delivered = sum(p.status is S.DELIVERED for p in parcels)
    return Fulfilment.PARTIALLY_DELIVERED if 0 < delivered < len(parcels) else None


def order_steps(current: OrderStatus, ordered: dict[str, int], parcels: list[Parcel]
                ) -> list[OrderStatus]:
    """The statuses the order passes to reach where its parcels are: none while units are
    left to ship; otherwise up to its least advanced parcel, through the statuses between
    when the status machine has no direct way (every parcel out for delivery means every
    one has been in transit)."""
    if not parcels or unshipped(ordered, parcels):
        return []
    target = min(PARCEL_FLOW.index(p.status) for p in parcels)
    if current is S.READY_TO_SHIP:
        here = -1
    elif current in PARCEL_FLOW:
        here = PARCEL_FLOW.index(current)
    else:
        return []  # disputed, cancelled, ...: parcels no longer move the order
    if target <= here:
        return []
    if can_transition(current, PARCEL_FLOW[target]) and here >= 0:
        return [PARCEL_FLOW[target]]
    return list(PARCEL_FLOW[here + 1:target + 1])


def parcel_move(parcel: Parcel, target: OrderStatus | None) -> bool:
    """Whether a carrier's report moves the parcel (forward only)."""
    return target in PARCEL_FLOW and PARCEL_FLOW.index(target) > PARCEL_FLOW.index(parcel.status)
