"""The delivery promise: what a cart can be offered, and by when (domain/promise.py)."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain.future_stock import SupplyLine
from domain.network import Calendar, Carrier, Node, Peak
from domain.order import OrderLine
from domain.policy import DEFAULT_POLICY, SourcingPolicy, Weights
from domain.promise import (
    DeliveryOption,
    Promise,
    PromiseRequest,
    Unavailable,
    promise,
    promise_time_refusal,
)
from domain.sourcing import Destination, source_order
from domain.supply_chain import SupplyChain, online_atp
from tests.domain.builders import node

# Wednesday 2026-11-25, 10:00 in Paris (UTC+1 in winter): before every 15:00 cut-off.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WEDNESDAY = date(2026, 11, 25)
THURSDAY = date(2026, 11, 26)
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)
MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)

LYON = (45.76, 4.83)  # the customer's home
DC_LYON_AT = (45.73, 4.95)  # 10 km away
DC_PARIS_AT = (48.86, 2.35)  # 392 km
DC_VIENNE_AT = (45.50, 4.90)  # 29 km
STORE_LYON_AT = (45.765, 4.835)  # 1 km
STORE_VILLEURBANNE_AT = (45.77, 4.88)  # 4 km
STORE_GRENOBLE_AT = (45.19, 5.72)  # 94 km: too far to collect from


def store(node_id: str, at: tuple[float, float], **extra: Any) -> Node:
    return node(node_id, at, type="store", **extra)


def carrier(carrier_id: str, *services: dict) -> Carrier:
    return Carrier(id=carrier_id, services=list(services))


def service(service_id: str, cost: float, bands: dict[int, int], kind: str = "standard") -> dict:
    """`bands` maps a reach in km to the days in transit up to it."""
    return {
        "id": service_id,
        "kind": kind,
        "cost": cost,
        "bands": [{"max_km": km, "days": days} for km, days in bands.items()],
    }


POSTE = carrier("POSTE", service("POSTE-STD", cost=5.0, bands={300: 1, 1200: 2}))
EXPRESSO = carrier("EXPRESSO", service("EXP-24", cost=12.0, bands={1200: 1}, kind="express"))
COURSIER = carrier("COURSIER", service("COURSIER-J1", cost=15.0, bands={100: 1}))
CARRIERS = {c.id: c for c in (POSTE, EXPRESSO, COURSIER)}


def supply_chain(*nodes: Node, calendar: Calendar | None = None) -> SupplyChain:
    return SupplyChain(nodes=list(nodes), carriers=CARRIERS, calendar=calendar or Calendar())


def stock(chain: SupplyChain, node_id: str, **atp: int) -> None:
    """Online ATP at a node, e.g. stock(chain, "DC-LYON", SKU_1=5)."""
    for sku, qty in atp.items():
        chain.set_atp(sku.replace("_", "-"), node_id, qty)


def purchase_order(
    po_id: str, sku: str, node_id: str, qty: int, eta: date, allocated: int = 0
) -> SupplyLine:
    return SupplyLine(
        supply_id=po_id,
        kind="purchase_order",
        sku=sku,
        node_id=node_id,
        eta=eta,
        expected=qty,
        allocatable=qty - allocated,
        allocated=allocated,
    )


def ask(
    chain: SupplyChain,
    *cart: tuple[str, int],
    at: datetime = NOW,
    policy: SourcingPolicy = DEFAULT_POLICY,
) -> Promise:
    request = PromiseRequest(
        lines=[{"sku": sku, "qty": qty} for sku, qty in cart],
        destination={"postal_code": "69001", "country": "FR", "lat": LYON[0], "lon": LYON[1]},
    )
    return promise(request, chain, at, policy)


def offered(answer: Promise) -> list[str]:
    """Each option as `method` or `click_and_collect@STORE`, the way checkout lists them."""
    return [o.method + (f"@{o.store_id}" if o.store_id else "") for o in answer.options]


def option(answer: Promise, method: str, store_id: str | None = None) -> DeliveryOption:
    [found] = [o for o in answer.options if o.method == method and o.store_id == store_id]
    return found


def taken_from(chosen: DeliveryOption) -> dict[str, list[tuple[str, int]]]:
    """Node id -> [(sku, qty)]: where the option's units come from."""
    out: dict[str, list[tuple[str, int]]] = {}
    for line in chosen.lines:
        out.setdefault(line.node_id, []).append((line.sku, line.qty))
    return out


