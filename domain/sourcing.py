"""Sourcing: which nodes and carrier services fulfil which lines of an order.

The rule engine: each node is first checked against the hard constraints of the policy
(excluded, stores allowed, stock after safety stock and store protection, picking
capacity, a carrier that reaches the customer). Candidate plans are then built (one node
for everything, or splits within the policy's limit) and ranked by a weighted score over
cost, lead time, distance, splits and the share of units taken from stores. A plan that
keeps the promised date always beats one that does not. Every plan explains itself.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from domain.errors import InsufficientStock
from domain.geo import distance_km
from domain.lead_times import COLLECT, SHIP, Handover
from domain.network import Carrier, Node
from domain.order import OrderLine
from domain.policy import DEFAULT_POLICY, SourcingPolicy
from domain.routing import (
    PUBLISHED,
    FieldOutlook,
    Route,
    best_route,
    carrier_routes,
    collect_route,
    ship_day,
)


@dataclass(slots=True)
class NodeOffer:
    """A node and what it can give an online order: ATP per SKU (after safety stock and
    store protection) and the shipments already booked on its picking days."""

    node: Node
    atp: dict[str, int]
    capacity_used: dict[date, int] = field(default_factory=dict)
    ship_on: date | None = None  # when known already (the promise computes it once a minute)
    handover: Handover | None = None  # when its parcels leave, learned (likewise)
    ready: Handover | None = None  # when its click and collect parcels are ready (likewise)


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
    ship_on: date  # handed over (at the promise's confidence)
    deliver_by: date
    cost: float = 0.0  # shipping + picking
    pick_on: date | None = None  # the picking day to book, when before ship_on
    ship_by: datetime | None = None  # the handover the plan counts on: ship_on's cut-off

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class PlanScore(BaseModel):
    total: float
    cost: float
    lead_time_days: int
    distance_km: float
    splits: int
    store_share: float


class SourcingPlan(BaseModel):
    shipments: list[PlannedShipment]
    deliver_by: date  # the latest shipment's date: when the order is complete
    meets_promise: bool = True
    policy: str = DEFAULT_POLICY.name
    policy_version: int = 0
    reroute: bool = True  # the policy lets the order move off a failing node
    score: PlanScore | None = None
    explanation: list[str]


@dataclass(slots=True)
class Destination:
    lat: float
    lon: float
    pickup_node_id: str | None = None  # click and collect: the store that hands over
    _km: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def km_from(self, node: Node) -> float:
        """Distance from a node, remembered: the promise asks it of every node, per option."""
        km = self._km.get(node.id)
        if km is None:
            km = self._km[node.id] = distance_km(node.lat, node.lon, self.lat, self.lon)
        return km


class Unsourceable(InsufficientStock):
    """No plan serves every unit; `missing` maps line ids to the units nobody has."""

    def __init__(self, missing: dict[str, int], reason: str):
        super().__init__(reason)
        self.missing = missing


@dataclass(slots=True)
class _Candidate:
    node: Node
    route: Route
    atp: dict[str, int]
    rank: float  # the score of this node serving alone, to order the greedy splits


def source_order(
    lines: list[OrderLine],
    destination: Destination,
    offers: list[NodeOffer],
    carriers: Collection[Carrier] | Mapping[str, Carrier],
    holidays: Collection[date],
    now: datetime,
    promised_by: date | None = None,
    policy: SourcingPolicy = DEFAULT_POLICY,
    kinds: Collection[str] = ("standard", "express"),
    explain: bool = True,
    outlook: FieldOutlook = PUBLISHED,
) -> SourcingPlan:
    """The best plan under the policy; raise Unsourceable if the stock is not there.

    Dates come from `outlook`: the published calendar, or what the field has shown."""
    by_id = carriers if isinstance(carriers, Mapping) else {c.id: c for c in carriers}
    needed: dict[str, int] = {}
    for line in lines:  # two lines may ask for the same SKU
        needed[line.sku] = needed.get(line.sku, 0) + line.qty
    notes: list[str] = []
    candidates = _candidates(
        offers,
        needed,
        destination,
        by_id,
        holidays,
        now,
        promised_by,
        policy,
        kinds,
        notes if explain else None,
        outlook,
    )

    whole = [(x.line_id, x.sku, x.qty) for x in lines]
    plans: dict[tuple, list[tuple[_Candidate, list[tuple[str, str, int]]]]] = {}
    for candidate in candidates:
        if all(candidate.atp.get(sku, 0) >= qty for sku, qty in needed.items()):
            plans[(candidate.node.id,)] = [(candidate, whole)]
    orderings = [
        sorted(candidates, key=lambda c: (c.rank, c.node.id)),
        sorted(candidates, key=lambda c: (c.route.deliver_on, c.rank, c.node.id)),
    ]
    for ordering in orderings:
        split = _greedy(lines, ordering, policy.split_lines)
        if split is not None and len(split) <= policy.max_splits + 1:
            plans.setdefault(tuple(sorted(c.node.id for c, _ in split)), split)
    if not plans:
        raise _why_not(lines, candidates, policy)

    today = now.date()
    ranked = sorted(
        (_measure(parts, policy, today, promised_by) for parts in plans.values()),
        # Plans that keep the promise by score; when none does, the least late first.
        key=lambda m: (
            (0, m.total, m.deliver_by.toordinal(), m.key)
            if m.meets_promise
            else (1, m.deliver_by.toordinal(), m.total, m.key)
        ),
    )
    chosen = _plan(ranked[0], policy)
    if explain:
        for measured in ranked[:10]:
            plan = chosen if measured is ranked[0] else _plan(measured, policy)
            notes.append(f"plan {_nodes(plan)}: {_describe(plan.score, plan)}")
        keeps = f"keeps {promised_by.isoformat()}" if promised_by else "has no date to keep"
        if promised_by and not chosen.meets_promise:
            keeps = f"is the fastest; nothing keeps {promised_by.isoformat()}"
        notes.append(
            f"chosen {_nodes(chosen)}: lowest score under policy "
            f"{policy.name} v{policy.version}, {keeps}"
        )
    chosen.explanation = notes
    return chosen


def _candidates(
    offers: list[NodeOffer],
    needed: dict[str, int],
    destination: Destination,
    carriers: Mapping[str, Carrier],
    holidays: Collection[date],
    now: datetime,
    promised_by: date | None,
    policy: SourcingPolicy,
    kinds: Collection[str],
    notes: list[str] | None,
    outlook: FieldOutlook = PUBLISHED,
) -> list[_Candidate]:
    """Nodes that pass every hard constraint, each with its best route."""
    excluded = set(policy.excluded_nodes)
    out = []
    for offer in offers:
        node = offer.node
        pickup = destination.pickup_node_id == node.id
        reason = None
        has: dict[str, int] = {}
        if node.id in excluded:
            reason = "excluded by the policy"
        elif destination.pickup_node_id and not pickup and node.type == "store":
            reason = "stores do not restock another store's counter"
        elif not pickup and node.type == "store" and not node.ship_from_store:
            reason = "does not ship online orders"
        elif not pickup and node.type == "store" and not policy.use_stores:
            reason = "stores are off in the policy"
        elif node.type == "store" and not pickup:
            km = destination.km_from(node)
            if km > policy.max_store_distance_km:
                reason = f"store {km:.0f} km away, beyond {policy.max_store_distance_km:.0f} km"
        if reason is None:
            has = {sku: q for sku in needed if (q := offer.atp.get(sku, 0)) > 0}
            if not has:
                reason = "has none of the cart after safety stock and protection"
        if reason is None:
            ship_on = offer.ship_on or ship_day(
                node, now, holidays, offer.capacity_used, outlook.not_before(node, now)
            )
            if ship_on is None:
                reason = "no picking capacity left in the coming weeks"
            else:
                km = destination.km_from(node)
                if pickup:
                    ready = offer.ready or outlook.handover(node, COLLECT, now, ship_on)
                    route: Route | None = collect_route(node, ship_on, ready, outlook.confidence)
                else:
                    handover = offer.handover or outlook.handover(node, SHIP, now, ship_on)
                    routes = carrier_routes(
                        node, km, carriers, ship_on, holidays, kinds, handover, outlook
                    )
                    route = best_route(routes, promised_by)
                if route is None:
                    reason = f"no carrier service reaches {km:.0f} km"
                else:
                    rank = _alone(node, route, policy, now.date())
                    out.append(_Candidate(node, route, has, rank))
                    if notes is not None:
                        units = sum(min(q, needed[s]) for s, q in has.items())
                        notes.append(
                            f"{node.id}: candidate, {units}/{sum(needed.values())} units, "
                            f"ships {route.ship_on.isoformat()}, "
                            f"{_carrier_words(route)} {route.deliver_on.isoformat()}, {km:.0f} km"
                        )
        if reason is not None and notes is not None:
            notes.append(f"{node.id}: rejected, {reason}")
    return out


def _greedy(
    lines: list[OrderLine], ordering: list[_Candidate], split_lines: bool
) -> list[tuple[_Candidate, list[tuple[str, str, int]]]] | None:
    """Each line from the first node in `ordering` that has it in full, preferring nodes
    already in the plan; else (if allowed) split the line across nodes in that order."""
    remaining = {c.node.id: dict(c.atp) for c in ordering}
    used: dict[str, list[tuple[str, str, int]]] = {}
    by_id = {c.node.id: c for c in ordering}
    for line in lines:
        order = [c for c in ordering if c.node.id in used] + [
            c for c in ordering if c.node.id not in used
        ]
        full = next((c for c in order if remaining[c.node.id].get(line.sku, 0) >= line.qty), None)
        takes: list[tuple[str, int]] = []
        if full is not None:
            takes = [(full.node.id, line.qty)]
        elif split_lines:
            left = line.qty
            for c in order:
                here = min(left, remaining[c.node.id].get(line.sku, 0))
                if here > 0:
                    takes.append((c.node.id, here))
                    left -= here
                if left == 0:
                    break
            if left:
                return None
        else:
            return None
        for node_id, qty in takes:
            remaining[node_id][line.sku] -= qty
            used.setdefault(node_id, []).append((line.line_id, line.sku, qty))
    return [(by_id[node_id], planned) for node_id, planned in used.items()]


@dataclass(slots=True)
class _Measured:
    parts: list[tuple[_Candidate, list[tuple[str, str, int]]]]
    deliver_by: date
    meets_promise: bool
    total: float
    cost: float
    lead: int
    km: float
    share: float
    key: tuple[str, ...]


def _measure(
    parts: list[tuple[_Candidate, list[tuple[str, str, int]]]],
    policy: SourcingPolicy,
    today: date,
    promised_by: date | None,
) -> _Measured:
    """The plan's score, in plain numbers (most plans are only ever compared)."""
    w = policy.weights
    deliver_by = max(c.route.deliver_on for c, _ in parts)
    cost = sum(c.route.cost + policy.picking_cost.get(c.node.type, 0.0) for c, _ in parts)
    km = sum(round(c.route.km, 1) for c, _ in parts)
    units = sum(q for _, planned in parts for _, _, q in planned)
    from_stores = sum(q for c, planned in parts if c.node.type == "store" for _, _, q in planned)
    share = from_stores / units if units else 0.0
    lead = max(0, (deliver_by - today).days)
    total = (
        w.cost * cost
        + w.lead_time * lead
        + w.distance * km
        + w.splits * (len(parts) - 1)
        + w.store_share * share
    )
    meets = promised_by is None or deliver_by <= promised_by
    key = tuple(c.node.id for c, _ in parts)
    return _Measured(parts, deliver_by, meets, total, cost, lead, km, share, key)


