"""The simulated field: warehouses and stores that pick, short-pick and ship; carriers that
deliver, sometimes late; support agents who decide on the exception queue; customers who
change their mind. They learn what the OMS asks of them as real ones do (the notifications
its outbox sends, the bookings its carriers receive) and answer through its HTTP API, at
the virtual time things happen.

The field obeys the scenario's incidents from their first day, whether or not the OMS has
been told yet: a node closed on Monday does not pick on Monday, even if the closure is
reported at noon.
"""

import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import Session

from db.tables import CarrierBookingRow, OutboxRow
from domain.geo import distance_km
from domain.network import CarrierService, NetworkDocument, Node
from domain.order_lifecycle import IN_STORE_COLLECTION
from domain.shipping_calendar import (
    add_delivery_days,
    collection_day,
    delivery_date,
    weekday,
)
from simulator.oms_client import OmsClient
from simulator.scenario import Delay, Scenario

SHIP_AFTER_PICK = timedelta(minutes=30)
DELIVERY_TIME = time(14)  # carriers deliver early afternoon, local time


class Outbox:
    """The OMS's outbox, read as a relay to the field's systems would: each notification
    once, in the order written. A row written a little before one already read may commit
    after it, so each read looks back a minute and skips what it has seen."""

    LOOK_BACK = timedelta(minutes=1)
    # What the field acts on.
    TOPICS = ("release_for_picking", "cancel_picking", "order_delayed", "transfer_to_pick")

    def __init__(self, engine: Engine):
        self.engine = engine
        self.since: datetime | None = None  # as the database gives it back
        self.seen: set[str] = set()

    def new(self) -> list[Any]:
        table = OutboxRow.__table__  # type: ignore[attr-defined]
        query = (
            select(
                table.c.key,
                table.c.order_id,
                table.c.recipient,
                table.c.recipient_id,
                table.c.topic,
                table.c.payload,
                table.c.created_at,
            )
            .where(table.c.topic.in_(self.TOPICS))
            .order_by(table.c.created_at, table.c.key)
        )
        if self.since is not None:
            query = query.where(table.c.created_at >= self.since)
        with self.engine.connect() as connection:
            fresh = [row for row in connection.execute(query) if row.key not in self.seen]
        for row in fresh:
            self.seen.add(row.key)
            since = row.created_at - self.LOOK_BACK
            self.since = since if self.since is None else max(self.since, since)
        return fresh


def booked_service(engine: Engine, shipment_id: str) -> str | None:
    """The service the OMS booked for a shipment, from the (simulated) carrier's book."""
    with Session(engine) as session:
        row = session.get(CarrierBookingRow, shipment_id)
        return row.service_id if row else None


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    order_id: str = field(compare=False)
    act: Callable[[], Awaitable[None]] = field(compare=False)


@dataclass
class FieldStats:
    picks: int = 0
    short_picks: int = 0
    late_picks: int = 0  # picked after the node's SLA
    carrier_delays: int = 0
    support_decisions: int = 0
    customer_cancellations: int = 0


