"""Picking capacity: each shipment released to a node takes a slot on one of its days.

The promise and the sourcing engine read the same counters, so a full day at a node
pushes both the promised date and the plan to its next open day.
"""

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from db import incidents
from db.tables import CapacityBookingRow, CapacityRow
from domain.network import Node
from domain.shipping_calendar import MAX_LOOKAHEAD_DAYS, weekday


def book(
    session: Session, shipment_id: str, node: Node, not_before: date, holidays: Collection[date]
) -> date | None:
    """Take a slot for the shipment on the node's first open day with room; the same
    shipment booked again keeps its day. None when the node is full for weeks."""
    existing = session.get(CapacityBookingRow, shipment_id)
    if existing is not None and existing.status == "booked":
        return existing.day
    now = datetime.now(UTC)
    limits = incidents.picking_limits(session, not_before).get(node.id, {})
    day = not_before
    for _ in range(MAX_LOOKAHEAD_DAYS):
        room = min(node.pick_capacity_per_day, limits.get(day, node.pick_capacity_per_day))
        if (
            weekday(day) in node.open_days
            and day not in holidays
            and _take(session, node, day, room, now)
        ):
            if existing is None:
                session.add(
                    CapacityBookingRow(shipment_id=shipment_id, node_id=node.id, day=day, at=now)
                )
            else:
                existing.node_id, existing.day, existing.status, existing.at = (
                    node.id,
                    day,
                    "booked",
                    now,
                )
            session.flush()
            return day
        day += timedelta(days=1)
    return None


def release(session: Session, shipment_id: str) -> date | None:
    """Give the shipment's slot back (order cancelled or taken back from the node)."""
    booking = session.get(CapacityBookingRow, shipment_id, with_for_update=True)
    if booking is None or booking.status != "booked":
        return None
    row = session.get(CapacityRow, (booking.node_id, booking.day), with_for_update=True)
    if row is not None and row.used > 0:
        row.used -= 1
        row.updated_at = datetime.now(UTC)
    booking.status = "released"
    session.flush()
    return booking.day


def usage(
    session: Session, from_day: date, node_ids: Iterable[str] | None = None
) -> dict[str, dict[date, int]]:
    """Slots taken per node and day, from `from_day` on."""
    query = select(CapacityRow).where(CapacityRow.day >= from_day, CapacityRow.used > 0)
    if node_ids is not None:
        query = query.where(col(CapacityRow.node_id).in_(sorted(set(node_ids))))
    out: dict[str, dict[date, int]] = {}
    for row in session.exec(query):
        out.setdefault(row.node_id, {})[row.day] = row.used
    return out


def effective_usage(
    session: Session, nodes: dict[str, Node], from_day: date
) -> dict[str, dict[date, int]]:
    """Slots taken, plus the slots an incident (closure, labour shortage) takes away: what
    the promise and sourcing plan with, against each node's normal capacity."""
    used = usage(session, from_day, None)
    for node_id, days in incidents.picking_limits(session, from_day).items():
        node = nodes.get(node_id)
        if node is None:
            continue
        at_node = used.setdefault(node_id, {})
        for day, limit in days.items():
            lost = max(0, node.pick_capacity_per_day - limit)
            at_node[day] = at_node.get(day, 0) + lost
    return used


def _take(session: Session, node: Node, day: date, room: int, now: datetime) -> bool:
    """One conditional upsert: the slot is taken only if the day still has room."""
    if room <= 0:
        return False
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = CapacityRow.__table__  # type: ignore[attr-defined]
    statement = (
        dialect.insert(table)
        .values(node_id=node.id, day=day, used=1, updated_at=now)
        .on_conflict_do_update(
            index_elements=["node_id", "day"],
            set_={"used": table.c.used + 1, "updated_at": now},
            where=table.c.used < room,
        )
        .returning(table.c.used)
    )
    return session.exec(statement).first() is not None


def booked_at(session: Session, node_id: str, days: tuple[date, date]) -> list[CapacityBookingRow]:
    """Shipments holding a slot at the node within the days, oldest booking first."""
    query = select(CapacityBookingRow).where(
        CapacityBookingRow.node_id == node_id,
        CapacityBookingRow.status == "booked",
        CapacityBookingRow.day >= days[0],
        CapacityBookingRow.day <= days[1],
    )
    return list(
        session.exec(query.order_by(col(CapacityBookingRow.day), col(CapacityBookingRow.at)))
    )