# Warehouse or store


def test_prefers_a_warehouse_to_a_store_when_both_deliver_the_same_day():
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT),
        store("STORE-LYON", STORE_LYON_AT, ship_from_store=True),  # nearer still
    )
    stock(chain, "DC-LYON", SKU_1=5)
    stock(chain, "STORE-LYON", SKU_1=5)

    standard = option(ask(chain, ("SKU-1", 2)), "home_standard")

    assert taken_from(standard) == {"DC-LYON": [("SKU-1", 2)]}
    assert standard.estimated_by == THURSDAY


def test_ships_from_the_store_when_only_the_store_keeps_the_promised_date():
    # The store's only carrier is a dear courier: on score alone, Paris wins.
    chain = supply_chain(
        node("DC-PARIS", DC_PARIS_AT),
        store("STORE-LYON", STORE_LYON_AT, ship_from_store=True, carriers=["COURSIER"]),
    )
    stock(chain, "DC-PARIS", SKU_1=5)
    stock(chain, "STORE-LYON", SKU_1=5)
    cart = [OrderLine(line_id="1", sku="SKU-1", qty=1)]

    def plan(promised_by: date | None):
        return source_order(
            cart,
            Destination(lat=LYON[0], lon=LYON[1]),
            chain.offers(["SKU-1"]),
            chain.carriers,
            chain.holidays,
            NOW,
            promised_by=promised_by,
        )

    unhurried = plan(None)
    assert [s.node_id for s in unhurried.shipments] == ["DC-PARIS"]
    assert unhurried.deliver_by == FRIDAY  # 392 km: two days

    tomorrow = plan(THURSDAY)
    assert [s.node_id for s in tomorrow.shipments] == ["STORE-LYON"]
    assert tomorrow.shipments[0].carrier_id == "COURSIER"
    assert tomorrow.meets_promise and tomorrow.deliver_by == THURSDAY


def test_express_comes_from_the_store_when_only_the_store_has_an_express_carrier():
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT),
        store("STORE-LYON", STORE_LYON_AT, ship_from_store=True, carriers=["EXPRESSO"]),
    )
    stock(chain, "DC-LYON", SKU_1=5)
    stock(chain, "STORE-LYON", SKU_1=5)

    answer = ask(chain, ("SKU-1", 1))

    assert taken_from(option(answer, "home_standard")) == {"DC-LYON": [("SKU-1", 1)]}
    express = option(answer, "home_express")
    assert taken_from(express) == {"STORE-LYON": [("SKU-1", 1)]}
    assert express.estimated_by == THURSDAY


def test_a_store_that_does_not_ship_online_orders_serves_no_home_delivery():
    chain = supply_chain(store("STORE-LYON", STORE_LYON_AT))  # ship_from_store is off
    stock(chain, "STORE-LYON", SKU_1=5)

    assert offered(ask(chain, ("SKU-1", 1))) == []


# Splits


def split_minded_chain() -> SupplyChain:
    """Paris has the whole cart; Lyon and Vienne, nearer and faster, have half each."""
    chain = supply_chain(
        node("DC-PARIS", DC_PARIS_AT), node("DC-LYON", DC_LYON_AT), node("DC-VIENNE", DC_VIENNE_AT)
    )
    stock(chain, "DC-PARIS", SKU_1=5, SKU_2=5)
    stock(chain, "DC-LYON", SKU_1=5)
    stock(chain, "DC-VIENNE", SKU_2=5)
    return chain


SPLITS_ARE_FREE = Weights(cost=0, splits=0)


def test_never_splits_when_one_node_can_serve_and_the_policy_forbids_splits():
    chain = split_minded_chain()
    cart = [("SKU-1", 1), ("SKU-2", 1)]

    # Where splits cost nothing and are allowed, the faster split wins...
    allowed = option(
        ask(chain, *cart, policy=SourcingPolicy(weights=SPLITS_ARE_FREE)), "home_standard"
    )
    assert allowed.split
    assert set(taken_from(allowed)) == {"DC-LYON", "DC-VIENNE"}

    # ...but a policy without splits keeps the order in one parcel from Paris.
    forbidden = SourcingPolicy(max_splits=0, weights=SPLITS_ARE_FREE)
    standard = option(ask(chain, *cart, policy=forbidden), "home_standard")
    assert not standard.split
    assert taken_from(standard) == {"DC-PARIS": [("SKU-1", 1), ("SKU-2", 1)]}
    assert standard.estimated_by == FRIDAY