class Field:
    def __init__(
        self,
        scenario: Scenario,
        oms: OmsClient,
        engine: Engine,
        clock: Callable[[], datetime],
    ):
        self.scenario = scenario
        self.clock = clock
        self.behaviour = scenario.field
        self.oms = oms
        self.engine = engine
        self.outbox = Outbox(engine)
        self.rng = random.Random(scenario.demand.seed + 1)
        network: NetworkDocument = scenario.network
        self.nodes: dict[str, Node] = {n.id: n for n in network.nodes}
        self.services: dict[str, CarrierService] = {
            s.id: s for c in network.carriers for s in c.services
        }
        self.holidays = frozenset(network.calendar.holidays) if network.calendar else frozenset()
        self.points: dict[str, tuple[float, float]] = {}  # order -> where it is delivered
        self.stats = FieldStats()
        self._due: list[_Due] = []
        self._seq = itertools.count()
        self._picks: dict[tuple[str, date], int] = defaultdict(int)
        self._withdrawn: set[str] = set()  # shipments the OMS took back from their node
        self._support: dict[str, int] = defaultdict(int)  # order -> decisions so far
        self._support_pending: set[str] = set()
        # Who moves transfers (simulator/stores.py), when the rehearsal has stores.
        self.on_transfer: Callable[[dict, datetime], None] | None = None

    # --- Scheduling -------------------------------------------------------------------

    def at(self, when: datetime, order_id: str, act: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._due, _Due(when, next(self._seq), order_id, act))

    def due(self, now: datetime) -> list[_Due]:
        out = []
        while self._due and self._due[0].at <= now:
            out.append(heapq.heappop(self._due))
        return out

    def placed(
        self,
        order_id: str,
        point: tuple[float, float],
        placed_at: datetime,
        cancels_after: timedelta | None,
    ) -> None:
        self.points[order_id] = point
        if cancels_after is not None:
            self.at(placed_at + cancels_after, order_id, lambda: self._customer_cancels(order_id))

    # --- What the OMS tells the field -------------------------------------------------

    def read_notifications(self, now: datetime) -> None:
        for note in self.outbox.new():
            payload = note.payload
            if note.recipient == "node" and note.topic == "release_for_picking":
                self._released(note.recipient_id, note.order_id, payload, now)
            elif note.topic == "transfer_to_pick" and self.on_transfer is not None:
                self.on_transfer(payload, now)
            elif note.recipient == "node" and note.topic == "cancel_picking":
                self._withdrawn.add(payload["shipment_id"])
            elif note.recipient == "customer" and note.topic == "order_delayed":
                if note.order_id not in self._support_pending:
                    self._support_pending.add(note.order_id)
                    later = now + timedelta(hours=self.behaviour.support_after_hours)
                    self.at(later, note.order_id, self._support_for(note.order_id))

    def _support_for(self, order_id: str) -> Callable[[], Awaitable[None]]:
        return lambda: self._support_decides(order_id)

    def _released(self, node_id: str, order_id: str, payload: dict, now: datetime) -> None:
        node = self.nodes[node_id]
        pick_by = datetime.fromisoformat(payload["pick_by"]) if payload.get("pick_by") else None
        when = self._pick_time(node, now, pick_by)
        sid = payload["shipment_id"]
        lines = {x["line_id"]: x["qty"] for x in payload["lines"]}
        carrier = payload.get("carrier_id") or IN_STORE_COLLECTION
        self.at(when, order_id, lambda: self._pick(node, order_id, sid, lines, carrier, pick_by))

    # --- Nodes ------------------------------------------------------------------------

    def _pick_time(self, node: Node, released: datetime, pick_by: datetime | None) -> datetime:
        """The node works on its picking day (the OMS's slot), from the start of picking, on
        days it is open and within its real capacity, plus its own delay."""
        tz = ZoneInfo(node.timezone)
        local = released.astimezone(tz)
        # pick_by is the end (midnight) of the day the OMS gave the shipment a slot on.
        slot = (pick_by.astimezone(tz) - timedelta(microseconds=1)).date() if pick_by else None
        day = max(local.date(), slot or local.date())
        for _ in range(60):
            closes = datetime.combine(day, node.cutoff, tz)
            if self._works(node, day) and local < closes:
                self._picks[(node.id, day)] += 1
                begin = max(local, datetime.combine(day, self.behaviour.picking_starts, tz))
                return begin + timedelta(hours=self._delay(node.id))
            day += timedelta(days=1)
        return released + timedelta(days=60)

    def _works(self, node: Node, day: date) -> bool:
        if weekday(day) not in node.open_days or day in self.holidays:
            return False
        capacity = node.pick_capacity_per_day
        for incident in self.scenario.incidents:
            if incident.node_id != node.id or incident.from_ is None or incident.to is None:
                continue
            if not incident.from_ <= day <= incident.to:
                continue
            if incident.type == "node_closed":
                return False
            if incident.type == "node_capacity" and incident.capacity_per_day is not None:
                capacity = min(capacity, incident.capacity_per_day)
        return self._picks[(node.id, day)] < capacity

    def _delay(self, node_id: str) -> float:
        delay: Delay = self.behaviour.node_pick_delay.get(node_id, self.behaviour.pick_delay)
        return self.rng.triangular(delay.min_hours, delay.max_hours, delay.mode_hours)

    async def _pick(
        self,
        node: Node,
        order_id: str,
        sid: str,
        lines: dict[str, int],
        carrier: str,
        pick_by: datetime | None,
    ) -> None:
        if sid in self._withdrawn:
            return  # the OMS moved it elsewhere before the node got to it
        now = self.clock()
        self.stats.picks += 1
        if pick_by is not None and now > pick_by:
            self.stats.late_picks += 1
        missing = {
            line_id: self.rng.randint(1, qty)
            for line_id, qty in lines.items()
            if self.rng.random() < self.behaviour.pick_error_rate
        }
        path = f"/v1/nodes/{node.id}/events"
        if missing:
            short = self._node_event(sid, order_id, "short_picked", missing)
            status, _ = await self.oms.field(path, short, ("node", node.id))
            # Refused when the OMS already took those units off the shipment (a count):
            # the node then picks what the shipment holds now.
            self.stats.short_picks += status < 400
            if status < 400 and all(missing.get(line) == qty for line, qty in lines.items()):
                return  # nothing left to pick
        # Picked and shipped without lines: everything the shipment still holds.
        status, _ = await self.oms.field(
            path, self._node_event(sid, order_id, "picked", {}), ("node", node.id)
        )
        if status >= 400:
            return
        if carrier == IN_STORE_COLLECTION:
            ready = now + timedelta(hours=self.behaviour.ready_for_collection_hours)
            self.at(
                ready, order_id, lambda: self._delivered(IN_STORE_COLLECTION, sid, ready, node.id)
            )
        else:
            shipped = now + SHIP_AFTER_PICK
            self.at(shipped, order_id, lambda: self._ship(node, order_id, sid, carrier))

    async def _ship(self, node: Node, order_id: str, sid: str, carrier: str) -> None:
        if sid in self._withdrawn:
            return
        status, _ = await self.oms.field(
            f"/v1/nodes/{node.id}/events",
            self._node_event(sid, order_id, "shipped", {}),
            ("node", node.id),
        )
        if status >= 400:
            return
        arrives = self._arrival(node, order_id, sid, carrier, self.clock())
        self.at(arrives, order_id, lambda: self._delivered(carrier, sid, arrives))

    # --- Carriers ---------------------------------------------------------------------

    def _arrival(
        self, node: Node, order_id: str, sid: str, carrier: str, shipped: datetime
    ) -> datetime:
        """The carrier's published transit from the day it collects, then its delays:
        random ones, and the days of an outage while it has the parcel."""
        tz = ZoneInfo(node.timezone)
        local = shipped.astimezone(tz)
        handed_over = local.date() + timedelta(days=1 if local.time() > node.cutoff else 0)
        service = self.services.get(booked_service(self.engine, sid) or "")
        lat, lon = self.points.get(order_id, (node.lat, node.lon))
        km = distance_km(node.lat, node.lon, lat, lon)
        chance = self.behaviour.carrier_delay_by_carrier.get(
            carrier, self.behaviour.carrier_delay_probability
        )
        late = 0
        if self.rng.random() < chance:
            self.stats.carrier_delays += 1
            late = self.rng.randint(1, self.behaviour.carrier_delay_days)
        outages = [i for i in self.scenario.incidents if i.type == "carrier_outage"]
        day = arrival_day(handed_over, carrier, service, km, self.holidays, late, outages)
        return datetime.combine(day, DELIVERY_TIME, tz)

    async def _delivered(
        self, carrier: str, sid: str, when: datetime, store_id: str | None = None
    ) -> None:
        """The carrier delivered, or the store (`store_id`) handed a collection over."""
        if sid in self._withdrawn:
            return
        speaker = ("node", store_id) if store_id else ("carrier", carrier)
        await self.oms.field(
            f"/v1/carriers/{carrier}/events",
            {
                "event_id": f"{sid}-delivered",
                "type": "delivered",
                "shipment_id": sid,
                "at": when.isoformat(),
            },
            speaker,
        )

    # --- Support and customers --------------------------------------------------------

    async def _support_decides(self, order_id: str) -> None:
        """First try again (stock may have come back), then accept what can come, and if
        nothing can, cancel."""
        self._support_pending.discard(order_id)
        self._support[order_id] += 1
        self.stats.support_decisions += 1
        action = "retry" if self._support[order_id] == 1 else "accept_partial"
        status, answer = await self.oms.post(
            f"/v1/orders/{order_id}/resolve",
            {"action": action, "note": "simulated agent"},
            role="support",
        )
        if status >= 400 and "nothing would be delivered" in str(answer):
            await self.oms.post(
                f"/v1/orders/{order_id}/cancel",
                {"reason": "nothing can be delivered"},
                role="support",
            )

    async def _customer_cancels(self, order_id: str) -> None:
        status, answer = await self.oms.post(
            f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"}, role="checkout"
        )
        if status < 400 and answer and answer.get("cancelled"):
            self.stats.customer_cancellations += 1

    # --- Helpers ----------------------------------------------------------------------

    @staticmethod
    def _node_event(sid: str, order_id: str, kind: str, lines: dict[str, int]) -> dict:
        return {
            "event_id": f"{sid}-{kind}",
            "type": kind,
            "order_id": order_id,
            "shipment_id": sid,
            "lines": [{"line_id": line, "qty": qty} for line, qty in lines.items()],
        }


def arrival_day(
    handed_over: date,
    carrier: str,
    service: CarrierService | None,
    km: float,
    holidays: frozenset[date],
    late: int,
    outages: list,
) -> date:
    """The day a parcel handed over on `handed_over` is delivered: the service's published
    transit from its first pickup day, `late` delivery days more, and a stand-still through
    each outage of the service while the carrier has the parcel (from its pickup day).
    Carriers deliver on delivery days only (Monday to Saturday, holidays excluded)."""
    day = delivery_date(handed_over, service, km, holidays) if service else None
    day = day or handed_over + timedelta(days=3)
    collected = (collection_day(handed_over, service, holidays) if service else None) or handed_over
    day = add_delivery_days(day, late, holidays)
    for outage in outages:
        if outage.carrier_id != carrier or not (outage.from_ and outage.to):
            continue
        if outage.service_id not in (None, service.id if service else None):
            continue
        if outage.from_ <= day and outage.to >= collected:
            lost = (outage.to - max(outage.from_, collected)).days + 1
            day = add_delivery_days(day + timedelta(days=lost - 1), 1, holidays)
    return day
