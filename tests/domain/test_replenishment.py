"""Store replenishment, as a retailer's planner would check it by hand."""

from datetime import date, timedelta

import pytest

from domain.network import Calendar, Peak
from domain.replenishment import (
    Place,
    ReplenishmentPolicy,
    SourceStock,
    StoreStock,
    forecast,
    plan,
    store_need,
)

TODAY = date(2026, 11, 4)  # a Wednesday
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NO_PEAK = Calendar()


def sold(per_day: int, days: int = 28) -> dict[date, int]:
    return {TODAY - timedelta(days=n): per_day for n in range(1, days + 1)}


def places(**slots: int) -> dict[str, Place]:
    return {
        "DC-PARIS": Place(
            node_id="DC-PARIS",
            type="warehouse",
            lat=48.9,
            lon=2.4,
            open_days=EVERY_DAY,
            slots_today=slots.get("paris", 100),
        ),
        "DC-LYON": Place(
            node_id="DC-LYON",
            type="warehouse",
            lat=45.72,
            lon=4.92,
            open_days=EVERY_DAY,
            slots_today=slots.get("lyon", 100),
        ),
        "STORE-LILLE": Place(
            node_id="STORE-LILLE", type="store", lat=50.63, lon=3.06, open_days=EVERY_DAY
        ),
        "STORE-LYON": Place(
            node_id="STORE-LYON", type="store", lat=45.76, lon=4.84, open_days=EVERY_DAY
        ),
    }


def lille(on_hand: int, per_day: int = 10, **extra) -> StoreStock:
    return StoreStock(
        store_id="STORE-LILLE", sku="GIFT", on_hand=on_hand, history=sold(per_day), **extra
    )


def warehouse(node_id: str = "DC-PARIS", on_hand: int = 500, **extra) -> SourceStock:
    return SourceStock(node_id=node_id, sku="GIFT", on_hand=on_hand, **extra)


def test_a_store_selling_10_a_day_with_3_days_of_cover_and_12_on_hand_gets_18_plus_safety():
    policy = ReplenishmentPolicy(days_of_cover=3)
    store = lille(on_hand=12, safety_stock=4)

    [proposal] = plan(policy, TODAY, NO_PEAK, [store], [warehouse()], places())

    assert proposal.qty == 18 + 4
    assert proposal.source_node_id == "DC-PARIS"  # the nearest warehouse: the cheapest move
    assert proposal.explanation.target == 30 + 4


def test_units_on_their_way_and_units_held_for_orders_count():
    policy = ReplenishmentPolicy(days_of_cover=3)
    store = lille(on_hand=12, reserved=5, inbound=10)  # 5 leave soon, 10 arrive soon

    [proposal] = plan(policy, TODAY, NO_PEAK, [store], [warehouse()], places())

    assert proposal.qty == 30 - (12 - 5 + 10)


def test_a_peak_factor_of_3_on_the_coming_days_raises_the_target_ahead_of_time():
    policy = ReplenishmentPolicy(days_of_cover=3, peak_lead_days=0)
    peak = Peak.model_validate(
        {
            "name": "black friday",
            "from": TODAY + timedelta(days=1),
            "to": TODAY + timedelta(days=10),
            "demand_factor": 3,
        }
    )
    store = lille(on_hand=12)

    calm = store_need(policy, store, TODAY, 1, NO_PEAK)
    ahead = store_need(policy, store, TODAY, 1, Calendar(peaks=[peak]))

    assert calm.target == 30
    assert ahead.target == 10 + 30 + 30  # today normal, the next two days three times busier
    assert ahead.peak_ahead


def test_before_a_peak_the_cover_reaches_the_policys_peak_lead_days_further():
    policy = ReplenishmentPolicy(days_of_cover=3, peak_lead_days=4)
    peak = Peak.model_validate(
        {
            "name": "christmas",
            "from": TODAY + timedelta(days=5),
            "to": TODAY + timedelta(days=20),
            "demand_factor": 2,
        }
    )

    need = store_need(policy, lille(on_hand=0), TODAY, 1, Calendar(peaks=[peak]))

    # 7 days covered: 5 normal days (50) and the peak's first 2 days (2 x 20).
    assert len(need.forecast.days) == 7
    assert need.target == 50 + 40


