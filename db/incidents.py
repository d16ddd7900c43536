"""Incidents in force: closures and capacity drops limit picking days; carrier outages
take services off the plans."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, func, select

from db.tables import IncidentOrderRow, IncidentRow
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


def list_touched(
    session: Session,
    incident_id: str,
    orders: dict[str, tuple[list[str], dict[str, dict[str, int]]]],
) -> bool:
    """Keep the orders an incident touches (order -> shipments to move, units lost), once:
    False, and nothing written, if they were listed already. Call with the incident's row
    locked (`listing`), so two attempts never list twice."""
    row = session.get(IncidentRow, incident_id)
    if row is None or row.touched is not None:
        return False
    for order_id, (shipment_ids, lost) in orders.items():
        session.add(
            IncidentOrderRow(
                incident_id=incident_id, order_id=order_id, shipment_ids=shipment_ids, lost=lost
            )
        )
    row.touched = len(orders)
    session.flush()
    return True


def listing(session: Session, incident_id: str) -> IncidentRow | None:
    """The incident's row, locked until the end of the transaction."""
    return session.get(IncidentRow, incident_id, with_for_update=True)


def touched_page(
    session: Session, incident_id: str, after: str | None, limit: int
) -> list[IncidentOrderRow]:
    """The next `limit` orders the incident touches after order `after`, by order id."""
    query = select(IncidentOrderRow).where(IncidentOrderRow.incident_id == incident_id)
    if after is not None:
        query = query.where(col(IncidentOrderRow.order_id) > after)
    return list(session.exec(query.order_by(col(IncidentOrderRow.order_id)).limit(limit)))


def touched_orders(
    session: Session, incident_id: str
) -> tuple[list[str], list[IncidentOutcome]] | None:
    """Every order the incident touches and the outcomes heard so far, by order id; None
    for an incident whose orders were never listed here (handled the older way: its
    workflow holds them)."""
    row = session.get(IncidentRow, incident_id)
    if row is None or row.touched is None:
        return None
    query = select(IncidentOrderRow).where(IncidentOrderRow.incident_id == incident_id)
    rows = list(session.exec(query.order_by(col(IncidentOrderRow.order_id))))
    return [r.order_id for r in rows], [
        IncidentOutcome.model_validate(
            {"order_id": r.order_id, "outcome": r.outcome, "detail": r.detail}
        )
        for r in rows
        if r.outcome is not None
    ]


def save_outcomes(
    session: Session, incident_id: str, outcomes: list[IncidentOutcome], final: bool = True
) -> int:
    """Merge outcomes into what was saved before: an order's first answer stays, saving
    the same outcomes again changes nothing, earlier pages are kept. `final` marks the
    incident handled. Returns how many orders have answered in all."""
    row = session.get(IncidentRow, incident_id, with_for_update=True)
    if row is None:
        return 0
    if row.touched is None:  # handled the older way: the outcomes live on the row
        known = {o["order_id"] for o in row.outcomes}
        row.outcomes = [
            *row.outcomes,
            *(o.model_dump() for o in _first_of_each(outcomes) if o.order_id not in known),
        ]
        answered = len(row.outcomes)
    else:
        heard = {o.order_id: o for o in _first_of_each(outcomes)}
        query = select(IncidentOrderRow).where(
            IncidentOrderRow.incident_id == incident_id,
            col(IncidentOrderRow.order_id).in_(list(heard)),
        )
        for order in session.exec(query):
            outcome = heard.pop(order.order_id)
            if order.outcome is None:
                order.outcome, order.detail = outcome.outcome, outcome.detail
        for outcome in heard.values():  # an answer from an order not listed is kept too
            session.add(
                IncidentOrderRow(
                    incident_id=incident_id,
                    order_id=outcome.order_id,
                    shipment_ids=[],
                    lost={},
                    outcome=outcome.outcome,
                    detail=outcome.detail,
                )
            )
        session.flush()
        answered = session.exec(
            select(func.count())
            .select_from(IncidentOrderRow)
            .where(
                IncidentOrderRow.incident_id == incident_id,
                col(IncidentOrderRow.outcome).is_not(None),
            )
        ).one()
    if final and row.status == "open":  # a lifted incident stays lifted
        row.status = "handled"
    return answered


def _first_of_each(outcomes: list[IncidentOutcome]) -> list[IncidentOutcome]:
    first: dict[str, IncidentOutcome] = {}
    for outcome in outcomes:
        first.setdefault(outcome.order_id, outcome)
    return list(first.values())


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
