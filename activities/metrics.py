"""Order metrics counted by the worker as the projection commits changes (Prometheus).

Counted only when a write took effect, so a retried activity never counts twice. The worker
serves them on OMS_WORKER_METRICS_PORT; the Temporal SDK's own metrics have a port of their own.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from domain.commands import StatusChangeRecord
from domain.order import OrderStatus

# Hours to weeks: orders sit in a status from seconds (automated steps) to the dispute window.
_DURATION_BUCKETS = (1, 10, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400,
                     3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)

ORDERS_CREATED = Counter("oms_orders_created_total", "Orders created", ["payment_method"])
TRANSITIONS = Counter("oms_status_transitions_total", "Status changes", ["from_status",
                                                                         "to_status"])
TIME_IN_STATUS = Histogram("oms_time_in_status_seconds", "Time an order spent in a status",
                           ["status"], buckets=_DURATION_BUCKETS)
TIME_TO_FULFILMENT = Histogram("oms_time_to_fulfilment_seconds",
                               "From order creation to shipped / delivered", ["milestone"],
                               buckets=_DURATION_BUCKETS)
CANCELLATIONS = Counter("oms_orders_cancelled_total", "Cancellations by the status cancelled from",
                        ["from_status"])
PAYMENT_FAILURES = Counter("oms_payment_failures_total",
                           "Payments that failed: never confirmed, or a gateway error",
                           ["payment_method", "reason"])
ORDERS_REJECTED = Counter("oms_orders_rejected_total", "Paid orders refused at creation",
                          ["reason"])


def status_changed(rec: StatusChangeRecord, payment_method: str | None = None) -> None:
    previous = rec.previous_status.value if rec.previous_status else "none"
    TRANSITIONS.labels(previous, rec.new_status.value).inc()
    if rec.previous_status and rec.previous_since:
        TIME_IN_STATUS.labels(previous).observe(
            (rec.occurred_at - rec.previous_since).total_seconds())
    if rec.order_created_at and rec.new_status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        TIME_TO_FULFILMENT.labels(rec.new_status.value).observe(
            (rec.occurred_at - rec.order_created_at).total_seconds())
    if rec.new_status is OrderStatus.CANCELLED:
        CANCELLATIONS.labels(previous).inc()
    if rec.new_status is OrderStatus.FAILED:
        PAYMENT_FAILURES.labels(payment_method or "unknown", "not_confirmed").inc()