def test_peak_days_in_the_history_are_read_as_normal_days():
    last_week = Peak.model_validate(
        {
            "name": "sale",
            "from": TODAY - timedelta(days=7),
            "to": TODAY - timedelta(days=1),
            "demand_factor": 4,
        }
    )
    history = {**sold(10, 28), **{TODAY - timedelta(days=n): 40 for n in range(1, 8)}}

    ahead = forecast(
        history, TODAY - timedelta(days=28), TODAY, [TODAY], Calendar(peaks=[last_week])
    )

    assert ahead.base_per_day == pytest.approx(10)


def test_the_weekday_profile_shapes_the_forecast_once_two_weeks_are_known():
    saturday_rush = {
        TODAY - timedelta(days=n): 40 if (TODAY - timedelta(days=n)).weekday() == 5 else 10
        for n in range(1, 29)
    }
    saturday = TODAY + timedelta(days=3)
    tuesday = TODAY + timedelta(days=6)

    ahead = forecast(saturday_rush, TODAY - timedelta(days=28), TODAY, [saturday, tuesday], NO_PEAK)

    assert ahead.units[0] == pytest.approx(40)
    assert ahead.units[1] == pytest.approx(10)


def test_a_new_store_is_forecast_from_the_days_it_has_been_heard_of():
    store = StoreStock(
        store_id="STORE-LILLE",
        sku="GIFT",
        on_hand=0,
        history={TODAY - timedelta(days=n): 10 for n in (1, 2)},
        known_since=TODAY - timedelta(days=2),
    )

    need = store_need(ReplenishmentPolicy(days_of_cover=3), store, TODAY, 1, NO_PEAK)

    assert need.forecast.base_per_day == pytest.approx(10)  # not 20 units spread over 28 days


def test_a_warehouse_never_gives_away_units_its_online_orders_hold():
    policy = ReplenishmentPolicy(days_of_cover=3, source_keep_days=2)
    # 100 on hand: 60 held for online orders, 10 safety, and it ships 5 a day online.
    paris = warehouse(on_hand=100, reserved=60, safety_stock=10, online_history=sold(5))

    [proposal] = plan(policy, TODAY, NO_PEAK, [lille(on_hand=0)], [paris], places())

    assert proposal.qty == 100 - 60 - 10 - 2 * 5
    assert proposal.explanation.source is not None
    assert proposal.explanation.source.free == 20


def test_a_warehouse_keeps_its_own_peak_demand():
    policy = ReplenishmentPolicy(days_of_cover=3, source_keep_days=2)
    peak = Peak.model_validate(
        {"name": "peak", "from": TODAY, "to": TODAY + timedelta(days=30), "demand_factor": 4}
    )
    paris = warehouse(on_hand=100, online_history=sold(5))

    proposals = plan(policy, TODAY, Calendar(peaks=[peak]), [lille(on_hand=0)], [paris], places())

    assert sum(p.qty for p in proposals) == 100 - 2 * 5 * 4


def test_the_most_urgent_store_is_served_first_when_stock_is_scarce():
    policy = ReplenishmentPolicy(days_of_cover=3)
    lyon_store = StoreStock(store_id="STORE-LYON", sku="GIFT", on_hand=25, history=sold(10))
    lille_store = lille(on_hand=2)  # runs out today

    proposals = plan(
        policy, TODAY, NO_PEAK, [lyon_store, lille_store], [warehouse(on_hand=30)], places()
    )

    given = {p.store_id: p.qty for p in proposals}
    assert given == {"STORE-LILLE": 28, "STORE-LYON": 2}


def test_a_source_without_picking_slots_is_passed_over_and_says_why():
    policy = ReplenishmentPolicy(days_of_cover=3)
    sources = [warehouse("DC-PARIS"), warehouse("DC-LYON")]

    [proposal] = plan(policy, TODAY, NO_PEAK, [lille(on_hand=0)], sources, places(paris=0))

    assert proposal.source_node_id == "DC-LYON"
    [paris] = [c for c in proposal.explanation.passed_over if c.node_id == "DC-PARIS"]
    assert paris.why_not == "no picking slot left today"


