"""Events from the field apply once: the first result is kept for replays."""

import hashlib
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


def claim_scoped_event(
    session: Session, source: str, scope: str, event_id: str, fingerprint: str
) -> tuple[str, dict | None]:
    """Claim an event id within its sender's scope (a node, a supply line), so that no
    other field system can take an id first and have the sender's own event refused.
    Returns the key claimed (for `record_event_result`) and, if seen before, its result.
    An event applied under its bare id, before ids were scoped, still replays."""
    bare = session.get(ProcessedEventRow, event_id)
    if bare is not None and (bare.source, bare.fingerprint) == (source, fingerprint):
        return event_id, bare.result
    key = event_key(source, scope, event_id)
    return key, claim_event(session, key, source, fingerprint)


def record_event_result(session: Session, event_id: str, result: dict) -> None:
    row = session.get(ProcessedEventRow, event_id)
    assert row is not None, "claim_event first"
    row.result = result


def passed_on(session: Session, key: str, source: str, fingerprint: str) -> bool:
    """Was this event already passed on (to an order's workflow)? The same key with another
    body is a conflict. Read before passing it on; `mark_passed_on` after."""
    seen = session.get(ProcessedEventRow, key)
    if seen is None:
        return False
    if seen.fingerprint != fingerprint or seen.source != source:
        raise DuplicateEventConflict("this event was already received with a different body")
    return True


def mark_passed_on(session: Session, key: str, source: str, fingerprint: str) -> None:
    """Remember an event passed on: the same event sent again is answered without being
    passed on twice (a crash before this line passes it on again; the order ignores it)."""
    insert_if_absent(
        session,
        ProcessedEventRow,
        dict(event_id=key, source=source, fingerprint=fingerprint, result={}, at=datetime.now(UTC)),
    )


def event_key(source: str, scope: str, event_id: str) -> str:
    """A short key for an event id within its sender's scope (ids are only unique there)."""
    return f"{source}:" + hashlib.sha256(f"{scope}|{event_id}".encode()).hexdigest()[:48]
