"""Sourcing: which nodes and carrier services fulfil which lines of an order.

First rule (the configurable rule engine replaces it later): the nearest node that can
serve every line in full; otherwise each line from the nearest node that has it in full;
otherwise the line is split across the nearest nodes that have some.
"""

from collections.abc import Collection
from datetime import date, datetime

from pydantic import BaseModel

from domain.errors import InsufficientStock
from domain.geo import distance_km
from domain.network import Carrier, CarrierService, Node
from domain.order import OrderLine
from domain.shipping_calendar import delivery_date, ship_date


class NodeOffer(BaseModel):
    """A node and what it can give an online order, per SKU (ATP after protection)."""

    node: Node
    atp: dict[str, int]


class PlannedLine(BaseModel):
    line_id: str
    sku: str
    qty: int


class PlannedShipment(BaseModel):
    node_id: str
    lines: list[PlannedLine]
    carrier_id: str | None  # None: collected at the node itself
    service_id: str | None
    distance_km: float
    ship_on: date
    deliver_by: date

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class SourcingPlan(BaseModel):
    shipments: list[PlannedShipment]
    deliver_by: date  # the latest shipment's date: when the order is complete
    explanation: list[str]


class Destination(BaseModel):
    lat: float
    lon: float
    pickup_node_id: str | None = None  # click and collect: the store that hands over


class Unsourceable(InsufficientStock):
    """No plan serves every unit; `missing` maps line ids to the units nobody has."""

    def __init__(self, missing: dict[str, int], reason: str):
        super().__init__(reason)
        self.missing = missing


def source_order(
    lines: list[OrderLine],
    destination: Destination,
    offers: list[NodeOffer],
    carriers: list[Carrier],
    holidays: Collection[date],
    now: datetime,
    promised_by: date | None = None,
) -> SourcingPlan:
    """Plan an order with the nearest-node rule; raise Unsourceable if stock is short."""
    services = {c.id: c.services for c in carriers}
    reachable: list[tuple[float, NodeOffer]] = []
    explanation: list[str] = []
    for offer in offers:
        km = distance_km(offer.node.lat, offer.node.lon, destination.lat, destination.lon)
        if _route(offer.node, km, services, holidays, now, promised_by, destination) is None:
            explanation.append(f"{offer.node.id}: no carrier service reaches {km:.0f} km")
            continue
        reachable.append((km, offer))
    reachable.sort(key=lambda pair: (pair[0], pair[1].node.id))

    remaining = {offer.node.id: dict(offer.atp) for _, offer in reachable}
    allocation: dict[str, list[PlannedLine]] = {}

    def take(node_id: str, line: OrderLine, qty: int) -> None:
        remaining[node_id][line.sku] = remaining[node_id].get(line.sku, 0) - qty
        allocation.setdefault(node_id, []).append(
            PlannedLine(line_id=line.line_id, sku=line.sku, qty=qty)
        )

    needed: dict[str, int] = {}
    for line in lines:  # two lines may ask for the same SKU
        needed[line.sku] = needed.get(line.sku, 0) + line.qty
    whole = next(
        (o for _, o in reachable if all(o.atp.get(sku, 0) >= q for sku, q in needed.items())),
        None,
    )
    missing: dict[str, int] = {}
    if whole is not None:
        explanation.append(f"{whole.node.id}: nearest node with every line in full")
        for line in lines:
            take(whole.node.id, line, line.qty)
    else:
        explanation.append("no single node has every line in full: splitting")
        for line in lines:
            full = next(
                (o for _, o in reachable if remaining[o.node.id].get(line.sku, 0) >= line.qty),
                None,
            )
            if full is not None:
                take(full.node.id, line, line.qty)
                explanation.append(f"line {line.line_id}: {full.node.id}, nearest in full")
                continue
            left = line.qty
            for _, offer in reachable:
                here = min(left, remaining[offer.node.id].get(line.sku, 0))
                if here > 0:
                    take(offer.node.id, line, here)
                    explanation.append(f"line {line.line_id}: {here} from {offer.node.id}")
                    left -= here
                if left == 0:
                    break
            if left:
                missing[line.line_id] = left
    if missing:
        detail = ", ".join(f"line {lid} short of {qty}" for lid, qty in missing.items())
        raise Unsourceable(missing, f"not enough stock in the network: {detail}")

    by_id = {offer.node.id: (km, offer) for km, offer in reachable}
    shipments = []
    for node_id, planned in allocation.items():
        km, offer = by_id[node_id]
        route = _route(offer.node, km, services, holidays, now, promised_by, destination)
        assert route is not None  # reachable nodes have a route
        carrier_id, service, ship_on, deliver_by = route
        shipments.append(
            PlannedShipment(
                node_id=node_id,
                lines=planned,
                carrier_id=carrier_id,
                service_id=service.id if service else None,
                distance_km=round(km, 1),
                ship_on=ship_on,
                deliver_by=deliver_by,
            )
        )
    return SourcingPlan(
        shipments=shipments,
        deliver_by=max(s.deliver_by for s in shipments),
        explanation=explanation,
    )


def _route(
    node: Node,
    km: float,
    services: dict[str, list[CarrierService]],
    holidays: Collection[date],
    now: datetime,
    promised_by: date | None,
    destination: Destination,
) -> tuple[str | None, CarrierService | None, date, date] | None:
    """Carrier service and dates for one node: the cheapest that keeps the promise,
    else the fastest. A click-and-collect store serving its own counter needs no carrier."""
    ship_on = ship_date(node, now, holidays)
    if ship_on is None:
        return None
    if destination.pickup_node_id == node.id:
        return None, None, ship_on, ship_on
    options = []
    for carrier_id in node.carriers:
        for service in services.get(carrier_id, []):
            arrives = delivery_date(ship_on, service, km, holidays)
            if arrives is not None:
                options.append((carrier_id, service, ship_on, arrives))
    if not options:
        return None
    keeping = [o for o in options if promised_by is None or o[3] <= promised_by]
    if keeping and promised_by is not None:
        return min(keeping, key=lambda o: (o[1].cost, o[3], o[1].id))
    return min(options, key=lambda o: (o[3], o[1].cost, o[1].id))