def _plan(measured: _Measured, policy: SourcingPolicy) -> SourcingPlan:
    shipments = []
    for candidate, planned in measured.parts:
        route = candidate.route
        picking = policy.picking_cost.get(candidate.node.type, 0.0)
        shipments.append(
            PlannedShipment(
                node_id=candidate.node.id,
                lines=[PlannedLine(line_id=lid, sku=sku, qty=q) for lid, sku, q in planned],
                carrier_id=route.carrier_id,
                service_id=route.service_id,
                distance_km=round(route.km, 1),
                ship_on=route.ship_on,
                deliver_by=route.deliver_on,
                cost=round(route.cost + picking, 2),
                pick_on=route.pick_on,
                ship_by=_handover_deadline(candidate.node, route),
            )
        )
    score = PlanScore(
        total=round(measured.total, 3),
        cost=round(measured.cost, 2),
        lead_time_days=measured.lead,
        distance_km=round(measured.km, 1),
        splits=len(shipments) - 1,
        store_share=round(measured.share, 3),
    )
    return SourcingPlan(
        shipments=shipments,
        deliver_by=measured.deliver_by,
        meets_promise=measured.meets_promise,
        policy=policy.name,
        policy_version=policy.version,
        reroute=policy.reroute,
        score=score,
        explanation=[],
    )