def test_no_home_option_when_only_a_split_serves_and_the_policy_forbids_splits():
    both = ["POSTE", "EXPRESSO"]
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT, carriers=both), node("DC-VIENNE", DC_VIENNE_AT, carriers=both)
    )
    stock(chain, "DC-LYON", SKU_1=5)
    stock(chain, "DC-VIENNE", SKU_2=5)
    cart = [("SKU-1", 1), ("SKU-2", 1)]

    # Under the default policy the cart goes in two parcels, by either service...
    assert offered(ask(chain, *cart)) == ["home_standard", "home_express"]
    assert option(ask(chain, *cart), "home_standard").split

    # ...and a policy without splits has no home option to offer.
    assert offered(ask(chain, *cart, policy=SourcingPolicy(max_splits=0))) == []


# Capacity, cut-off and pickup days


def test_a_node_whose_picking_capacity_is_used_up_today_ships_its_next_open_day():
    weekdays_only = ["mon", "tue", "wed", "thu", "fri"]
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT, pick_capacity_per_day=40, open_days=weekdays_only)
    )
    stock(chain, "DC-LYON", SKU_1=5)
    friday_morning = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    free = option(ask(chain, ("SKU-1", 1), at=friday_morning), "home_standard")
    assert free.lines[0].available_on == FRIDAY
    assert free.estimated_by == SATURDAY  # carriers deliver on Saturdays

    chain.capacity_used = {"DC-LYON": {FRIDAY: 40}}
    full = option(ask(chain, ("SKU-1", 1), at=friday_morning), "home_standard")
    assert full.lines[0].available_on == MONDAY  # closed at the weekend
    assert full.estimated_by == TUESDAY

    chain.capacity_used = {"DC-LYON": {FRIDAY: 39}}  # one shipment left: still today
    last_slot = option(ask(chain, ("SKU-1", 1), at=friday_morning), "home_standard")
    assert last_slot.lines[0].available_on == FRIDAY


def test_capacity_booked_since_the_last_promise_counts_for_the_next():
    weekdays_only = ["mon", "tue", "wed", "thu", "fri"]
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT, pick_capacity_per_day=40, open_days=weekdays_only)
    )
    stock(chain, "DC-LYON", SKU_1=5)
    friday_morning = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    first = option(ask(chain, ("SKU-1", 1), at=friday_morning), "home_standard")
    assert first.lines[0].available_on == FRIDAY

    # The last slots of the day are booked within the same minute; the refreshed
    # counters replace the chain's (they are replaced, never mutated in place).
    chain.capacity_used = {"DC-LYON": {FRIDAY: 40}}
    second = option(ask(chain, ("SKU-1", 1), at=friday_morning), "home_standard")

    assert second.lines[0].available_on == MONDAY


def test_an_order_at_16_00_in_paris_misses_the_15_00_cut_off():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT, cutoff=time(15, 0)))
    stock(chain, "DC-LYON", SKU_1=5)

    before = option(
        ask(chain, ("SKU-1", 1), at=datetime(2026, 11, 25, 13, 59, tzinfo=UTC)), "home_standard"
    )  # 14:59 in Paris
    assert before.lines[0].available_on == WEDNESDAY
    assert before.estimated_by == THURSDAY

    # 15:00 UTC is 16:00 in Paris; even 14:30 UTC (15:30 in Paris) is past the cut-off.
    for utc_time in (
        datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 14, 30, tzinfo=UTC),
    ):
        after = option(ask(chain, ("SKU-1", 1), at=utc_time), "home_standard")
        assert after.lines[0].available_on == THURSDAY, utc_time
        assert after.estimated_by == FRIDAY, utc_time


def test_a_saturday_parcel_waits_for_the_carriers_monday_pickup():
    # The warehouse picks on Saturdays; the carrier collects Monday to Friday only.
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    stock(chain, "DC-LYON", SKU_1=5)
    saturday_morning = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    standard = option(ask(chain, ("SKU-1", 1), at=saturday_morning), "home_standard")

    assert standard.lines[0].available_on == SATURDAY  # picked and packed on Saturday
    assert standard.estimated_by == TUESDAY  # collected Monday, one day in transit


# Pre-orders from future supply


