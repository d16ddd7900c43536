"""Notifications leave through the outbox and a signed webhook, at least once, keyed."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlmodel import col, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import (
    LogSink,
    Notification,
    NotificationActivities,
    WebhookSink,
    retry_at,
)
from db import outbox
from db.engine import unit_of_work
from db.tables import OutboxRow

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the endpoint's Standard Webhooks secret


class Receiver:
    """A customer-messaging endpoint that fails its first `failures` calls."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls: list[tuple[dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), json.loads(body)))
                ok = len(receiver.calls) > receiver.failures
                try:  # as a receiver checks it, with the Standard Webhooks library
                    Webhook(SECRET).verify(body, dict(self.headers))
                except WebhookVerificationError:
                    ok = False
                self.send_response(200 if ok else 503)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    receiver = Receiver(failures=1)
    yield receiver
    receiver.close()


def notification(key: str = "A-1:n1:order_received") -> Notification:
    return Notification(
        key=key,
        order_id="A-1",
        recipient="customer",
        recipient_id="C-1",
        topic="order_received",
        payload={"order_id": "A-1"},
    )


def test_a_failed_delivery_stays_pending_and_the_outbox_delivers_it_later(engine, receiver):
    activities = NotificationActivities(engine, [LogSink(), WebhookSink(receiver.url, SECRET)])
    env = ActivityEnvironment()
    result = env.run(activities.notify, notification())  # the order does not wait for it
    assert result.delivered_at is None
    with unit_of_work(engine) as session:
        [row] = outbox.for_order(session, "A-1")
        assert (row.status, row.attempts) == ("pending", 1)
        assert "503" in (row.last_error or "")
        assert row.next_attempt_at is not None
        retry = row.next_attempt_at

    assert activities.resend_due(retry - timedelta(seconds=1)) == 0  # not due yet
    assert activities.resend_due(retry) == 1
    with unit_of_work(engine) as session:
        [row] = outbox.for_order(session, "A-1")
        assert row.status == "sent" and row.sent_at is not None and row.next_attempt_at is None
        assert row.attempts == 2 and "503" in (row.last_error or "")  # the failure stays told
    keys = [headers["Idempotency-Key"] for headers, _ in receiver.calls]
    assert keys == ["A-1:n1:order_received", "A-1:n1:order_received"]
    # The same message id on every try: the receiver drops what it has seen.
    assert {headers["webhook-id"] for headers, _ in receiver.calls} == {"A-1:n1:order_received"}
    assert receiver.calls[-1][1]["topic"] == "order_received"

    # Once sent, a replayed activity does not send again, nor does the outbox.
    env.run(activities.notify, notification())
    assert activities.resend_due(retry + timedelta(days=1)) == 0
    assert len(receiver.calls) == 2


def test_the_outbox_backs_off_and_gives_up_after_two_days(engine):
    created = datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
    waits = []
    now = created
    for attempt in range(1, 10):
        again = retry_at(created, attempt, now)
        assert again is not None
        waits.append(again - now)
        now = again
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(waits) == timedelta(minutes=10)
    assert retry_at(created, 50, created + timedelta(days=2) - timedelta(minutes=5)) is None

    down = NotificationActivities(engine, [Refusing()])
    ActivityEnvironment().run(down.notify, notification())
    with unit_of_work(engine) as session:
        [row] = outbox.for_order(session, "A-1")
        assert row.next_attempt_at is not None
    # Two days later, still refused: the outbox gives up and says so.
    with unit_of_work(engine) as session:
        session.exec(
            update(OutboxRow)
            .where(col(OutboxRow.key) == row.key)
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert down.resend_due(row.next_attempt_at) == 0
    with unit_of_work(engine) as session:
        [row] = outbox.for_order(session, "A-1")
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, None)


def test_a_due_notification_is_tried_by_one_relay_only(engine):
    down = NotificationActivities(engine, [Refusing()])
    ActivityEnvironment().run(down.notify, notification())
    with unit_of_work(engine) as session:
        [row] = outbox.for_order(session, "A-1")
    with unit_of_work(engine) as session:
        assert outbox.claim(session, row, row.created_at + timedelta(hours=1))
    with unit_of_work(engine) as session:
        assert not outbox.claim(session, row, row.created_at + timedelta(hours=1))


class Refusing:
    """A receiver that is down."""

    def send(self, notification: Notification) -> None:
        raise ConnectionError("receiver down")


def test_each_notification_is_one_outbox_row_per_key(engine):
    activities = NotificationActivities(engine, [LogSink()])
    env = ActivityEnvironment()
    env.run(activities.notify, notification("A-1:n1:order_received"))
    env.run(activities.notify, notification("A-1:n1:order_received"))
    env.run(activities.notify, notification("A-1:n2:order_confirmed"))
    with unit_of_work(engine) as session:
        rows = outbox.for_order(session, "A-1")
    assert sorted(row.key for row in rows) == ["A-1:n1:order_received", "A-1:n2:order_confirmed"]
    assert all(row.status == "sent" for row in rows)


def test_a_receiver_with_another_secret_cannot_verify_a_notification(engine, receiver):
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    activities = NotificationActivities(engine, [WebhookSink(receiver.url, other)])
    receiver.failures = 0

    result = ActivityEnvironment().run(activities.notify, notification("A-1:n2:order_shipped"))

    assert result.delivered_at is None  # the receiver refused it: not its sender's secret