def _handover_deadline(node: Node, route: Route) -> datetime:
    """When the parcel must have left for the plan to hold: the cut-off of its day (for
    collection, the end of the day it is to be ready)."""
    at = time(23, 59, 59) if route.carrier_id is None else node.cutoff
    return datetime.combine(route.ship_on, at, ZoneInfo(node.timezone))


def _alone(node: Node, route: Route, policy: SourcingPolicy, today: date) -> float:
    w = policy.weights
    lead = max(0, (route.deliver_on - today).days)
    store = 1.0 if node.type == "store" else 0.0
    picking = policy.picking_cost.get(node.type, 0.0)
    return (
        w.cost * (route.cost + picking)
        + w.lead_time * lead
        + w.distance * route.km
        + w.store_share * store
    )


def _why_not(
    lines: list[OrderLine], candidates: list[_Candidate], policy: SourcingPolicy
) -> Unsourceable:
    available: dict[str, int] = {}
    for candidate in candidates:
        for sku, qty in candidate.atp.items():
            available[sku] = available.get(sku, 0) + qty
    missing: dict[str, int] = {}
    for line in lines:
        take = min(line.qty, available.get(line.sku, 0))
        available[line.sku] = available.get(line.sku, 0) - take
        if take < line.qty:
            missing[line.line_id] = line.qty - take
    if missing:
        detail = ", ".join(f"line {lid} short of {qty}" for lid, qty in missing.items())
        return Unsourceable(missing, f"not enough stock in the network: {detail}")
    return Unsourceable(
        {},
        f"the stock is there but only in more than {policy.max_splits + 1} shipments, "
        f"or split lines, which policy {policy.name} does not allow",
    )


def _nodes(plan: SourcingPlan) -> str:
    return " + ".join(f"{s.node_id} ({s.units})" for s in plan.shipments)


def _describe(score: PlanScore | None, plan: SourcingPlan) -> str:
    assert score is not None
    late = "" if plan.meets_promise else ", late"
    return (
        f"score {score.total:.2f} = cost {score.cost:.2f} EUR, {score.lead_time_days} days, "
        f"{score.distance_km:.0f} km, {score.splits} splits, "
        f"{score.store_share:.0%} from stores{late}"
    )


def _carrier_words(route: Route) -> str:
    if route.carrier_id is None:
        return "ready at its counter"
    return f"{route.carrier_id} {route.service_id} delivers"
