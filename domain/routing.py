"""Routes from a node to a customer: when the node can ship (cut-off, open days, holidays,
picking capacity) and when each carrier service delivers. The promise and the sourcing
engine both plan on these, so what is promised is what sourcing can do."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.incidents import Incident
from domain.lead_times import COLLECT, FieldPerformance, Handover, deliver_on
from domain.network import Carrier, Node
from domain.shipping_calendar import (
    MAX_LOOKAHEAD_DAYS,
    add_delivery_days,
    collection_day,
    weekday,
)

# The kind of a route that ends at the node's own counter (COLLECT, from lead_times).


@dataclass(frozen=True, slots=True)
class Route:
    node_id: str
    kind: str  # standard | express | collect
    carrier_id: str | None
    service_id: str | None
    ship_on: date  # the parcel leaves the node (at the promise's confidence)
    deliver_on: date  # delivered by (at the promise's confidence)
    cost: float
    km: float
    pick_on: date | None = None  # the picking day booked, when before ship_on


@dataclass(frozen=True, slots=True)
class FieldOutlook:
    """What the plan expects of the field beyond the published calendar: each node's
    handover days, each carrier lane's delays (learned), and the outages announced."""

    performance: FieldPerformance | None = None
    confidence: float = 1.0
    outages: tuple[Incident, ...] = ()

    def handover(self, node: Node, kind: str, now: datetime, pick_on: date) -> Handover | None:
        """When work picked on `pick_on` leaves the node, as learned; None: on that day."""
        if self.performance is None:
            return None
        return self.performance.handover(node, kind, work_starts(node, now, pick_on))

    def not_before(self, node: Node, now: datetime) -> date | None:
        """Tomorrow, when the node's backlog fills today (as learned); else None."""
        if self.performance is None or not self.performance.backlogged(node, now):
            return None
        return now.astimezone(ZoneInfo(node.timezone)).date() + timedelta(days=1)


PUBLISHED = FieldOutlook()  # the cut-offs and transit bands as configured


def work_starts(node: Node, now: datetime, pick_on: date) -> datetime:
    """When a shipment released now can be worked on: now, or its picking day's start."""
    tz = ZoneInfo(node.timezone)
    return max(now.astimezone(tz), datetime.combine(pick_on, time(0), tz))


def ship_day(
    node: Node,
    now: datetime,
    holidays: Collection[date],
    used: Mapping[date, int] | None = None,
    not_before: date | None = None,
) -> date | None:
    """First day the node can pick an order placed at `now`.

    After the cut-off (node-local time) it is tomorrow; closed days and holidays are
    skipped; so is any day whose picking capacity (shipments per day) is already used up.
    """
    local = now.astimezone(ZoneInfo(node.timezone))
    day = local.date()
    if local.time() >= node.cutoff:
        day += timedelta(days=1)
    if not_before is not None and not_before > day:
        day = not_before
    used = used or {}
    for _ in range(MAX_LOOKAHEAD_DAYS):
        if (
            weekday(day) in node.open_days
            and day not in holidays
            and used.get(day, 0) < node.pick_capacity_per_day
        ):
            return day
        day += timedelta(days=1)
    return None


def carrier_routes(
    node: Node,
    km: float,
    carriers: Mapping[str, Carrier],
    ship_on: date,
    holidays: Collection[date],
    kinds: Collection[str] = ("standard", "express"),
    handover: Handover | None = None,
    outlook: FieldOutlook = PUBLISHED,
) -> list[Route]:
    """Every carrier service of the node that reaches `km`, with its delivery day.

    `ship_on` is the picking day; `handover` when the parcel really leaves (default: that
    day). Delivery days mix the handover days with the lane's learned delays at the
    outlook's confidence, and a parcel in a carrier's announced outage waits it out."""
    handover = handover or Handover.certain(ship_on)
    frozen = holidays if isinstance(holidays, frozenset) else frozenset(holidays)
    leaves = handover.at(outlook.confidence)
    routes = []
    for carrier_id in node.carriers:
        carrier = carriers.get(carrier_id)
        if carrier is None:
            continue
        for service in carrier.services:
            if service.kind not in kinds:
                continue
            lane = outlook.performance.lane(service, km) if outlook.performance else None
            arrives = deliver_on(handover, service, km, frozen, lane, outlook.confidence)
            if arrives is None:
                continue
            if outlook.outages:
                collected = collection_day(handover.first, service, frozen) or handover.first
                arrives = _through_outages(
                    arrives, collected, carrier_id, service.id, outlook.outages, frozen
                )
            routes.append(
                Route(
                    node.id,
                    service.kind,
                    carrier_id,
                    service.id,
                    leaves,
                    arrives,
                    service.cost,
                    km,
                    ship_on,
                )
            )
    return routes


def _through_outages(
    arrives: date,
    leaves: date,
    carrier_id: str,
    service_id: str,
    outages: tuple[Incident, ...],
    holidays: frozenset[date],
) -> date:
    """A parcel stands still through a carrier's outage, then travels what was left. It is
    in the carrier's hands from the day the carrier collects it (`leaves`): an outage over
    before then only delays the parcels collected during it."""
    for outage in outages:
        if outage.carrier_id != carrier_id or outage.service_id not in (None, service_id):
            continue
        if outage.from_ is None or outage.to is None:
            continue
        if outage.from_ <= arrives and outage.to >= leaves:
            lost = (outage.to - max(outage.from_, leaves)).days + 1
            arrives = add_delivery_days(arrives + timedelta(days=lost - 1), 1, holidays)
    return arrives


def collect_route(
    node: Node, ship_on: date, ready: Handover | None = None, confidence: float = 1.0
) -> Route:
    """Picked at a store for collection at its own counter: ready the day it is picked
    (or, learned, the day it is ready at the promise's confidence)."""
    day = ready.at(confidence) if ready is not None else ship_on
    return Route(node.id, COLLECT, None, None, day, day, 0.0, 0.0, ship_on)


def best_route(routes: list[Route], promised_by: date | None) -> Route | None:
    """The cheapest route that keeps the promise, else the fastest."""
    if not routes:
        return None
    if promised_by is not None:
        keeping = [r for r in routes if r.deliver_on <= promised_by]
        if keeping:
            return min(keeping, key=lambda r: (r.cost, r.deliver_on, r.service_id or ""))
    return min(routes, key=lambda r: (r.deliver_on, r.cost, r.service_id or ""))
