"""The outbox: every notification the OMS sends, with each delivery attempt, by key."""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.engine import upsert
from db.tables import OutboxRow


def record(session: Session, row: OutboxRow, sent_at: datetime | None, error: str | None) -> None:
    """Note one delivery attempt of a notification: sent (at `sent_at`) or failed. A sent
    notification stays as it was sent. One statement: every order makes several."""
    values = row.model_dump(exclude={"status", "attempts", "sent_at", "last_error"})
    statement = upsert(session, OutboxRow).values(
        **values,
        attempts=1,
        status="sent" if sent_at is not None else "pending",
        sent_at=sent_at,
        last_error=None if sent_at is not None else (error or "")[:500],
    )
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    session.exec(
        statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "attempts": table.c.attempts + 1,
                "status": statement.excluded.status,
                "sent_at": statement.excluded.sent_at,
                "last_error": func.coalesce(statement.excluded.last_error, table.c.last_error),
            },
            where=table.c.status != "sent",
        )
    )


def sent_at(session: Session, key: str) -> datetime | None:
    """When the notification `key` was delivered, if it was."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    query = select(table.c.sent_at, table.c.created_at).where(
        table.c.key == key, table.c.status == "sent"
    )
    found = session.exec(query).first()
    if found is None:
        return None
    sent_at, created_at = found
    return sent_at or created_at


def for_order(session: Session, order_id: str) -> list[OutboxRow]:
    query = select(OutboxRow).where(OutboxRow.order_id == order_id)
    return list(session.exec(query.order_by(col(OutboxRow.created_at), col(OutboxRow.key))))
