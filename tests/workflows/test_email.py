"""Order emails through a real SMTP server on loopback (aiosmtpd), sent by the real worker."""

from __future__ import annotations

import email
import uuid
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, SmtpSender
from api import order_commands
from db import reference_repo
from domain.commands import EmailCommand, StatusChangeRequest
from domain.order import ActorKind, OrderStatus, PaymentMethod
from oms.processes import free_port
from tests.factories import order_request, seed_listing, unique
from tests.polling import eventually
from worker import build_worker
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]


def smtp_server(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


async def emails_settled(handle) -> bool:
    """No email activity is running or waiting for a retry: what arrived is all that will."""
    return not (await handle.describe()).raw_description.pending_activities


async def smtp_refused(handle) -> bool:
    """An email activity has failed at least once (nothing listened on its port)."""
    pending = (await handle.describe()).raw_description.pending_activities
    return any(p.HasField("last_failure") for p in pending)


async def people(db):
    buyer, seller = unique("buyer"), unique("seller")
    async with db.transaction() as conn:
        await reference_repo.upsert_user(conn, buyer, name="John Doe",
                                         email=f"{buyer}@example.com", store_name=None)
        await reference_repo.upsert_user(conn, seller, name="Alice", email=f"{seller}@example.com",
                                         store_name="Alice's")
    return buyer, seller


@pytest.fixture
async def email_stack(client, settings, session_db):
    """A worker whose orders send email to an SMTP port; the server is started by the test."""
    port = free_port()
    with_email = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{port}",
                                             "task_queue": f"email-{uuid.uuid4().hex[:8]}"})
    async with build_worker(client, session_db, with_email, with_email.task_queue):
        yield with_email, port


async def test_orders_email_the_buyer_and_the_seller_once_per_event(client, session_db,
                                                                     email_stack):
    settings, port = email_stack
    controller, inbox = smtp_server(port)
    try:
        buyer, seller = await people(session_db)
        listing = await seed_listing(session_db, seller_id=seller, currency="USD")
        request = order_request(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                method=PaymentMethod.FIAT)
        created = await order_commands.create_order(client, settings, request)
        handle = client.get_workflow_handle_for(
            OrderWorkflow.run, workflow_id_for(PaymentMethod.FIAT, request.payment.reference))
        for status in (OrderStatus.ORDER_CONFIRMED, OrderStatus.PROCESSING,
                       OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED):
            await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
                status=status, actor_kind=ActorKind.SELLER, actor_id=seller,
                tracking_number="1Z999AA1234567890", carrier="UPS"))
        assert await eventually(lambda: len(inbox.to(f"{buyer}@example.com")) >= 3, timeout=15)
        assert await eventually(lambda: emails_settled(handle))  # nothing more will arrive
        subjects = sorted(m["Subject"] for m in inbox.to(f"{buyer}@example.com"))
        number = created.order_number
        assert subjects == sorted([f"Order {number} received", f"Order {number} confirmed",
                                   f"Order {number} has shipped"])
        assert [m["Subject"] for m in inbox.to(f"{seller}@example.com")] == [
            f"New order {number}"]
        shipped = next(m for m in inbox.to(f"{buyer}@example.com") if "shipped" in m["Subject"])
        parts = {p.get_content_type(): p.get_payload(decode=True).decode()
                 for p in shipped.walk() if not p.is_multipart()}
        assert "1Z999AA1234567890" in parts["text/plain"] and "UPS" in parts["text/plain"]
        assert "1Z999AA1234567890" in parts["text/html"]
    finally:
        controller.stop()


async def test_an_smtp_outage_is_retried_and_the_email_arrives_once(client, session_db,
                                                                   email_stack):
    settings, port = email_stack
    buyer, seller = await people(session_db)
    listing = await seed_listing(session_db, seller_id=seller)
    request = order_request(buyer_id=buyer, seller_id=seller, listing_id=listing,
                            method=PaymentMethod.CRYPTO)
    await order_commands.create_order(client, settings, request)  # answered despite the outage
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(PaymentMethod.CRYPTO, request.payment.reference))
    # The first attempts fail: nothing listens on the SMTP port yet.
    assert await eventually(lambda: smtp_refused(handle), timeout=20)
    controller, inbox = smtp_server(port)
    try:
        assert await eventually(lambda: len(inbox.to(f"{buyer}@example.com")) == 1, timeout=20)
        assert await eventually(lambda: len(inbox.to(f"{seller}@example.com")) == 1,
                                timeout=20)
        assert await eventually(lambda: emails_settled(handle))
        assert len(inbox.messages) == 2
    finally:
        controller.stop()


async def test_a_retried_send_does_not_send_again(session_db):
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        buyer, seller = await people(session_db)
        activities = EmailActivities(session_db, SmtpSender(f"smtp://127.0.0.1:{port}"),
                                     "oms <no-reply@oms.local>")
        cmd = EmailCommand(order_id=str(uuid.uuid4()), order_number="ORD-2026-000042",
                           event="delivered", occurrence="6", buyer_id=buyer, seller_id=seller,
                           audience=["buyer", "seller"])
        env = ActivityEnvironment()
        assert await env.run(activities.send_order_email, cmd) == 2
        assert await env.run(activities.send_order_email, cmd) == 0  # the retry
        assert len(inbox.messages) == 2
        assert inbox.messages[0]["Message-ID"] != inbox.messages[1]["Message-ID"]
    finally:
        controller.stop()