def test_a_line_only_on_a_purchase_order_is_promised_from_its_eta_plus_transit():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    eta = date(2026, 12, 3)  # a Thursday
    chain.supply["SKU-1"] = [purchase_order("PO-77", "SKU-1", "DC-LYON", 500, eta)]

    answer = ask(chain, ("SKU-1", 2))

    assert offered(answer) == ["home_standard"]
    standard = answer.options[0]
    assert standard.preorder
    [line] = standard.lines
    assert (line.sku, line.qty, line.node_id) == ("SKU-1", 2, "DC-LYON")
    assert (line.source, line.supply_id, line.available_on) == ("purchase_order", "PO-77", eta)
    assert standard.estimated_by == standard.promised_by == date(2026, 12, 4)
    assert answer.unavailable == []


def test_a_cart_partly_on_hand_is_complete_when_the_purchase_order_arrives():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    stock(chain, "DC-LYON", SKU_1=5, SKU_2=1)
    eta = date(2026, 12, 3)
    chain.supply["SKU-2"] = [purchase_order("PO-77", "SKU-2", "DC-LYON", 500, eta)]

    standard = option(ask(chain, ("SKU-1", 1), ("SKU-2", 3)), "home_standard")

    assert standard.preorder
    by_source = sorted((ln.source, ln.sku, ln.qty, ln.available_on) for ln in standard.lines)
    assert by_source == [
        ("on_hand", "SKU-1", 1, WEDNESDAY),
        ("on_hand", "SKU-2", 1, WEDNESDAY),
        ("purchase_order", "SKU-2", 2, eta),
    ]
    assert standard.estimated_by == date(2026, 12, 4)


def test_the_preorder_waits_for_the_first_purchase_order_that_covers_the_shortfall():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    chain.supply["SKU-1"] = [
        purchase_order("PO-SMALL", "SKU-1", "DC-LYON", 1, date(2026, 12, 1)),
        purchase_order("PO-BIG", "SKU-1", "DC-LYON", 100, date(2026, 12, 8)),
        purchase_order("PO-LATER", "SKU-1", "DC-LYON", 100, date(2026, 12, 15)),
    ]

    [line] = option(ask(chain, ("SKU-1", 3)), "home_standard").lines

    assert (line.supply_id, line.available_on) == ("PO-BIG", date(2026, 12, 8))


def test_a_preorder_under_a_no_split_policy_is_answered_not_raised():
    # SKU-1 and SKU-2 are on hand in two warehouses, SKU-3 only on a purchase order.
    chain = supply_chain(node("DC-LYON", DC_LYON_AT), node("DC-VIENNE", DC_VIENNE_AT))
    stock(chain, "DC-LYON", SKU_1=5)
    stock(chain, "DC-VIENNE", SKU_2=5)
    chain.supply["SKU-3"] = [purchase_order("PO-77", "SKU-3", "DC-LYON", 500, date(2026, 12, 3))]

    cart = [("SKU-1", 1), ("SKU-2", 1), ("SKU-3", 1)]

    # Splits allowed: a pre-order in three parcels, two now and one from the PO.
    preorder = option(ask(chain, *cart), "home_standard")
    assert preorder.preorder and preorder.split

    # Splits forbidden: no single parcel carries what is on hand. That is no home
    # option, not an exception out of the promise (the API would answer 500).
    answer = ask(chain, *cart, policy=SourcingPolicy(max_splits=0))
    assert "home_standard" not in offered(answer)


def test_a_purchase_order_due_at_an_excluded_warehouse_is_not_promised_from():
    # Lyon is excluded by the policy (say, a labour shortage): its PO cannot ship either.
    chain = supply_chain(node("DC-LYON", DC_LYON_AT), node("DC-PARIS", DC_PARIS_AT))
    chain.supply["SKU-1"] = [
        purchase_order("PO-LYON", "SKU-1", "DC-LYON", 50, date(2026, 12, 1)),
        purchase_order("PO-PARIS", "SKU-1", "DC-PARIS", 50, date(2026, 12, 3)),
    ]

    answer = ask(chain, ("SKU-1", 1), policy=SourcingPolicy(excluded_nodes=["DC-LYON"]))

    [line] = option(answer, "home_standard").lines
    assert (line.node_id, line.supply_id) == ("DC-PARIS", "PO-PARIS")


