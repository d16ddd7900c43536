"""The sourcing policy: the retailer's rules, and how they steer sourcing (domain/policy.py)."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from domain.network import Carrier, Node
from domain.order import OrderLine
from domain.policy import DEFAULT_POLICY, NEAREST_NODE_POLICY, SourcingPolicy, Weights
from domain.sourcing import Destination, NodeOffer, SourcingPlan, Unsourceable, source_order
from tests.domain.builders import node

# Wednesday 2026-11-25, 10:00 in Paris: before every cut-off, so nodes ship today.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WEDNESDAY = date(2026, 11, 25)
THURSDAY = date(2026, 11, 26)
FRIDAY = date(2026, 11, 27)

HOME_IN_LYON = Destination(lat=45.76, lon=4.83)
DC_PARIS_AT = (48.86, 2.35)  # 392 km from the customer
DC_VIENNE_AT = (45.50, 4.90)  # 29 km
DC_LYON_AT = (45.73, 4.95)  # 10 km
STORE_LYON_AT = (45.765, 4.835)  # 1 km


def store(node_id: str, at: tuple[float, float], **extra: Any) -> Node:
    return node(node_id, at, type="store", ship_from_store=True, **extra)


def carrier(carrier_id: str, cost: float, bands: dict[int, int]) -> Carrier:
    """One standard service; `bands` maps a reach in km to the days in transit up to it."""
    return Carrier(
        id=carrier_id,
        services=[
            {
                "id": f"{carrier_id}-STD",
                "cost": cost,
                "bands": [{"max_km": km, "days": d} for km, d in bands.items()],
            }
        ],
    )


POSTE = carrier("POSTE", cost=5.0, bands={300: 1, 1200: 2})
COURSIER = carrier("COURSIER", cost=15.0, bands={100: 1})  # fast and dear
VELO = carrier("VELO", cost=1.0, bands={20: 1})  # a bike courier: cheap, only in town
TORTUE = carrier("TORTUE", cost=9.0, bands={1200: 3})  # slow and dear
CARRIERS = [POSTE, COURSIER, VELO, TORTUE]


def offer(of: Node, **atp: int) -> NodeOffer:
    return NodeOffer(node=of, atp={sku.replace("_", "-"): qty for sku, qty in atp.items()})


def lines(*wanted: tuple[str, int]) -> list[OrderLine]:
    return [OrderLine(line_id=str(n), sku=sku, qty=qty) for n, (sku, qty) in enumerate(wanted, 1)]


ONE_UNIT = lines(("SKU-1", 1))


def plan_for(
    offers: list[NodeOffer],
    policy: SourcingPolicy = DEFAULT_POLICY,
    cart: list[OrderLine] = ONE_UNIT,
    promised_by: date | None = None,
) -> SourcingPlan:
    return source_order(
        cart, HOME_IN_LYON, offers, CARRIERS, [], NOW, promised_by=promised_by, policy=policy
    )


def sources(plan: SourcingPlan) -> list[str]:
    return sorted(s.node_id for s in plan.shipments)


# Weights


def store_or_warehouse() -> list[NodeOffer]:
    """A store next door with a cheap bike courier, a warehouse 29 km away with La Poste:
    both deliver tomorrow."""
    return [
        offer(store("STORE-LYON", STORE_LYON_AT, carriers=["VELO"]), SKU_1=5),
        offer(node("DC-VIENNE", DC_VIENNE_AT), SKU_1=5),
    ]


def test_by_default_a_cheaper_nearer_store_ships_the_order():
    plan = plan_for(store_or_warehouse())

    assert sources(plan) == ["STORE-LYON"]
    assert plan.shipments[0].cost == 1.0 + 2.5  # bike courier + store picking


def test_a_high_store_share_weight_keeps_the_order_in_the_warehouse():
    stores_last = SourcingPolicy(name="stores-last", weights=Weights(store_share=20))

    plan = plan_for(store_or_warehouse(), stores_last)

    assert sources(plan) == ["DC-VIENNE"]
    assert plan.deliver_by == THURSDAY
    assert plan.score is not None and plan.score.store_share == 0


def test_a_high_cost_weight_chooses_the_cheaper_parcel_even_if_later():
    offers = [
        offer(node("DC-PARIS", DC_PARIS_AT), SKU_1=5),  # 5 EUR, Friday
        offer(node("DC-VIENNE", DC_VIENNE_AT, carriers=["COURSIER"]), SKU_1=5),  # 15, Thursday
    ]

    assert sources(plan_for(offers, SourcingPolicy(weights=Weights(cost=0)))) == ["DC-VIENNE"]
    assert sources(plan_for(offers, SourcingPolicy(weights=Weights(cost=10)))) == ["DC-PARIS"]


def test_stores_are_rejected_when_the_policy_turns_them_off():
    no_stores = SourcingPolicy(name="no-stores", use_stores=False)

    plan = plan_for(store_or_warehouse(), no_stores)

    assert sources(plan) == ["DC-VIENNE"]
    assert "STORE-LYON: rejected, stores are off in the policy" in plan.explanation

    with pytest.raises(Unsourceable) as raised:
        plan_for(store_or_warehouse()[:1], no_stores)
    assert raised.value.missing == {"1": 1}


def test_excluded_nodes_are_rejected():
    lyon = node("DC-LYON", DC_LYON_AT)
    vienne = node("DC-VIENNE", DC_VIENNE_AT)
    offers = [offer(lyon, SKU_1=5), offer(vienne, SKU_1=5)]
    assert sources(plan_for(offers)) == ["DC-LYON"]

    plan = plan_for(offers, SourcingPolicy(excluded_nodes=["DC-LYON"]))

    assert sources(plan) == ["DC-VIENNE"]
    assert "DC-LYON: rejected, excluded by the policy" in plan.explanation


def test_stores_ship_only_to_customers_within_the_policys_radius():
    # The customer is in Lyon; a store in Paris (392 km) has the only stock.
    paris_store = [offer(store("STORE-PARIS", DC_PARIS_AT), SKU_1=5)]

    with pytest.raises(Unsourceable):
        plan_for(paris_store)  # 150 km by default
    plan = plan_for(paris_store, SourcingPolicy(max_store_distance_km=500))
    assert sources(plan) == ["STORE-PARIS"]

    explained = source_order(
        ONE_UNIT, HOME_IN_LYON, paris_store + store_or_warehouse()[1:], CARRIERS, [], NOW
    )
    assert "STORE-PARIS: rejected, store 392 km away, beyond 150 km" in explained.explanation


def test_the_nearest_node_policy_picks_the_nearest_node_however_slow_and_dear():
    offers = [
        offer(node("DC-PARIS", DC_PARIS_AT), SKU_1=5),  # 5 EUR, Friday
        offer(node("DC-VIENNE", DC_VIENNE_AT, carriers=["TORTUE"]), SKU_1=5),  # 9 EUR, Monday
    ]
    assert sources(plan_for(offers)) == ["DC-PARIS"]

    plan = plan_for(offers, NEAREST_NODE_POLICY)

    assert sources(plan) == ["DC-VIENNE"]
    assert plan.policy == "nearest-node"


def test_picking_costs_count_in_the_choice():
    offers = [
        offer(node("DC-LYON", DC_LYON_AT), SKU_1=5),
        offer(store("STORE-LYON", STORE_LYON_AT), SKU_1=5),
    ]
    assert sources(plan_for(offers)) == ["DC-LYON"]

    cheap_store_picking = SourcingPolicy(
        picking_cost={"warehouse": 6.0, "store": 0.0}, weights=Weights(store_share=0)
    )
    plan = plan_for(offers, cheap_store_picking)

    assert sources(plan) == ["STORE-LYON"]
    assert plan.shipments[0].cost == 5.0


# The promised date


def cheap_late_or_dear_on_time() -> list[NodeOffer]:
    return [
        offer(node("DC-PARIS", DC_PARIS_AT), SKU_1=5),  # 5 EUR, Friday
        offer(node("DC-VIENNE", DC_VIENNE_AT, carriers=["COURSIER"]), SKU_1=5),  # 15, Thursday
    ]


def test_a_plan_that_keeps_the_promised_date_beats_a_cheaper_late_one():
    penny_pincher = SourcingPolicy(name="penny-pincher", weights=Weights(cost=100, lead_time=0))
    assert sources(plan_for(cheap_late_or_dear_on_time(), penny_pincher)) == ["DC-PARIS"]

    plan = plan_for(cheap_late_or_dear_on_time(), penny_pincher, promised_by=THURSDAY)

    assert sources(plan) == ["DC-VIENNE"]
    assert plan.meets_promise
    assert plan.deliver_by == THURSDAY
    assert plan.explanation[-1].endswith("keeps 2026-11-26")


def test_when_nothing_keeps_the_date_the_plan_says_so():
    plan = plan_for(cheap_late_or_dear_on_time(), promised_by=WEDNESDAY)

    assert not plan.meets_promise
    assert plan.explanation[-1].endswith("nothing keeps 2026-11-25")
    assert any(note.endswith(", late") for note in plan.explanation)


def test_when_nothing_keeps_the_date_the_fastest_plan_is_chosen():
    # The explanation says "is the fastest": the least late plan is the one chosen,
    # as routing.best_route does for services.
    plan = plan_for(cheap_late_or_dear_on_time(), promised_by=WEDNESDAY)

    assert "is the fastest" in plan.explanation[-1]
    assert plan.deliver_by == THURSDAY
    assert sources(plan) == ["DC-VIENNE"]


def test_the_plan_names_the_policy_and_version_that_chose_it():
    peak = SourcingPolicy(name="peak-2026", version=7)

    plan = plan_for(store_or_warehouse(), peak)

    assert (plan.policy, plan.policy_version) == ("peak-2026", 7)
    assert "under policy peak-2026 v7" in plan.explanation[-1]
    default = plan_for(store_or_warehouse())
    assert (default.policy, default.policy_version) == ("balanced", 0)


# Splits


def three_nodes_one_sku_each() -> list[NodeOffer]:
    return [
        offer(node("DC-LYON", DC_LYON_AT), SKU_1=5),
        offer(node("DC-VIENNE", DC_VIENNE_AT), SKU_2=5),
        offer(node("DC-PARIS", DC_PARIS_AT), SKU_3=5),
    ]


def test_max_splits_bounds_the_number_of_parcels():
    cart = lines(("SKU-1", 1), ("SKU-2", 1), ("SKU-3", 1))

    plan = plan_for(three_nodes_one_sku_each(), SourcingPolicy(max_splits=2), cart)
    assert sources(plan) == ["DC-LYON", "DC-PARIS", "DC-VIENNE"]

    with pytest.raises(Unsourceable) as raised:
        plan_for(three_nodes_one_sku_each(), SourcingPolicy(max_splits=1), cart)
    assert raised.value.missing == {}
    assert "more than 2 shipments" in str(raised.value)


def test_a_policy_that_keeps_lines_whole_never_splits_one_line():
    offers = [
        offer(node("DC-LYON", DC_LYON_AT), SKU_1=3),
        offer(node("DC-VIENNE", DC_VIENNE_AT), SKU_1=3),
    ]
    cart = lines(("SKU-1", 5))

    assert sources(plan_for(offers, cart=cart)) == ["DC-LYON", "DC-VIENNE"]
    with pytest.raises(Unsourceable):
        plan_for(offers, SourcingPolicy(split_lines=False), cart)


# Validation: a policy is configured without code, so bad input is refused


def test_a_policy_loads_from_its_json_document():
    policy = SourcingPolicy.model_validate_json(
        '{"name": "peak", "max_splits": 1, "use_stores": false, "excluded_nodes": ["DC-LYON"],'
        ' "picking_cost": {"warehouse": 0.8, "store": 3}, "weights": {"lead_time": 10}}'
    )

    assert policy.max_splits == 1 and not policy.use_stores
    assert policy.excluded_nodes == ["DC-LYON"]
    assert policy.weights.lead_time == 10
    assert policy.weights.cost == Weights().cost  # unspecified weights keep their default


@pytest.mark.parametrize(
    "document",
    [
        {"weights": {"cost": -1}},
        {"weights": {"store_share": -0.1}},
        {"max_splits": 11},
        {"max_splits": -1},
        {"picking_cost": {"store": -2.5}},
        {"name": ""},
        {"excluded_nodes": ["not an id"]},
        {"max_split": 1},  # misspelt: refused, not silently ignored
        {"weights": {"speed": 1}},
    ],
    ids=lambda document: str(document),
)
def test_an_invalid_policy_is_refused(document: dict):
    with pytest.raises(ValidationError):
        SourcingPolicy.model_validate(document)


def test_ten_splits_is_the_most_a_policy_allows():
    assert SourcingPolicy(max_splits=10).max_splits == 10
    assert SourcingPolicy(max_splits=0).max_splits == 0
