"""Routes from a node to a customer: when the node can ship (cut-off, open days, holidays,
picking capacity) and when each carrier service delivers. The promise and the sourcing
engine both plan on these, so what is promised is what sourcing can do."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.network import Carrier, Node
from domain.shipping_calendar import MAX_LOOKAHEAD_DAYS, delivery_date, weekday

COLLECT = "collect"  # the kind of a route that ends at the node's own counter


@dataclass(frozen=True, slots=True)
class Route:
    node_id: str
    kind: str  # standard | express | collect
    carrier_id: str | None
    service_id: str | None
    ship_on: date
    deliver_on: date
    cost: float
    km: float


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
) -> list[Route]:
    """Every carrier service of the node that reaches `km`, with its delivery day."""
    routes = []
    for carrier_id in node.carriers:
        carrier = carriers.get(carrier_id)
        if carrier is None:
            continue
        for service in carrier.services:
            if service.kind not in kinds:
                continue
            arrives = delivery_date(ship_on, service, km, holidays)
            if arrives is not None:
                routes.append(
                    Route(
                        node.id,
                        service.kind,
                        carrier_id,
                        service.id,
                        ship_on,
                        arrives,
                        service.cost,
                        km,
                    )  # fmt: skip
                )
    return routes


def collect_route(node: Node, ship_on: date) -> Route:
    """Picked at a store for collection at its own counter: ready the day it is picked."""
    return Route(node.id, COLLECT, None, None, ship_on, ship_on, 0.0, 0.0)


def best_route(routes: list[Route], promised_by: date | None) -> Route | None:
    """The cheapest route that keeps the promise, else the fastest."""
    if not routes:
        return None
    if promised_by is not None:
        keeping = [r for r in routes if r.deliver_on <= promised_by]
        if keeping:
            return min(keeping, key=lambda r: (r.cost, r.deliver_on, r.service_id or ""))
    return min(routes, key=lambda r: (r.deliver_on, r.cost, r.service_id or ""))
