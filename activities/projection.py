"""Activities that write the order read model. The order workflow is their only caller."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from db import orders_repo
from db.engine import Database
from domain.commands import CreatedOrder, CreateOrderCommand, StatusChangeRecord
from domain.errors import DomainError


class ProjectionActivities:
    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    async def create_order(self, cmd: CreateOrderCommand) -> CreatedOrder:
        """Write a new order and take its inventory in one transaction (idempotent)."""
        try:
            async with self._db.writer.begin() as conn:
                created = await orders_repo.create_order(conn, cmd)
        except DomainError as err:
            # A business refusal will not change on retry: fail at once with its stable code.
            # BENIGN: an expected outcome, logged at debug level rather than as a failure.
            raise ApplicationError(err.message, type=err.code.value, non_retryable=True,
                                   category=ApplicationErrorCategory.BENIGN) from err
        activity.logger.info("order %s written as %s", cmd.order_id, created.order_number)
        return created

    @activity.defn
    async def record_status_change(self, rec: StatusChangeRecord) -> None:
        """Apply one status change to the read model (idempotent on order and sequence)."""
        async with self._db.writer.begin() as conn:
            await orders_repo.record_status_change(conn, rec)