def test_a_store_receives_no_more_than_its_receiving_capacity():
    policy = ReplenishmentPolicy(days_of_cover=3)
    network = places()
    network["STORE-LILLE"] = network["STORE-LILLE"].model_copy(update={"receive_per_day": 12})

    [proposal] = plan(policy, TODAY, NO_PEAK, [lille(on_hand=0)], [warehouse()], network)

    assert proposal.qty == 12


def test_a_need_nothing_can_fill_is_proposed_without_source_and_explained():
    policy = ReplenishmentPolicy(days_of_cover=3)

    [proposal] = plan(policy, TODAY, NO_PEAK, [lille(on_hand=0)], [warehouse(on_hand=0)], places())

    assert proposal.qty == 0 and proposal.source_node_id is None
    assert "no source can give it" in proposal.explanation.summary
    assert proposal.explanation.need == 30


def test_a_proposal_explains_its_numbers():
    policy = ReplenishmentPolicy(
        days_of_cover=3, cost_per_transfer=20, cost_per_km=1, cost_per_unit=0.5
    )

    [proposal] = plan(
        policy, TODAY, NO_PEAK, [lille(on_hand=12, safety_stock=4)], [warehouse()], places()
    )

    why = proposal.explanation
    assert (why.forecast_per_day, why.forecast_over_cover, why.cover_days) == (10, 30, 3)
    assert (why.on_hand, why.safety_stock, why.target, why.need) == (12, 4, 34, 22)
    assert why.source is not None and why.source.node_id == "DC-PARIS"
    assert why.source.cost == pytest.approx(20 + why.source.distance_km + 0.5 * 22, abs=0.01)
    assert why.eta == TODAY + timedelta(days=1)
    assert "22 x GIFT to STORE-LILLE from DC-PARIS" in why.summary
    assert "target 34" in why.summary


def test_only_the_stores_and_skus_the_policy_names_are_planned():
    policy = ReplenishmentPolicy(days_of_cover=3, skus=["OTHER"])

    assert plan(policy, TODAY, NO_PEAK, [lille(on_hand=0)], [warehouse()], places()) == []


def test_a_store_above_target_may_feed_another_when_the_policy_allows():
    policy = ReplenishmentPolicy(days_of_cover=3, sources="warehouses_and_stores")
    network = places()
    network["STORE-LYON"] = network["STORE-LYON"].model_copy(update={"slots_today": 5})
    rich_lyon = StoreStock(store_id="STORE-LYON", sku="GIFT", on_hand=80, history=sold(10))

    proposals = plan(policy, TODAY, NO_PEAK, [rich_lyon, lille(on_hand=0)], [], network)

    assert [(p.store_id, p.source_node_id, p.qty) for p in proposals] == [
        ("STORE-LILLE", "STORE-LYON", 30)
    ]


def test_one_transfer_carries_every_sku_a_store_needs_from_a_source_in_one_slot():
    policy = ReplenishmentPolicy(days_of_cover=3)
    scarf = StoreStock(store_id="STORE-LILLE", sku="SCARF", on_hand=0, history=sold(5))
    sources = [warehouse(), SourceStock(node_id="DC-PARIS", sku="SCARF", on_hand=100)]

    proposals = plan(policy, TODAY, NO_PEAK, [lille(on_hand=0), scarf], sources, places(paris=1))

    assert {(p.sku, p.source_node_id) for p in proposals} == {
        ("GIFT", "DC-PARIS"),
        ("SCARF", "DC-PARIS"),
    }


def test_a_store_whose_back_room_is_full_gets_nothing_more_today_and_says_why():
    policy = ReplenishmentPolicy(days_of_cover=3)
    network = places()
    network["STORE-LILLE"] = network["STORE-LILLE"].model_copy(update={"receive_per_day": 10})
    scarf = StoreStock(store_id="STORE-LILLE", sku="SCARF", on_hand=0, history=sold(5))
    sources = [warehouse(), SourceStock(node_id="DC-PARIS", sku="SCARF", on_hand=100)]

    proposals = plan(policy, TODAY, NO_PEAK, [lille(on_hand=0), scarf], sources, network)

    assert sum(p.qty for p in proposals) == 10
    [full] = [p for p in proposals if p.qty == 0]
    assert "the store can receive no more today" in full.explanation.summary


def test_a_policy_with_an_infinite_cost_is_refused():
    with pytest.raises(ValueError):
        ReplenishmentPolicy.model_validate_json('{"cost_per_km": 1e400}')
