"""Pre-orders: a cart or an order that stock on hand cannot fill, served from supply on its
way (purchase orders, customer returns, transfers).

One plan serves the promise (the option it offers) and the order (what it holds): the
units on hand come from stock as any order's, each missing line from the soonest supply
line whose allocatable units cover it, at a node allowed to serve the customer. The date
is the latest of the two parts.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from domain.future_stock import DEFAULT_RECEIPT_TIME, PreorderHold, SupplyLine
from domain.geo import distance_km
from domain.lead_times import SHIP
from domain.order import OrderLine
from domain.policy import SourcingPolicy
from domain.routing import best_route, carrier_routes, ship_day
from domain.sourcing import Destination, SourcingPlan, Unsourceable, source_order
from domain.supply_chain import SupplyChain


@dataclass(frozen=True)
class SupplyPick:
    """Units of an order line that a supply line brings, and when they reach the customer."""

    line_id: str
    sku: str
    qty: int
    supply: SupplyLine
    deliver_on: date
    cost: float


@dataclass(frozen=True)
class PreorderPlan:
    on_hand: SourcingPlan  # the units in stock now (no shipments when none are)
    from_supply: list[SupplyPick]
    deliver_by: date

    @property
    def supply_cost(self) -> float:
        return sum(pick.cost for pick in self.from_supply)

    def to_hold(self) -> "PreorderHeld":
        """What an order holds of this plan (the units on hand, the supply lines' units)."""
        return PreorderHeld(
            on_hand=self.on_hand,
            supply=[
                SupplyHeld(
                    line_id=pick.line_id,
                    sku=pick.sku,
                    qty=pick.qty,
                    supply_id=pick.supply.supply_id,
                    node_id=pick.supply.node_id,
                    eta=pick.supply.eta,
                    deliver_on=pick.deliver_on,
                )
                for pick in self.from_supply
            ],
            deliver_by=self.deliver_by,
        )


class SupplyHeld(BaseModel):
    """Units an order line holds on a supply line, and when they would reach the customer."""

    line_id: str
    sku: str
    qty: int
    supply_id: str
    node_id: str
    eta: date
    deliver_on: date


class PreorderHeld(BaseModel):
    """What a pre-order holds: units in stock now, units on supply lines."""

    on_hand: SourcingPlan
    supply: list[SupplyHeld]
    deliver_by: date


class PreorderNews(BaseModel):
    """A pre-order's holds on future stock as the ledger has them now."""

    holds: list[PreorderHold]
    # When the units still on their way would reach the customer, planned now.
    deliver_by: date | None = None


def plan_preorder(
    lines: list[OrderLine],
    missing: dict[str, int],
    destination: Destination,
    chain: SupplyChain,
    now: datetime,
    policy: SourcingPolicy,
) -> PreorderPlan | None:
    """Serve what is on hand now and each missing line from the first supply that covers
    it; None when some line has no such supply (or the units on hand cannot be planned)."""
    outlook = chain.outlook(policy)
    carriers = chain.carriers_on(now.date())
    picks: list[SupplyPick] = []
    taken: dict[str, int] = {}  # supply id -> units earlier lines of this cart took
    for line in lines:
        short = missing.get(line.line_id, 0)
        if not short:
            continue
        pick = _first_cover(line, short, destination, chain, now, policy, taken)
        if pick is None:
            return None
        taken[pick.supply.supply_id] = taken.get(pick.supply.supply_id, 0) + short
        picks.append(pick)
    if not picks:
        return None
    on_hand = [
        line.model_copy(update={"qty": line.qty - missing.get(line.line_id, 0)})
        for line in lines
        if line.qty > missing.get(line.line_id, 0)
    ]
    plan = SourcingPlan(shipments=[], deliver_by=now.date(), explanation=[])
    if on_hand:
        offers = chain.offers(
            [line.sku for line in on_hand], now=now, learned=outlook.performance is not None
        )
        try:
            plan = source_order(
                on_hand,
                destination,
                offers,
                carriers,
                chain.holidays,
                now,
                policy=policy,
                kinds=("standard",),
                explain=False,
                outlook=outlook,
            )
        except Unsourceable:
            return None
    latest = max(pick.deliver_on for pick in picks)
    deliver_by = max(plan.deliver_by, latest) if plan.shipments else latest
    return PreorderPlan(on_hand=plan, from_supply=picks, deliver_by=deliver_by)


def _first_cover(
    line: OrderLine,
    short: int,
    destination: Destination,
    chain: SupplyChain,
    now: datetime,
    policy: SourcingPolicy,
    taken: dict[str, int],
) -> SupplyPick | None:
    for supply in chain.supply.get(line.sku, []):
        left = supply.allocatable - taken.get(supply.supply_id, 0)
        if left < short or not allowed(supply.node_id, chain, policy, destination):
            continue
        route = delivery_from(supply, destination, chain, now, policy)
        if route is not None:
            deliver_on, cost = route
            return SupplyPick(line.line_id, line.sku, short, supply, deliver_on, cost)
    return None


def allowed(
    node_id: str, chain: SupplyChain, policy: SourcingPolicy, destination: Destination
) -> bool:
    """May this node serve this customer under the policy (a pre-order from its supply)?
    The same hard constraints as sourcing's own candidates."""
    node = chain.by_id.get(node_id)
    if node is None or node_id in policy.excluded_nodes:
        return False
    if node.type == "warehouse":
        return True
    if destination.pickup_node_id is not None:  # a store restocks no other store's counter
        return node_id == destination.pickup_node_id
    return (
        node.ship_from_store
        and policy.use_stores
        and destination.km_from(node) <= policy.max_store_distance_km
    )


def delivery_from(
    supply: SupplyLine,
    destination: Destination,
    chain: SupplyChain,
    now: datetime,
    policy: SourcingPolicy,
) -> tuple[date, float] | None:
    """When units of this supply line would reach the customer, as planned at `now` (the
    node's first picking day from the ETA, then the best standard route), and the cost."""
    node = chain.by_id.get(supply.node_id)
    if node is None:
        return None
    # Due and not received: it comes tomorrow at the soonest. Work on the units starts when
    # the node usually receives supply: units received after the cut-off leave tomorrow.
    tomorrow = now.date() + timedelta(days=1)
    arrives = supply.eta if supply.eta >= now.date() else tomorrow
    usual = chain.receipt_times.get(node.id, DEFAULT_RECEIPT_TIME)
    if policy.lead_times == "published":
        usual = time(0)  # a plain OMS: the units are there when the day starts
    received = max(now, datetime.combine(arrives, usual, ZoneInfo(node.timezone)))
    ship_on = ship_day(
        node, received, chain.holidays, chain.capacity_used.get(node.id), not_before=arrives
    )
    if ship_on is None:
        return None
    if destination.pickup_node_id == node.id:  # on its way to the collection store itself
        return ship_on, policy.picking_cost.get(node.type, 0.0)
    outlook = chain.outlook(policy)
    routes = carrier_routes(
        node,
        distance_km(node.lat, node.lon, destination.lat, destination.lon),
        chain.carriers_on(now.date()),
        ship_on,
        chain.holidays,
        ("standard",),
        outlook.handover(node, SHIP, received, ship_on),
        outlook,
    )
    route = best_route(routes, None)
    if route is None:
        return None
    return route.deliver_on, route.cost + policy.picking_cost.get(node.type, 0.0)
