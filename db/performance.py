"""The field's record of each released shipment, and what the OMS learns from it."""

import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from db import incidents
from db.engine import upsert
from db.tables import ShipmentOutcomeRow
from domain.lead_times import COLLECT, SHIP, FieldPerformance, Outcome, learn
from domain.order import OrderView, ShipmentStatus
from domain.supply_chain import SupplyChain

RECENT = 20_000  # shipments read to learn from, newest start first: a rolling window
OPEN = (ShipmentStatus.RELEASED.value, ShipmentStatus.PICKED.value)


def outcome_values(view: OrderView) -> list[dict]:
    """A row per shipment released to a node, as the order's view has it now."""
    rows = []
    for s in view.shipments:
        if s.released_at is None:
            continue
        started = s.released_at
        if s.pick_by is not None:  # the end of its picking day: work starts that morning
            started = max(started, s.pick_by - timedelta(days=1))
        rows.append(
            dict(
                shipment_id=s.shipment_id,
                order_id=view.order_id,
                node_id=s.node_id,
                kind=SHIP if s.service_id else COLLECT,
                status=s.status.value,
                carrier_id=s.carrier_id,
                service_id=s.service_id,
                distance_km=s.distance_km,
                released_at=s.released_at,
                started_at=started,
                ship_by=s.ship_by,
                handed_over_at=s.shipped_at,
                delivered_at=s.delivered_at,
            )
        )
    return rows


def record_outcomes(session: Session, rows: list[dict]) -> None:
    """Upsert the shipments' outcomes (one statement; a replay writes the same values)."""
    if not rows:
        return
    statement = upsert(session, ShipmentOutcomeRow).values(rows)
    changing = ("status", "handed_over_at", "delivered_at", "ship_by")
    session.exec(
        statement.on_conflict_do_update(
            index_elements=[ShipmentOutcomeRow.shipment_id],
            set_={name: statement.excluded[name] for name in changing},
        )
    )


def load_performance(session: Session, chain: SupplyChain, now: datetime) -> FieldPerformance:
    """Learn from the shipments most recently started (handed over or still open) and the
    work waiting at each node, as of `now`."""
    t = ShipmentOutcomeRow
    columns = (
        col(t.node_id),
        col(t.kind),
        col(t.started_at),
        col(t.handed_over_at),
        col(t.carrier_id),
        col(t.service_id),
        col(t.distance_km),
        col(t.delivered_at),
        col(t.ship_by),
    )
    # Plain rows of columns, through the session's connection: many columns, no ORM objects.
    started = session.connection().execute(
        select_columns(*columns)
        .where(
            col(t.handed_over_at).is_not(None)
            | (col(t.status).in_(OPEN) & (col(t.started_at) <= now))
        )
        .order_by(col(t.started_at).desc())
        .limit(RECENT)
    )
    outcomes = [Outcome(*row) for row in started]
    open_work: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    waiting = session.exec(
        select(t.node_id, t.started_at).where(
            col(t.handed_over_at).is_(None), col(t.status).in_(OPEN)
        )
    )
    for node_id, started_at in waiting:
        node = chain.by_id.get(node_id)
        if node is not None:
            open_work[node_id][started_at.astimezone(ZoneInfo(node.timezone)).date()] += 1
    services = {s.id: s for c in chain.carriers.values() for s in c.services}
    oldest = min((o.started_at for o in outcomes), default=now).date()
    outages = incidents.in_force(session, ("carrier_outage",), oldest)
    return learn(outcomes, chain.by_id, services, chain.holidays, now, open_work, outages)


class PerformanceCache:
    """What the field taught, learned again as the field's clock moves on: planning an
    order must not read thousands of outcomes each time. It learns again once `every` has
    passed on the caller's clock (a rehearsal's hours pass in seconds), or `max_age`
    seconds on the wall, and never twice in a second."""

    def __init__(self, every: timedelta = timedelta(minutes=10), max_age: float = 10.0):
        self.every = every
        self.max_age = max_age
        self._learned: FieldPerformance | None = None
        self._learned_at: datetime | None = None  # on the caller's clock
        self._at = 0.0  # on the wall
        self._lock = threading.Lock()

    def get(self, session: Session, chain: SupplyChain, now: datetime) -> FieldPerformance:
        with self._lock:
            age = time.monotonic() - self._at
            stale = (
                self._learned is None
                or self._learned_at is None
                or abs(now - self._learned_at) >= self.every
                or age > self.max_age
            )
            if stale and (self._learned is None or age >= 1.0):
                self._learned = load_performance(session, chain, now)
                self._learned_at = now
                self._at = time.monotonic()
            assert self._learned is not None
            return self._learned
