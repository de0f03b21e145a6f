"""The deadline an order waits for, per status (DESIGN §4)."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.commands import OrderPolicy
from domain.order import OrderStatus as S
from domain.timers import Deadline, next_deadline
from domain.timers import TimerAction as A

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = OrderPolicy()
H = timedelta(hours=1)


def deadline(status, alerts=0, shipped_at=None):
    return next_deadline(status, status_since=T0, shipped_at=shipped_at, policy=POLICY,
                         alerts_raised=alerts)


@pytest.mark.parametrize(
    ("status", "after", "action"),
    [(S.PAYMENT_PENDING, 1 * H, A.PAYMENT_TIMEOUT),
     (S.PAYMENT_CONFIRMED, 72 * H, A.SELLER_CONFIRMATION_TIMEOUT),
     (S.ESCROW_LOCKED, 72 * H, A.SELLER_CONFIRMATION_TIMEOUT),
     (S.ORDER_CONFIRMED, 48 * H, A.STUCK_ORDER),
     (S.PROCESSING, 48 * H, A.STUCK_ORDER),
     (S.READY_TO_SHIP, 48 * H, A.STUCK_ORDER),
     (S.SHIPPED, 14 * 24 * H, A.STUCK_SHIPMENT),
     (S.IN_TRANSIT, 14 * 24 * H, A.STUCK_SHIPMENT),
     (S.OUT_FOR_DELIVERY, 14 * 24 * H, A.STUCK_SHIPMENT),
     (S.DELIVERED, 7 * 24 * H, A.AUTO_COMPLETE),
     (S.DISPUTED, 72 * H, A.DISPUTE_UNRESOLVED)],
)
def test_each_waiting_status_has_its_deadline(status, after, action):
    got = deadline(status)
    assert (got.at, got.action) == (T0 + after, action)


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.REFUNDED, S.FAILED])
def test_final_orders_wait_for_nothing(status):
    assert deadline(status) is None


def test_stuck_alerts_repeat_daily_while_stuck():
    assert deadline(S.PROCESSING, alerts=1).at == T0 + 72 * H
    assert deadline(S.PROCESSING, alerts=2).at == T0 + 96 * H


def test_the_shipment_clock_runs_from_when_the_parcel_left():
    shipped = T0 - 10 * 24 * H
    assert deadline(S.IN_TRANSIT, shipped_at=shipped).at == shipped + 14 * 24 * H


def test_a_pending_payment_is_asked_about_again_every_interval_until_its_timeout():
    def ask(checks):
        return next_deadline(S.PAYMENT_PENDING, status_since=T0, shipped_at=None,
                             policy=POLICY, alerts_raised=0, payment_checks=checks)

    assert ask(0) == Deadline(T0 + timedelta(minutes=1), A.PAYMENT_RECHECK)
    assert ask(58) == Deadline(T0 + timedelta(minutes=59), A.PAYMENT_RECHECK)
    assert ask(59) == Deadline(T0 + H, A.PAYMENT_TIMEOUT)  # the last word is the timeout
