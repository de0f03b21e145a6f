"""The orders the chaos load runs: each one a script of steps, and what it must end as.

What an order must end as (status, history, timeline, money, stock) is worked out from its
steps by the domain's own rules (domain/order, events, compensation, payments), never written
down from a run: a change to those rules changes the expectation with them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from domain.commands import OrderPolicy, OwedKind
from domain.compensation import compensations
from domain.events import EventSource, ExternalEvent, decide
from domain.order import ActorKind, OrderStatus, PaymentMethod, check_transition, initial_status
from domain.payments import PaymentState, settled_payment_state
from domain.statuses import info

S = OrderStatus
UNIT_PRICE = Decimal("100")
PARTIAL_REFUND = Decimal("40")
TRACKING = "1ZCHAOS0000000001"


@dataclass(frozen=True)
class Command:
    """A person's request through the API: `route` is status, cancel, dispute or resolve."""

    actor: ActorKind
    target: OrderStatus
    route: str = "status"
    refund_amount: Decimal | None = None


@dataclass(frozen=True)
class Scans:
    """Carrier scans, first delivered one after another in this order, then all resent."""

    statuses: tuple[str, ...]


Step = Command | Scans


@dataclass(frozen=True)
class Script:
    name: str
    method: PaymentMethod
    quantity: int
    steps: tuple[Step, ...]

    @property
    def total(self) -> Decimal:
        return UNIT_PRICE * self.quantity


@dataclass
class Expected:
    """What the order must end as, from its script."""

    status: OrderStatus
    changes: int = 1  # history rows, and timeline rows of changes (creation included)
    events_that_moved_nothing: int = 0  # timeline rows of late or out-of-order scans
    refunds: list[Decimal] = field(default_factory=list)
    releases: list[Decimal] = field(default_factory=list)
    restocked: bool = False
    payment_state: PaymentState | None = None
    path: list[OrderStatus] = field(default_factory=list)  # the status after each step


SELLER, BUYER, OPERATOR = ActorKind.SELLER, ActorKind.BUYER, ActorKind.OPERATOR
_TO_SHIPPED = (Command(SELLER, S.ORDER_CONFIRMED), Command(SELLER, S.PROCESSING),
               Command(SELLER, S.READY_TO_SHIP), Command(SELLER, S.SHIPPED))
# Out of order on purpose: out_for_delivery straight after shipped is no allowed move, and a
# scan that comes after delivered is late; both only go on the timeline.
_SCANS = (Scans(("out_for_delivery", "in_transit", "delivered", "in_transit")),
          Scans(("in_transit", "out_for_delivery", "delivered")),
          Scans(("delivered", "in_transit", "out_for_delivery")))

STORIES: dict[str, tuple[Step, ...]] = {
    "completed by the buyer": (*_TO_SHIPPED, _SCANS[0], Command(BUYER, S.COMPLETED)),
    "cancelled by the buyer": (Command(SELLER, S.ORDER_CONFIRMED),
                               Command(BUYER, S.CANCELLED, route="cancel")),
    "cancelled by the seller": (Command(SELLER, S.ORDER_CONFIRMED), Command(SELLER, S.PROCESSING),
                                Command(SELLER, S.CANCELLED, route="cancel")),
    "disputed, partly refunded": (*_TO_SHIPPED, _SCANS[1],
                                  Command(BUYER, S.DISPUTED, route="dispute"),
                                  Command(OPERATOR, S.REFUNDED, route="resolve",
                                          refund_amount=PARTIAL_REFUND)),
    "disputed, released to the seller": (*_TO_SHIPPED, _SCANS[2],
                                         Command(BUYER, S.DISPUTED, route="dispute"),
                                         Command(OPERATOR, S.COMPLETED, route="resolve")),
}


def scripts(count: int, rng: random.Random) -> list[Script]:
    """`count` orders, every story paid every way in turn, with random quantities."""
    methods = list(PaymentMethod)
    names = list(STORIES)
    return [Script(names[n % len(names)], methods[(n // len(names)) % len(methods)],
                   rng.randint(1, 3), STORIES[names[n % len(names)]]) for n in range(count)]


def expected(script: Script, policy: OrderPolicy = OrderPolicy()) -> Expected:
    """Play the script through the domain's rules."""
    now = datetime.now(UTC)
    status = initial_status(script.method, payment_final=True)
    out = Expected(status)
    shipped = False
    state = info(status).payment_state
    refunded, released = Decimal(0), False
    for step in script.steps:
        moves: list[tuple[OrderStatus, Decimal | None]] = []
        if isinstance(step, Command):
            check_transition(step.actor, status, step.target, tracking_number=TRACKING,
                             delivered_at=now, now=now, dispute_window=policy.dispute_window)
            moves.append((step.target, step.refund_amount))
        else:
            at = status  # each scan is judged from where the ones before it left the order
            for n, scan in enumerate(step.statuses):
                event = ExternalEvent(EventSource.SHIPPING, f"scan-{n}", scan, now)
                target = decide(at, event).target
                if target is None:
                    out.events_that_moved_nothing += 1
                else:
                    moves.append((target, None))
                    at = target
        for target, amount in moves:
            owed = compensations(status, target, method=script.method, shipped=shipped,
                                 refund_amount=amount, total=script.total, reason="chaos")
            for due in owed:
                if due.kind is OwedKind.REFUND:
                    out.refunds.append(due.amount if due.amount is not None else script.total)
                    refunded += out.refunds[-1]
                elif due.kind is OwedKind.RELEASE:
                    out.releases.append(due.amount if due.amount is not None else script.total)
                    released = True
                else:
                    out.restocked = True
            shipped = shipped or target is S.SHIPPED
            state = info(target).payment_state or state
            status = out.status = target
            out.changes += 1
        out.path.append(status)
    out.payment_state = settled_payment_state(total=script.total, refunded=refunded,
                                              released=released) or state
    return out
