"""Invariants of the promise over random small supply chains and carts (hypothesis).

What is promised must be what the supply chain can do: no option takes stock a node does
not have, every option serves the whole cart, no date is earlier than the nodes can ship,
and the policy's hard constraints hold in every option.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.future_stock import SupplyLine
from domain.geo import distance_km
from domain.ids import WEEKDAYS
from domain.network import Calendar, Carrier, Node, Peak
from domain.order import OrderLine
from domain.policy import SourcingPolicy
from domain.promise import DeliveryOption, Promise, PromiseRequest, promise
from domain.routing import ship_day
from domain.sourcing import Destination, SourcingPlan, Unsourceable, source_order
from domain.supply_chain import SupplyChain, online_atp

SKUS = ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
HOLIDAYS = [date(2026, 11, 11), date(2026, 12, 25), date(2027, 1, 1)]
PROPERTIES = settings(max_examples=150, deadline=None)

lats = st.floats(min_value=42.5, max_value=51.0)
lons = st.floats(min_value=-4.5, max_value=7.5)
nearby = st.floats(min_value=-0.3, max_value=0.3)  # about 30 km: click and collect range
weekdays = st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)
mostly = st.sampled_from([True, True, True, False])


@st.composite
def services(draw, carrier_id: str, kind: str) -> dict:
    reach = sorted(draw(st.lists(st.integers(300, 1200), min_size=1, max_size=3, unique=True)))
    days = sorted(draw(st.lists(st.integers(0, 4), min_size=len(reach), max_size=len(reach))))
    return {
        "id": f"{carrier_id}-{kind}",
        "kind": kind,
        "bands": [{"max_km": km, "days": d} for km, d in zip(reach, days, strict=True)],
        "cost": draw(st.integers(1, 20)),
        "pickup_days": draw(weekdays),
    }


@st.composite
def carriers(draw) -> dict[str, Carrier]:
    result = {}
    for c in range(draw(st.integers(1, 3))):
        carrier_id = f"C{c}"
        offered = [draw(services(carrier_id, "standard"))]
        if draw(st.booleans()):
            offered.append(draw(services(carrier_id, "express")))
        result[carrier_id] = Carrier(id=carrier_id, services=offered)
    return result


@st.composite
def nodes(draw, carrier_ids: list[str]) -> list[Node]:
    result = []
    for n in range(draw(st.integers(2, 8))):
        is_store = draw(st.booleans())
        result.append(
            Node(
                id=f"{'STORE' if is_store else 'DC'}-{n}",
                type="store" if is_store else "warehouse",
                name=f"Node {n}",
                lat=draw(lats),
                lon=draw(lons),
                pick_capacity_per_day=draw(st.integers(1, 5)),
                cutoff=time(draw(st.integers(8, 20))),
                open_days=draw(weekdays),
                carriers=draw(
                    st.lists(st.sampled_from(carrier_ids), min_size=1, max_size=3, unique=True)
                ),
                ship_from_store=is_store and draw(st.booleans()),
                click_and_collect=is_store and draw(st.booleans()),
                protection_qty=draw(st.integers(0, 3)) if is_store else 0,
            )
        )
    return result


@st.composite
def calendars(draw, today: date) -> Calendar:
    peaks = []
    if draw(st.booleans()):
        starts = today - timedelta(days=draw(st.integers(0, 10)))
        ends = today + timedelta(days=draw(st.integers(0, 20)))
        guarantee = ends + timedelta(days=draw(st.integers(-5, 5)))
        peaks.append(Peak(name="peak", **{"from": starts}, to=ends, guarantee_by=guarantee))
    return Calendar(holidays=HOLIDAYS, peaks=peaks)


@st.composite
def supply_chains(draw, now: datetime, supply_rows: st.SearchStrategy[int]) -> SupplyChain:
    network_carriers = draw(carriers())
    network = draw(nodes(list(network_carriers)))
    chain = SupplyChain(network, network_carriers, draw(calendars(now.date())))
    for node in network:
        for sku in draw(st.lists(st.sampled_from(SKUS), min_size=1, unique=True)):
            on_hand = draw(st.integers(0, 15))
            chain.set_atp(sku, node.id, online_atp(node, on_hand, 0, draw(st.integers(0, 2))))
        booked_days = draw(st.lists(st.integers(-1, 6), max_size=4, unique=True))
        if booked_days:
            chain.capacity_used[node.id] = {
                now.date() + timedelta(days=d): draw(st.integers(0, node.pick_capacity_per_day))
                for d in booked_days
            }
    rows = []
    for s in range(draw(supply_rows)):
        rows.append(
            SupplyLine(
                supply_id=f"SUPPLY-{s}",
                kind=draw(st.sampled_from(["purchase_order", "customer_return", "transfer"])),
                sku=draw(st.sampled_from(SKUS)),
                node_id=draw(st.sampled_from(network)).id,
                eta=now.date() + timedelta(days=draw(st.integers(-2, 30))),
                expected=(expected := draw(st.integers(1, 15))),
                allocatable=draw(st.integers(0, expected)),
                allocated=0,
            )
        )
    for row in sorted(rows, key=lambda r: (r.eta, r.supply_id)):  # as db/supply_chain.py loads them
        chain.supply.setdefault(row.sku, []).append(row)
    return chain


@st.composite
def policies(draw, node_ids: list[str], max_splits: st.SearchStrategy[int]) -> SourcingPolicy:
    return SourcingPolicy(
        max_splits=draw(max_splits),
        split_lines=draw(mostly),
        use_stores=draw(mostly),
        max_store_distance_km=draw(st.sampled_from([150.0, 40.0])),
        excluded_nodes=draw(st.lists(st.sampled_from(node_ids), max_size=2, unique=True)),
    )


SPLIT_LIMITS = st.sampled_from([0, 0, 1, 3])  # no-split policies are common
SUPPLY_ROWS = st.integers(0, 6)
carts = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 6)), min_size=1, max_size=5)


@dataclass
class Scenario:
    chain: SupplyChain
    request: PromiseRequest
    now: datetime
    policy: SourcingPolicy

    def answer(self) -> Promise:
        return promise(self.request, self.chain, self.now, self.policy)

    def answer_or_none(self) -> Promise | None:
        """The promise; None where it raises, which its own property below reports."""
        try:
            return self.answer()
        except Unsourceable:
            return None

    def cart(self) -> Counter:
        wanted: Counter = Counter()
        for line in self.request.lines:
            wanted[line.sku] += line.qty
        return wanted

    def source_like(self, option: DeliveryOption, promised_by: date | None) -> SourcingPlan:
        """Source the cart as the order placed with `option` would be, under the policy."""
        lines = [
            OrderLine(line_id=str(n), sku=sku, qty=qty)
            for n, (sku, qty) in enumerate(self.cart().items(), 1)
        ]
        if option.method == "click_and_collect":
            store = self.chain.by_id[option.store_id or ""]
            destination = Destination(lat=store.lat, lon=store.lon, pickup_node_id=store.id)
            kinds: tuple[str, ...] = ("standard", "express")
        else:
            home = self.request.destination
            destination = Destination(lat=home.lat, lon=home.lon)
            kinds = ("express",) if option.method == "home_express" else ("standard",)
        offers = self.chain.offers(list(self.cart()), always=destination.pickup_node_id)
        return source_order(
            lines,
            destination,
            offers,
            self.chain.carriers,
            self.chain.holidays,
            self.now,
            promised_by=promised_by,
            policy=self.policy,
            kinds=kinds,
        )

    def atp(self, node_id: str, sku: str) -> int:
        row = self.chain.atp.get(sku)
        return 0 if row is None else row[self.chain.index[node_id]]


@st.composite
def scenarios(
    draw,
    max_splits: st.SearchStrategy[int] = SPLIT_LIMITS,
    supply_rows: st.SearchStrategy[int] = SUPPLY_ROWS,
) -> Scenario:
    now = draw(
        st.datetimes(
            min_value=datetime(2026, 11, 1),
            max_value=datetime(2026, 12, 31),
            timezones=st.just(UTC),
        )
    )
    chain = draw(supply_chains(now, supply_rows))
    if draw(st.booleans()):  # a customer near one of the nodes, often a store
        near = draw(st.sampled_from(chain.nodes))
        lat, lon = near.lat + draw(nearby), near.lon + draw(nearby)
    else:
        lat, lon = draw(lats), draw(lons)
    request = PromiseRequest(
        lines=[{"sku": sku, "qty": qty} for sku, qty in draw(carts)],
        destination={"postal_code": "75001", "country": "FR", "lat": lat, "lon": lon},
    )
    return Scenario(chain, request, now, draw(policies([n.id for n in chain.nodes], max_splits)))


# Where a pre-order is hardest to plan: few parcels allowed, plenty of supply.
@PROPERTIES
@given(scenarios(max_splits=st.sampled_from([0, 1]), supply_rows=st.integers(3, 8)))
def test_every_cart_gets_an_answer_rather_than_an_exception(scenario: Scenario):
    """A cart the network cannot serve gets no option, never an error (a 500 at checkout)."""
    scenario.answer()


@PROPERTIES
@given(scenarios())
def test_no_option_takes_more_from_a_node_than_its_atp(scenario: Scenario):
    answer = scenario.answer_or_none()
    if answer is None:
        return
    for option in answer.options:
        taken: Counter = Counter()
        for line in option.lines:
            if line.source == "on_hand":
                taken[(line.node_id, line.sku)] += line.qty
        for (node_id, sku), qty in taken.items():
            assert qty <= scenario.atp(node_id, sku), (option.method, option.store_id, node_id)


@PROPERTIES
@given(scenarios())
def test_every_option_serves_every_unit_of_the_cart(scenario: Scenario):
    answer = scenario.answer_or_none()
    if answer is None:
        return
    for option in answer.options:
        served: Counter = Counter()
        for line in option.lines:
            assert line.qty > 0
            served[line.sku] += line.qty
        assert served == scenario.cart(), (option.method, option.store_id)


@PROPERTIES
@given(scenarios())
def test_no_date_is_earlier_than_the_nodes_can_ship(scenario: Scenario):
    answer = scenario.answer_or_none()
    if answer is None:
        return
    chain = scenario.chain
    for option in answer.options:
        assert option.promised_by >= option.estimated_by
        if option.guaranteed:
            assert option.promised_by in {p.guarantee_by for p in chain.calendar.peaks}
        for line in option.lines:
            assert option.estimated_by >= line.available_on
            if line.source == "on_hand":
                node = chain.by_id[line.node_id]
                earliest = ship_day(
                    node, scenario.now, chain.holidays, chain.capacity_used.get(node.id)
                )
                assert earliest is not None and line.available_on >= earliest, line
            else:
                [supply] = [s for s in chain.supply[line.sku] if s.supply_id == line.supply_id]
                assert (line.source, line.node_id) == (supply.kind, supply.node_id)
                assert line.available_on >= supply.eta
                assert line.qty <= supply.allocatable  # future stock is never sold twice


@PROPERTIES
@given(scenarios())
def test_sourcing_can_keep_every_date_the_promise_gives(scenario: Scenario):
    """What is promised is what sourcing can do: the order placed with an option is
    sourced, under the same policy, to arrive by the option's estimated date."""
    answer = scenario.answer_or_none()
    if answer is None:
        return
    for option in answer.options:
        if option.preorder:
            continue  # supply is not stock yet: the order workflow waits for it
        where = (option.method, option.store_id, option.estimated_by)
        assert option.estimated_by >= scenario.source_like(option, None).deliver_by, where
        assert scenario.source_like(option, option.estimated_by).meets_promise, where


