"""Incidents in force: closures and capacity drops limit picking days; carrier outages
take services off the plans."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from db.tables import IncidentRow
from domain.incidents import Incident, IncidentOutcome

HORIZON_DAYS = 60
LIFTED = "lifted"


def record(session: Session, incident: Incident) -> tuple[Incident, bool]:
    """Store an incident once; (incident, True) the first time it is received."""
    row = session.get(IncidentRow, incident.incident_id)
    if row is not None:
        return Incident.model_validate(row.document), False
    session.add(
        IncidentRow(
            incident_id=incident.incident_id,
            type=incident.type,
            document=incident.model_dump(mode="json", by_alias=True),
            received_at=datetime.now(UTC),
            outcomes=[],
        )
    )
    session.flush()
    return incident, True


def get(session: Session, incident_id: str) -> IncidentRow | None:
    return session.get(IncidentRow, incident_id)


def save_outcomes(session: Session, incident_id: str, outcomes: list[IncidentOutcome]) -> None:
    row = session.get(IncidentRow, incident_id, with_for_update=True)
    if row is not None:
        row.outcomes = [o.model_dump() for o in outcomes]
        if row.status == "open":  # a lifted incident stays lifted
            row.status = "handled"


def lift(session: Session, incident_id: str) -> IncidentRow | None:
    """An incident over before its end (or reported by mistake): plans stop counting it
    from now; the orders it moved stay where they are. Lifting twice changes nothing."""
    row = session.get(IncidentRow, incident_id, with_for_update=True)
    if row is not None:
        row.status = LIFTED
    return row


def in_force(session: Session, types: Iterable[str], today: date) -> list[Incident]:
    rows = session.exec(
        select(IncidentRow).where(
            col(IncidentRow.type).in_(list(types)), col(IncidentRow.status) != LIFTED
        )
    )
    incidents = [Incident.model_validate(row.document) for row in rows]
    return [i for i in incidents if i.to is None or i.to >= today]


def picking_limits(session: Session, today: date) -> dict[str, dict[date, int]]:
    """Per node and day, the most shipments it can pick while an incident lasts."""
    limits: dict[str, dict[date, int]] = {}
    for incident in in_force(session, ("node_closed", "node_capacity"), today):
        assert incident.node_id and incident.from_ and incident.to
        limit = 0 if incident.type == "node_closed" else incident.capacity_per_day or 0
        day = max(incident.from_, today)
        while day <= incident.to and day <= today + timedelta(days=HORIZON_DAYS):
            days = limits.setdefault(incident.node_id, {})
            days[day] = min(days.get(day, limit), limit)
            day += timedelta(days=1)
    return limits
