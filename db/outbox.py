"""The outbox: every notification the OMS sends, with each delivery attempt, by key."""

from datetime import datetime

from sqlmodel import Session, select

from db.tables import OutboxRow


def record(session: Session, row: OutboxRow, sent_at: datetime | None, error: str | None) -> None:
    """Note one delivery attempt of a notification: sent (at `sent_at`) or failed."""
    existing = session.get(OutboxRow, row.key, with_for_update=True)
    if existing is None:
        session.add(row)
        existing = row
    elif existing.status == "sent":
        return
    existing.attempts += 1
    if sent_at is not None:
        existing.status, existing.sent_at = "sent", sent_at
    else:
        existing.last_error = (error or "")[:500]


def was_sent(session: Session, key: str) -> OutboxRow | None:
    row = session.get(OutboxRow, key)
    return row if row is not None and row.status == "sent" else None


def for_order(session: Session, order_id: str) -> list[OutboxRow]:
    query = select(OutboxRow).where(OutboxRow.order_id == order_id)
    return list(session.exec(query.order_by(OutboxRow.created_at, OutboxRow.key)))