@PROPERTIES
@given(scenarios())
def test_options_keep_the_policys_hard_constraints(scenario: Scenario):
    answer = scenario.answer_or_none()
    if answer is None:
        return
    policy, home = scenario.policy, scenario.request.destination
    for option in answer.options:
        for line in option.lines:
            node = scenario.chain.by_id[line.node_id]
            assert node.id not in policy.excluded_nodes, (option.method, line)
            if node.type != "store" or node.id == option.store_id:
                continue
            # Only the collection store serves its own counter. A store ships to a home
            # only with ship-from-store on, stores allowed, and the customer near enough.
            assert option.method != "click_and_collect", (option.store_id, line)
            assert node.ship_from_store, (option.method, line)
            assert policy.use_stores, (option.method, line)
            km = distance_km(node.lat, node.lon, home.lat, home.lon)
            assert km <= policy.max_store_distance_km, (option.method, line, km)


@PROPERTIES
@given(scenarios())
def test_no_line_comes_on_hand_from_a_node_without_atp(scenario: Scenario):
    answer = scenario.answer_or_none()
    if answer is None:
        return
    for option in answer.options:
        for line in option.lines:
            if scenario.atp(line.node_id, line.sku) == 0:
                assert line.source != "on_hand", (option.method, line)
                assert line.supply_id is not None
