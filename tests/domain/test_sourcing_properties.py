"""Invariants of sourcing over random small networks and carts (hypothesis)."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.geo import distance_km
from domain.ids import WEEKDAYS
from domain.network import Carrier, Node
from domain.order import OrderLine
from domain.policy import SourcingPolicy
from domain.routing import ship_day as ship_date
from domain.shipping_calendar import delivery_date
from domain.sourcing import Destination, NodeOffer, SourcingPlan, Unsourceable, source_order

SKUS = ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
HOLIDAYS = [date(2026, 11, 11), date(2026, 12, 25), date(2027, 1, 1)]
BOUNDED = settings(max_examples=200, deadline=None)

lats = st.floats(min_value=42.5, max_value=51.0)
lons = st.floats(min_value=-4.5, max_value=7.5)
weekdays = st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)


@st.composite
def carriers(draw) -> list[Carrier]:
    result = []
    for c in range(draw(st.integers(1, 3))):
        services = []
        for s in range(draw(st.integers(1, 2))):
            reach = sorted(
                draw(st.lists(st.integers(100, 1200), min_size=1, max_size=3, unique=True))
            )
            days = sorted(
                draw(st.lists(st.integers(0, 4), min_size=len(reach), max_size=len(reach)))
            )
            bands = [{"max_km": km, "days": d} for km, d in zip(reach, days, strict=True)]
            services.append(
                {
                    "id": f"C{c}-S{s}",
                    "bands": bands,
                    "cost": draw(st.integers(1, 20)),
                    "pickup_days": draw(weekdays),
                }
            )
        result.append(Carrier(id=f"C{c}", services=services))
    return result


@st.composite
def offers(draw, carrier_ids: list[str]) -> list[NodeOffer]:
    result = []
    for n in range(draw(st.integers(2, 8))):
        node = Node(
            id=f"N{n}",
            type="warehouse",
            name=f"Node {n}",
            lat=draw(lats),
            lon=draw(lons),
            pick_capacity_per_day=1000,
            cutoff=time(draw(st.integers(8, 20))),
            open_days=draw(weekdays),
            carriers=draw(
                st.lists(st.sampled_from(carrier_ids), min_size=1, max_size=3, unique=True)
            ),
        )
        atp = draw(st.dictionaries(st.sampled_from(SKUS), st.integers(0, 20)))
        result.append(NodeOffer(node=node, atp=atp))
    return result


carts = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 10)), min_size=1, max_size=5).map(
    lambda wanted: [OrderLine(line_id=str(n), sku=s, qty=q) for n, (s, q) in enumerate(wanted)]
)


@dataclass
class Scenario:
    lines: list[OrderLine]
    destination: Destination
    offers: list[NodeOffer]
    carriers: list[Carrier]
    now: datetime
    promised_by: date | None

    def source(self) -> SourcingPlan:
        return source_order(
            self.lines,
            self.destination,
            self.offers,
            self.carriers,
            HOLIDAYS,
            self.now,
            promised_by=self.promised_by,
            # Splits unbounded: these properties are about stock, not the split limit.
            policy=SourcingPolicy(max_splits=10),
        )

    def reachable(self, offer: NodeOffer) -> bool:
        """Some service of the node's carriers reaches the customer (checked independently)."""
        node = offer.node
        ship_on = ship_date(node, self.now, HOLIDAYS)
        if ship_on is None:
            return False
        km = distance_km(node.lat, node.lon, self.destination.lat, self.destination.lon)
        return any(
            delivery_date(ship_on, service, km, HOLIDAYS) is not None
            for carrier in self.carriers
            if carrier.id in node.carriers
            for service in carrier.services
        )


@st.composite
def scenarios(draw) -> Scenario:
    network_carriers = draw(carriers())
    return Scenario(
        lines=draw(carts),
        destination=Destination(lat=draw(lats), lon=draw(lons)),
        offers=draw(offers([c.id for c in network_carriers])),
        carriers=network_carriers,
        now=draw(
            st.datetimes(
                min_value=datetime(2026, 11, 1),
                max_value=datetime(2026, 12, 31),
                timezones=st.just(UTC),
            )
        ),
        promised_by=draw(st.none() | st.dates(date(2026, 11, 1), date(2027, 1, 15))),
    )


def planned_or_none(scenario: Scenario) -> SourcingPlan | None:
    try:
        return scenario.source()
    except Unsourceable:
        return None


@BOUNDED
@given(scenarios())
def test_no_plan_takes_more_than_a_node_offers(scenario: Scenario):
    plan = planned_or_none(scenario)
    if plan is None:
        return
    offered = {offer.node.id: offer.atp for offer in scenario.offers}
    for shipment in plan.shipments:
        taken: Counter[str] = Counter()
        for line in shipment.lines:
            taken[line.sku] += line.qty
        for sku, qty in taken.items():
            assert qty <= offered[shipment.node_id].get(sku, 0), (shipment.node_id, sku)


@BOUNDED
@given(scenarios())
def test_every_line_is_planned_in_full_from_reachable_nodes(scenario: Scenario):
    plan = planned_or_none(scenario)
    if plan is None:
        return
    planned: Counter[str] = Counter()
    for shipment in plan.shipments:
        for line in shipment.lines:
            planned[line.line_id] += line.qty
            assert line.qty > 0
    assert planned == Counter({line.line_id: line.qty for line in scenario.lines})
    reachable = {o.node.id for o in scenario.offers if scenario.reachable(o)}
    assert {s.node_id for s in plan.shipments} <= reachable


@BOUNDED
@given(scenarios())
def test_deliveries_never_precede_shipping_and_the_plan_ends_with_its_last_shipment(
    scenario: Scenario,
):
    plan = planned_or_none(scenario)
    if plan is None:
        return
    nodes = {offer.node.id: offer.node for offer in scenario.offers}
    for shipment in plan.shipments:
        timezone = ZoneInfo(nodes[shipment.node_id].timezone)
        assert shipment.ship_on >= scenario.now.astimezone(timezone).date()
        assert shipment.deliver_by >= shipment.ship_on
    assert plan.deliver_by == max(s.deliver_by for s in plan.shipments)


@BOUNDED
@given(scenarios())
def test_unsourceable_only_when_reachable_stock_really_falls_short(scenario: Scenario):
    try:
        scenario.source()
    except Unsourceable as short:
        asked: Counter[str] = Counter()
        for line in scenario.lines:
            asked[line.sku] += line.qty
        available: Counter[str] = Counter()
        for offer in scenario.offers:
            if scenario.reachable(offer):
                for sku, qty in offer.atp.items():
                    available[sku] += qty
        short_skus = {sku for sku in asked if available[sku] < asked[sku]}
        assert short_skus, "raised Unsourceable although reachable stock covers the cart"
        named = {line.sku for line in scenario.lines if line.line_id in short.missing}
        assert named <= short_skus
        assert all(qty > 0 for qty in short.missing.values())