def test_a_transfer_due_at_a_store_beyond_the_ship_from_store_radius_is_not_promised_from():
    # The only incoming units go to a Paris store, 392 km from the customer in Lyon:
    # beyond the policy's 150 km, a store does not ship to a home, now or later.
    chain = supply_chain(store("STORE-PARIS", DC_PARIS_AT, ship_from_store=True))
    transfer = SupplyLine(
        supply_id="TR-9",
        kind="transfer",
        sku="SKU-1",
        node_id="STORE-PARIS",
        eta=date(2026, 12, 1),
        expected=50,
        allocatable=50,
        allocated=0,
    )
    chain.supply["SKU-1"] = [transfer]

    answer = ask(chain, ("SKU-1", 1))

    assert answer.options == []
    assert [u.sku for u in answer.unavailable] == ["SKU-1"]


# Click and collect


def collect_chain() -> SupplyChain:
    return supply_chain(
        store("STORE-LYON", STORE_LYON_AT, click_and_collect=True),
        store("STORE-VILLEURBANNE", STORE_VILLEURBANNE_AT, click_and_collect=True),
        store("STORE-PART-DIEU", (45.76, 4.86)),  # no click and collect here
        store("STORE-GRENOBLE", STORE_GRENOBLE_AT, click_and_collect=True),
    )


def test_click_and_collect_lists_only_nearby_stores_that_have_the_cart():
    chain = collect_chain()
    for store_id in ("STORE-LYON", "STORE-PART-DIEU", "STORE-GRENOBLE"):
        stock(chain, store_id, SKU_1=5)
    stock(chain, "STORE-VILLEURBANNE", SKU_1=1)  # not enough, and no warehouse to restock

    answer = ask(chain, ("SKU-1", 2))

    assert offered(answer) == ["click_and_collect@STORE-LYON"]
    collect = answer.options[0]
    assert taken_from(collect) == {"STORE-LYON": [("SKU-1", 2)]}
    assert collect.estimated_by == collect.promised_by == WEDNESDAY  # picked today
    assert collect.cost == 2.5  # store picking, no carrier


def test_click_and_collect_lists_a_store_a_warehouse_can_restock_in_time():
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT),
        store("STORE-LYON", STORE_LYON_AT, click_and_collect=True),
        store("STORE-VILLEURBANNE", STORE_VILLEURBANNE_AT, click_and_collect=True),
    )
    stock(chain, "STORE-LYON", SKU_1=5)
    stock(chain, "DC-LYON", SKU_1=5)

    answer = ask(chain, ("SKU-1", 2))

    assert set(offered(answer)) == {
        "home_standard",
        "click_and_collect@STORE-LYON",
        "click_and_collect@STORE-VILLEURBANNE",
    }
    restocked = option(answer, "click_and_collect", "STORE-VILLEURBANNE")
    assert taken_from(restocked) == {"DC-LYON": [("SKU-1", 2)]}
    assert restocked.estimated_by == THURSDAY  # the warehouse's parcel arrives tomorrow
    on_shelf = option(answer, "click_and_collect", "STORE-LYON")
    assert on_shelf.estimated_by == WEDNESDAY


def test_a_store_without_the_cart_is_not_restocked_by_another_store():
    chain = supply_chain(
        store("STORE-LYON", STORE_LYON_AT, ship_from_store=True),
        store("STORE-VILLEURBANNE", STORE_VILLEURBANNE_AT, click_and_collect=True),
    )
    stock(chain, "STORE-LYON", SKU_1=5)

    assert offered(ask(chain, ("SKU-1", 1))) == ["home_standard"]


def test_a_store_keeps_its_protected_units_from_click_and_collect():
    lyon = store("STORE-LYON", STORE_LYON_AT, click_and_collect=True, protection_qty=2)
    chain = supply_chain(lyon)
    # Three on the shelf, two of them kept for walk-in customers: one left online.
    stock(chain, "STORE-LYON", SKU_1=online_atp(lyon, on_hand=3, reserved=0, safety_stock=0))

    assert offered(ask(chain, ("SKU-1", 1))) == ["click_and_collect@STORE-LYON"]
    assert offered(ask(chain, ("SKU-1", 2))) == []


# Peaks


CHRISTMAS = Calendar(
    holidays=[date(2026, 12, 25)],
    peaks=[
        Peak(
            name="christmas",
            **{"from": date(2026, 11, 20)},
            to=date(2026, 12, 24),
            guarantee_by=date(2026, 12, 24),
        )
    ],
)


def peak_chain() -> SupplyChain:
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT, carriers=["POSTE", "EXPRESSO"]), calendar=CHRISTMAS
    )
    stock(chain, "DC-LYON", SKU_1=5)
    return chain


