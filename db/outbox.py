"""The outbox: every notification the OMS sends, with each delivery attempt, by key."""

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from db.engine import upsert
from db.tables import OutboxRow


def record(
    session: Session,
    row: OutboxRow,
    sent_at: datetime | None,
    error: str | None,
    retry_at: datetime | None = None,
) -> None:
    """Note one delivery attempt of a notification: sent (at `sent_at`), or failed and
    tried again at `retry_at` (None: given up). A sent notification stays as it was sent.
    One statement: every order makes several."""
    values = row.model_dump(
        exclude={"status", "attempts", "sent_at", "last_error", "next_attempt_at"}
    )
    if sent_at is not None:
        status = "sent"
    else:
        status = "pending" if retry_at is not None else "failed"
    statement = upsert(session, OutboxRow).values(
        **values,
        attempts=1,
        status=status,
        sent_at=sent_at,
        last_error=None if sent_at is not None else (error or "")[:500],
        next_attempt_at=None if sent_at is not None else retry_at,
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
                "next_attempt_at": statement.excluded.next_attempt_at,
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


def due(session: Session, now: datetime, limit: int) -> list[OutboxRow]:
    """Notifications not delivered yet whose next try is due, oldest first."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.status == "pending", col(OutboxRow.next_attempt_at) <= now)
        .order_by(col(OutboxRow.next_attempt_at))
        .limit(limit)
    )
    return list(session.exec(query))


def claim(session: Session, row: OutboxRow, until: datetime) -> bool:
    """Take a due notification for one try (no other process tries it before `until`);
    False if another process took it first."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    taken = session.connection().execute(
        update(table)
        .where(
            table.c.key == row.key,
            table.c.status == "pending",
            table.c.next_attempt_at == row.next_attempt_at,
        )
        .values(next_attempt_at=until)
    )
    return taken.rowcount == 1
