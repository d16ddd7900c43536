"""The outbox: notifications written with the order's facts, delivered at least once."""

from datetime import datetime

from sqlmodel import Session, select

from db.tables import OutboxRow


def enqueue(session: Session, row: OutboxRow) -> OutboxRow:
    """Add a notification unless its idempotency key is already there."""
    existing = session.get(OutboxRow, row.key)
    if existing is not None:
        return existing
    session.add(row)
    session.flush()
    return row


def mark_sent(session: Session, key: str, now: datetime) -> None:
    row = session.get(OutboxRow, key, with_for_update=True)
    if row is not None and row.status != "sent":
        row.status, row.sent_at, row.attempts = "sent", now, row.attempts + 1


def mark_failed(session: Session, key: str, error: str) -> None:
    row = session.get(OutboxRow, key, with_for_update=True)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:500]


def for_order(session: Session, order_id: str) -> list[OutboxRow]:
    query = select(OutboxRow).where(OutboxRow.order_id == order_id)
    return list(session.exec(query.order_by(OutboxRow.created_at, OutboxRow.key)))
