"""Events from the field apply once: the first result is kept for replays."""

from datetime import UTC, datetime

from sqlmodel import Session

from db.engine import insert_if_absent
from db.tables import ProcessedEventRow
from domain.errors import DuplicateEventConflict


def claim_event(session: Session, event_id: str, source: str, fingerprint: str) -> dict | None:
    """Claim an event id for this transaction; return the stored result if seen before.

    The same id with another body is a conflict: the sender reused an id by mistake.
    """
    claimed = insert_if_absent(
        session,
        ProcessedEventRow,
        dict(
            event_id=event_id,
            source=source,
            fingerprint=fingerprint,
            result={},
            at=datetime.now(UTC),
        ),
    )
    if claimed:
        return None
    # Seen before (a concurrent sender's transaction has committed by now): replay it.
    seen = session.get(ProcessedEventRow, event_id, populate_existing=True)
    assert seen is not None
    if seen.fingerprint != fingerprint or seen.source != source:
        raise DuplicateEventConflict(f"event {event_id} was already received with a different body")
    return seen.result


def record_event_result(session: Session, event_id: str, result: dict) -> None:
    row = session.get(ProcessedEventRow, event_id)
    assert row is not None, "claim_event first"
    row.result = result
