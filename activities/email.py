"""Order emails over SMTP: at most once per (order, event, occurrence, recipient).

The log row is written right after the SMTP server accepts the message; a retry finds it and
skips that recipient. If the worker dies between the two, the retry sends again with the same
Message-ID, which mail systems use to drop the duplicate. An SMTP outage fails the activity and
Temporal retries it until the server is back: no email is lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

import aiosmtplib
from sqlalchemy import select
from temporalio import activity

from activities.email_templates import render
from db import tables as t
from db.engine import Database
from db.upsert import insert_ignore
from domain.commands import EmailCommand

_MESSAGE_IDS = uuid.UUID("3a4e3f3c-8b55-4c55-b0d7-0f6e2b9d1c11")


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpSender:
    """smtp://[user:password@]host[:port][?starttls=true], or smtps:// for TLS from the start."""

    url: str
    timeout: float = 30.0

    async def send(self, message: EmailMessage) -> None:
        parts = urlparse(self.url)
        implicit_tls = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["false"])[0] == "true"
        await aiosmtplib.send(
            message, hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls, start_tls=starttls, timeout=self.timeout,
        )


class EmailActivities:
    def __init__(self, db: Database, sender: EmailSender, sender_address: str) -> None:
        self._db = db
        self._sender = sender
        self._from = sender_address

    @activity.defn
    async def send_order_email(self, cmd: EmailCommand) -> int:
        """Send one order email to its audience; returns how many went out now."""
        people = {"buyer": cmd.buyer_id, "seller": cmd.seller_id}
        user_ids = [people[a] for a in cmd.audience]
        async with self._db.reader.connect() as conn:
            users = {r.id: r for r in await conn.execute(
                select(t.users.c.id, t.users.c.name, t.users.c.email)
                .where(t.users.c.id.in_(user_ids)))}
            keys = {u: f"{cmd.order_id}:{cmd.event}:{cmd.occurrence}:{u}" for u in user_ids}
            done = set((await conn.execute(select(t.email_log.c.key).where(
                t.email_log.c.key.in_(keys.values())))).scalars())
        sent = 0
        for user_id in user_ids:
            user, key = users.get(user_id), keys[user_id]
            if key in done or user is None:
                continue  # already sent, or nobody to send to (no user record)
            message = self._message(cmd, key, user.name, user.email)
            await self._sender.send(message)
            async with self._db.transaction() as conn:
                await insert_ignore(conn, t.email_log, {
                    "key": key, "order_id": cmd.order_id, "event": cmd.event,
                    "recipient": user.email, "message_id": message["Message-ID"],
                    "sent_at": datetime.now(UTC)})
            sent += 1
        return sent

    def _message(self, cmd: EmailCommand, key: str, name: str, address: str) -> EmailMessage:
        email = render(cmd.event, order_number=cmd.order_number, recipient_name=name,
                       tracking_number=cmd.tracking_number, carrier=cmd.carrier,
                       reason=cmd.reason, note=cmd.note)
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = formataddr((name, address))
        message["Subject"] = email.subject
        # The same email always carries the same Message-ID: a resend is recognisable.
        message["Message-ID"] = f"<{uuid.uuid5(_MESSAGE_IDS, key)}@oms>"
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message
