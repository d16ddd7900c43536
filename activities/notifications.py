"""Notifications to customers, nodes and carriers, through the outbox.

The workflow's `notify` activity delivers the notification through every sink and records
each attempt in the outbox (one write per attempt); Temporal retries delivery until it
succeeds, and the idempotency key lets receivers drop the duplicates that at-least-once
delivery brings.
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

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
    delivered_at: datetime


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
    """POSTs each notification as JSON, signed like the field's events, with its key."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0):
        self.url = url
        self.secret = secret.encode()
        self.client = httpx.Client(timeout=timeout)

    def send(self, notification: Notification) -> None:
        body = json.dumps(notification.model_dump(mode="json"), separators=(",", ":"))
        timestamp = str(int(time.time()))
        signature = hmac.new(self.secret, f"{timestamp}.{body}".encode(), hashlib.sha256)
        response = self.client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": notification.key,
                "X-OMS-Timestamp": timestamp,
                "X-OMS-Signature": f"sha256={signature.hexdigest()}",
            },
        )
        response.raise_for_status()


class NotificationActivities:
    def __init__(self, engine: Engine, sinks: list[NotificationSink]):
        self.engine = engine
        self.sinks = sinks

    @defn
    def notify(self, notification: Notification) -> NotifyResult:
        """Deliver the notification through every sink, and record it in the outbox;
        Temporal retries until it is delivered (the order's history keeps it meanwhile)."""
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
        try:
            for sink in self.sinks:
                sink.send(notification)
        except Exception as exc:
            with unit_of_work(self.engine) as session:
                outbox.record(session, row, sent_at=None, error=repr(exc))
            raise
        delivered_at = datetime.now(UTC)
        with unit_of_work(self.engine) as session:
            outbox.record(session, row, sent_at=delivered_at, error=None)
        return NotifyResult(key=notification.key, delivered_at=delivered_at)
