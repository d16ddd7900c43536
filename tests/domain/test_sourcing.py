"""Sourcing: which nodes and carrier services fulfil an order (domain/sourcing.py)."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.network import Carrier, Node
from domain.order import OrderLine
from domain.sourcing import Destination, NodeOffer, SourcingPlan, Unsourceable, source_order
from tests.domain import builders

# Wednesday 2026-11-25, 10:00 in Paris: before every cut-off, so nodes ship today.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)

PARIS = (48.86, 2.35)
LYON = (45.76, 4.83)
LILLE = (50.63, 3.06)
MARSEILLE = (43.30, 5.37)


def node(node_id: str, at: tuple[float, float], **extra: Any) -> Node:
    return builders.node(node_id, at, **({"carriers": ["NATIONAL"]} | extra))


def carrier(carrier_id: str, *services: dict) -> Carrier:
    return Carrier(id=carrier_id, services=list(services))


def service(service_id: str, cost: float, days: int, max_km: float = 1200) -> dict:
    return {"id": service_id, "cost": cost, "bands": [{"max_km": max_km, "days": days}]}


NATIONAL = carrier("NATIONAL", service("NAT-STD", cost=5.0, days=2))


def offer(of: Node, **atp: int) -> NodeOffer:
    return NodeOffer(node=of, atp={sku.replace("_", "-"): qty for sku, qty in atp.items()})


def lines(*wanted: tuple[str, int]) -> list[OrderLine]:
    return [OrderLine(line_id=str(n), sku=sku, qty=qty) for n, (sku, qty) in enumerate(wanted, 1)]


def to(at: tuple[float, float], **extra: Any) -> Destination:
    return Destination(lat=at[0], lon=at[1], **extra)


HOME_IN_LYON = to(LYON)


def plan_for(
    cart: list[OrderLine],
    offers: list[NodeOffer],
    destination: Destination = HOME_IN_LYON,
    carriers: list[Carrier] | None = None,
    promised_by: date | None = None,
) -> SourcingPlan:
    return source_order(
        cart, destination, offers, carriers or [NATIONAL], [], NOW, promised_by=promised_by
    )


def shipped(plan: SourcingPlan) -> dict[str, list[tuple[str, int]]]:
    """Node id -> [(line id, qty)], the shape a reader checks a plan by."""
    return {s.node_id: [(ln.line_id, ln.qty) for ln in s.lines] for s in plan.shipments}


def test_nearest_node_with_every_line_in_full_serves_the_order():
    paris = node("DC-PARIS", PARIS)
    lyon = node("DC-LYON", LYON)
    cart = lines(("SKU-1", 2), ("SKU-2", 1))

    plan = plan_for(cart, [offer(paris, SKU_1=9, SKU_2=9), offer(lyon, SKU_1=2, SKU_2=1)])

    assert shipped(plan) == {"DC-LYON": [("1", 2), ("2", 1)]}
    assert plan.shipments[0].carrier_id == "NATIONAL"
    assert plan.shipments[0].ship_on == TODAY


def test_prefers_a_farther_node_with_everything_to_a_split():
    paris = node("DC-PARIS", PARIS)
    lyon = node("DC-LYON", LYON)
    cart = lines(("SKU-1", 2), ("SKU-2", 1))

    plan = plan_for(cart, [offer(paris, SKU_1=9, SKU_2=9), offer(lyon, SKU_1=9)])

    assert shipped(plan) == {"DC-PARIS": [("1", 2), ("2", 1)]}


def test_splits_lines_across_nodes_when_no_single_node_has_them_all():
    paris = node("DC-PARIS", PARIS)
    lyon = node("DC-LYON", LYON)
    cart = lines(("SKU-1", 2), ("SKU-2", 1))

    plan = plan_for(cart, [offer(paris, SKU_2=9), offer(lyon, SKU_1=5)])
    assert shipped(plan) == {"DC-LYON": [("1", 2)], "DC-PARIS": [("2", 1)]}
    assert plan.deliver_by == max(s.deliver_by for s in plan.shipments)


def test_splits_one_line_across_nodes_when_no_node_has_it_in_full():
    paris = node("DC-PARIS", PARIS)
    lyon = node("DC-LYON", LYON)
    lille = node("STORE-LILLE", LILLE)

    plan = plan_for(
        lines(("SKU-1", 5)), [offer(lille, SKU_1=4), offer(paris, SKU_1=4), offer(lyon, SKU_1=3)]
    )

    # Nearest first: Lyon gives what it has, Paris (392 km) the rest; Lille is not needed.
    assert shipped(plan) == {"DC-LYON": [("1", 3)], "DC-PARIS": [("1", 2)]}


def test_raises_unsourceable_naming_the_short_lines():
    paris = node("DC-PARIS", PARIS)
    lyon = node("DC-LYON", LYON)
    cart = lines(("SKU-1", 10), ("SKU-2", 1), ("SKU-3", 2))

    with pytest.raises(Unsourceable) as raised:
        plan_for(cart, [offer(paris, SKU_1=4, SKU_2=1), offer(lyon, SKU_1=3)])

    assert raised.value.missing == {"1": 3, "3": 2}
    assert "line 1 short of 3" in str(raised.value)
    assert "line 3 short of 2" in str(raised.value)
    assert "line 2" not in str(raised.value)


def test_two_lines_of_the_same_sku_never_take_more_than_the_node_has():
    lyon = node("DC-LYON", LYON)
    paris = node("DC-PARIS", PARIS)
    cart = lines(("SKU-1", 3), ("SKU-1", 3))

    plan = plan_for(cart, [offer(lyon, SKU_1=4), offer(paris, SKU_1=4)])

    taken = {s.node_id: s.units for s in plan.shipments}
    assert taken.get("DC-LYON", 0) <= 4
    assert taken.get("DC-PARIS", 0) <= 4
    assert sum(taken.values()) == 6


FAST_AND_DEAR = carrier("EXPRESSO", service("EXP-24", cost=12.0, days=1))
SLOW_AND_CHEAP = carrier("POSTE", service("POSTE-ECO", cost=4.0, days=3))


def two_service_node() -> Node:
    return node("DC-PARIS", PARIS, carriers=["EXPRESSO", "POSTE"])


def test_picks_cheapest_service_that_keeps_the_promise():
    paris = two_service_node()
    both = [FAST_AND_DEAR, SLOW_AND_CHEAP]

    # Wednesday + 3 delivery days = Saturday: a Saturday promise lets the cheap one do.
    relaxed = plan_for(
        lines(("SKU-1", 1)), [offer(paris, SKU_1=1)], carriers=both, promised_by=date(2026, 11, 28)
    )
    assert relaxed.shipments[0].service_id == "POSTE-ECO"
    assert relaxed.deliver_by == date(2026, 11, 28)

    tight = plan_for(
        lines(("SKU-1", 1)), [offer(paris, SKU_1=1)], carriers=both, promised_by=date(2026, 11, 26)
    )
    assert tight.shipments[0].carrier_id == "EXPRESSO"
    assert tight.shipments[0].service_id == "EXP-24"
    assert tight.deliver_by == date(2026, 11, 26)


def test_picks_fastest_service_when_none_keeps_the_promise():
    paris = two_service_node()

    plan = plan_for(
        lines(("SKU-1", 1)),
        [offer(paris, SKU_1=1)],
        carriers=[SLOW_AND_CHEAP, FAST_AND_DEAR],
        promised_by=TODAY,
    )

    assert plan.shipments[0].service_id == "EXP-24"
    assert plan.deliver_by == date(2026, 11, 26)


def test_click_and_collect_store_with_the_cart_serves_its_own_counter_without_carrier():
    store = node("STORE-LILLE", LILLE, type="store", click_and_collect=True, carriers=[])
    paris = node("DC-PARIS", PARIS)

    plan = plan_for(
        lines(("SKU-1", 2)),
        [offer(paris, SKU_1=9), offer(store, SKU_1=2)],
        destination=to(LILLE, pickup_node_id="STORE-LILLE"),
    )

    [counter] = plan.shipments
    assert counter.node_id == "STORE-LILLE"
    assert (counter.carrier_id, counter.service_id) == (None, None)
    assert counter.distance_km == 0
    assert counter.deliver_by == counter.ship_on == TODAY


def test_click_and_collect_store_without_the_cart_is_restocked_by_carrier():
    store = node("STORE-LILLE", LILLE, type="store", click_and_collect=True, carriers=[])
    paris = node("DC-PARIS", PARIS)

    plan = plan_for(
        lines(("SKU-1", 2)),
        [offer(paris, SKU_1=9), offer(store, SKU_1=1)],
        destination=to(LILLE, pickup_node_id="STORE-LILLE"),
    )

    assert shipped(plan) == {"DC-PARIS": [("1", 2)]}
    assert plan.shipments[0].carrier_id == "NATIONAL"


def test_node_out_of_every_carrier_band_is_not_a_candidate():
    local = carrier("COURSIER", service("COURSIER-J", cost=3.0, days=0, max_km=100))
    # Marseille is nearer to Lyon (~280 km) than Paris (~390 km) but its only carrier
    # stops at 100 km.
    marseille = node("STORE-MARSEILLE", MARSEILLE, type="store", carriers=["COURSIER"])
    paris = node("DC-PARIS", PARIS)

    plan = plan_for(
        lines(("SKU-1", 1)),
        [offer(marseille, SKU_1=9), offer(paris, SKU_1=9)],
        carriers=[local, NATIONAL],
    )
    assert shipped(plan) == {"DC-PARIS": [("1", 1)]}

    with pytest.raises(Unsourceable) as raised:
        plan_for(lines(("SKU-1", 1)), [offer(marseille, SKU_1=9)], carriers=[local, NATIONAL])
    assert raised.value.missing == {"1": 1}


def test_node_whose_carrier_is_unknown_is_not_a_candidate():
    orphan = node("DC-LYON", LYON, carriers=["GONE"])
    paris = node("DC-PARIS", PARIS)

    plan = plan_for(lines(("SKU-1", 1)), [offer(orphan, SKU_1=9), offer(paris, SKU_1=9)])

    assert shipped(plan) == {"DC-PARIS": [("1", 1)]}


def test_explanation_names_every_candidate_and_why_others_were_ruled_out():
    local = carrier("COURSIER", service("COURSIER-J", cost=3.0, days=0, max_km=100))
    marseille = node(
        "STORE-MARSEILLE", MARSEILLE, type="store", carriers=["COURSIER"], ship_from_store=True
    )
    toulouse = node("STORE-TOULOUSE", (43.6, 1.44), type="store")  # no ship-from-store
    paris = node("DC-PARIS", PARIS)
    lyon = node("DC-LYON", LYON)

    plan = plan_for(
        lines(("SKU-1", 1)),
        [
            offer(marseille, SKU_1=9),
            offer(toulouse, SKU_1=9),
            offer(paris, SKU_1=9),
            offer(lyon, SKU_1=9),
            offer(node("DC-LILLE", LILLE), SKU_2=9),
        ],
        carriers=[local, NATIONAL],
    )

    why = "\n".join(plan.explanation)
    assert "STORE-MARSEILLE: rejected, store 277 km away, beyond 150 km" in why
    assert "STORE-TOULOUSE: rejected, does not ship online orders" in why
    assert "DC-LILLE: rejected, has none of the cart" in why
    assert "DC-LYON: candidate, 1/1 units, ships 2026-11-25" in why
    assert "DC-PARIS: candidate" in why
    assert plan.explanation[-1].startswith("chosen DC-LYON (1): lowest score")
    assert plan.score is not None and plan.score.distance_km < 10


def test_order_after_the_cut_off_ships_the_next_open_day():
    lyon = node("DC-LYON", LYON)
    evening = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # 16:30 in Lyon

    plan = source_order(
        lines(("SKU-1", 1)), to(LYON), [offer(lyon, SKU_1=1)], [NATIONAL], [], evening
    )

    assert plan.shipments[0].ship_on == date(2026, 11, 26)
