"""Notifications to customers, nodes and carriers, through the outbox.

The order workflow's `notify` activity delivers the notification through every sink and
records each attempt in the outbox (one write per attempt). A delivery that fails stays
pending there: the outbox relay of every worker tries it again when due, for two days,
whether or not its order is still open. The idempotency key lets receivers drop the
duplicates that at-least-once delivery brings.
"""

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import httpx
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook

from activities import defn
from db import outbox
from db.engine import unit_of_work
from db.tables import OutboxRow
from domain.order_lifecycle import Recipient

log = logging.getLogger("oms.notifications")


class Notification(BaseModel):
    key: str  # idempotency key, stable across retries: {order_id}:n{counter}:{topic}
    order_id: str
    recipient: Recipient
    recipient_id: str
    topic: str
    payload: dict[str, Any] = {}


class NotifyResult(BaseModel):
    key: str
    delivered_at: datetime | None  # None: not yet, the outbox tries again on its own


class NotificationSink(Protocol):
    def send(self, notification: Notification) -> None: ...


class LogSink:
    """Writes each notification to the log (always on; the operator's trace)."""

    def send(self, notification: Notification) -> None:
        log.info(
            "notify %s %s %s key=%s",
            notification.recipient,
            notification.recipient_id,
            notification.topic,
            notification.key,
        )


class WebhookSink:
    """POSTs each notification as JSON, signed the Standard Webhooks way with the
    endpoint's own secret: `webhook-id` (the notification's key, the same on every retry),
    `webhook-timestamp`, `webhook-signature`; `Idempotency-Key` carries the key too."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0):
        self.url = url
        self.webhook = Webhook(secret)
        self.client = httpx.Client(timeout=timeout)

    def send(self, notification: Notification) -> None:
        body = json.dumps(notification.model_dump(mode="json"), separators=(",", ":"))
        now = datetime.now(UTC)
        response = self.client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": notification.key,
                "webhook-id": notification.key,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self.webhook.sign(notification.key, now, body),
            },
        )
        response.raise_for_status()


# A delivery that fails is tried again after 30 s, then twice as long each time up to
# 10 minutes, for two days; then the OMS gives up and the outbox says so (failed).
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=2)
TRY_LEASE = timedelta(minutes=2)  # a process trying a notification holds it this long


def retry_at(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try a notification again after its `attempts`-th failure; None: give up."""
    doublings = min(max(attempts - 1, 0), 10)  # 2**10 x 30 s is past the longest wait
    wait = min(FIRST_RETRY * 2**doublings, LONGEST_WAIT)
    return now + wait if now + wait <= created_at + GIVE_UP_AFTER else None


class NotificationActivities:
    def __init__(self, engine: Engine, sinks: list[NotificationSink]):
        self.engine = engine
        self.sinks = sinks

    @defn
    def notify(self, notification: Notification) -> NotifyResult:
        """Deliver the notification through every sink and record it in the outbox. A
        delivery that fails stays pending in the outbox, which tries it again on its own
        (`resend_due`): the order goes on, and closes, without waiting for a receiver."""
        with Session(self.engine) as session:  # a read: sent already, by an earlier try?
            sent = outbox.sent_at(session, notification.key)
        if sent is not None:
            return NotifyResult(key=notification.key, delivered_at=sent)
        row = OutboxRow(
            key=notification.key,
            order_id=notification.order_id,
            recipient=notification.recipient,
            recipient_id=notification.recipient_id,
            topic=notification.topic,
            payload=notification.payload,
            created_at=datetime.now(UTC),
        )
        return NotifyResult(key=row.key, delivered_at=self._attempt(row, notification, 1))

    def resend_due(self, now: datetime, limit: int = 200) -> int:
        """Try again the notifications whose next try is due; how many were delivered.
        Several workers may run this at once: each notification is taken by one."""
        with Session(self.engine) as session:
            rows = outbox.due(session, now, limit)
        delivered = 0
        for row in rows:
            with unit_of_work(self.engine) as session:
                if not outbox.claim(session, row, now + TRY_LEASE):
                    continue
            notification = Notification(
                key=row.key,
                order_id=row.order_id,
                recipient=cast(Recipient, row.recipient),  # it was written from one
                recipient_id=row.recipient_id,
                topic=row.topic,
                payload=row.payload,
            )
            delivered += self._attempt(row, notification, row.attempts + 1) is not None
        return delivered

    def _attempt(self, row: OutboxRow, notification: Notification, attempt: int) -> datetime | None:
        """One try through every sink, recorded; when it was delivered, if it was."""
        try:
            for sink in self.sinks:
                sink.send(notification)
        except Exception as exc:
            now = datetime.now(UTC)
            again = retry_at(row.created_at, attempt, now)
            with unit_of_work(self.engine) as session:
                outbox.record(session, row, sent_at=None, error=repr(exc), retry_at=again)
            if again is None:
                log.error("gave up notifying %s after %d tries: %r", row.key, attempt, exc)
            else:
                log.warning("notifying %s failed (%r); again at %s", row.key, exc, again)
            return None
        delivered_at = datetime.now(UTC)
        with unit_of_work(self.engine) as session:
            outbox.record(session, row, sent_at=delivered_at, error=None)
        return delivered_at


async def relay_outbox(activities: NotificationActivities, every: float = 15.0) -> None:
    """The outbox's own retries, for as long as the worker runs: what a receiver refused
    is sent again when due, whether or not its order is still open."""
    while True:
        try:
            await asyncio.to_thread(activities.resend_due, datetime.now(UTC))
        except Exception:  # a database hiccup: the next round tries again
            log.exception("outbox relay round failed")
        await asyncio.sleep(every)