def test_in_a_peak_standard_delivery_is_promised_by_the_guarantee_date():
    standard = option(ask(peak_chain(), ("SKU-1", 1)), "home_standard")

    assert standard.estimated_by == THURSDAY
    assert standard.promised_by == date(2026, 12, 24)
    assert standard.guaranteed


def test_in_a_peak_express_keeps_its_own_date():
    express = option(ask(peak_chain(), ("SKU-1", 1)), "home_express")

    assert express.estimated_by == THURSDAY
    assert express.promised_by == THURSDAY
    assert not express.guaranteed


def test_in_a_peak_an_option_that_misses_the_guarantee_date_keeps_its_own_date():
    # Wednesday 23rd after the cut-off: picked Thursday 24th, Christmas is a holiday.
    late = datetime(2026, 12, 23, 16, 0, tzinfo=UTC)

    standard = option(ask(peak_chain(), ("SKU-1", 1), at=late), "home_standard")

    assert standard.estimated_by == date(2026, 12, 26)
    assert standard.promised_by == standard.estimated_by
    assert not standard.guaranteed


def test_outside_a_peak_nothing_is_guaranteed():
    october = datetime(2026, 10, 14, 8, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Paris

    standard = option(ask(peak_chain(), ("SKU-1", 1), at=october), "home_standard")

    assert standard.promised_by == standard.estimated_by == date(2026, 10, 15)
    assert not standard.guaranteed


# Unknown SKUs and costs


def test_a_cart_with_an_unknown_sku_gets_no_option_and_the_reason():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    stock(chain, "DC-LYON", SKU_1=5)

    answer = ask(chain, ("SKU-1", 1), ("SKU-NOPE", 1))

    assert answer.options == []
    assert answer.unavailable == [Unavailable(sku="SKU-NOPE", reason="unknown or never stocked")]


def test_a_cart_beyond_the_stock_and_every_supply_says_how_much_is_missing():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    stock(chain, "DC-LYON", SKU_1=3)
    chain.supply["SKU-1"] = [purchase_order("PO-77", "SKU-1", "DC-LYON", 2, date(2026, 12, 3))]

    answer = ask(chain, ("SKU-1", 10))

    assert answer.options == []
    assert answer.unavailable == [
        Unavailable(
            sku="SKU-1", reason="7 of 10 not available to promise, and no supply covers them"
        )
    ]


def test_the_cost_of_an_option_is_shipping_plus_picking():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT, carriers=["POSTE", "EXPRESSO"]))
    stock(chain, "DC-LYON", SKU_1=5)

    answer = ask(chain, ("SKU-1", 1))

    assert option(answer, "home_standard").cost == 5.0 + 1.0  # POSTE + warehouse picking
    assert option(answer, "home_express").cost == 12.0 + 1.0
    expensive_picking = SourcingPolicy(picking_cost={"warehouse": 3.0, "store": 4.0})
    assert option(ask(chain, ("SKU-1", 1), policy=expensive_picking), "home_standard").cost == 8.0


def test_the_cost_of_a_split_is_the_sum_of_its_parcels():
    chain = supply_chain(
        node("DC-LYON", DC_LYON_AT), store("STORE-LYON", STORE_LYON_AT, ship_from_store=True)
    )
    stock(chain, "DC-LYON", SKU_1=5)
    stock(chain, "STORE-LYON", SKU_2=5)

    standard = option(ask(chain, ("SKU-1", 1), ("SKU-2", 1)), "home_standard")

    assert standard.split
    assert standard.cost == (5.0 + 1.0) + (5.0 + 2.5)


def test_the_cost_of_a_preorder_includes_picking_the_purchase_order_parcel():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    chain.supply["SKU-1"] = [purchase_order("PO-77", "SKU-1", "DC-LYON", 500, date(2026, 12, 3))]

    standard = option(ask(chain, ("SKU-1", 1)), "home_standard")

    assert standard.preorder
    assert standard.cost == 5.0 + 1.0  # the received units are picked like any others


def test_a_promise_is_asked_for_now_give_or_take_a_day_of_a_checkout_clock():
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    for near in (timedelta(0), timedelta(days=1), -timedelta(days=1), timedelta(hours=14)):
        assert promise_time_refusal(now + near, now) is None
    for far in (timedelta(days=1, seconds=1), -timedelta(days=1, seconds=1), timedelta(days=400)):
        refusal = promise_time_refusal(now + far, now)
        assert refusal and "more than a day from now" in refusal
