"""Stores rehearsed: shoppers empty a store's shelf; with the OMS's daily replenishment a
warehouse refills it through transfers the simulated field moves, without it the shelf
stays empty. Same shoppers both times (one seed)."""

from simulator.run import simulate
from simulator.scenario import Scenario

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def one_store_scenario() -> Scenario:
    node = {"timezone": "Europe/Paris", "cutoff": "15:00", "open_days": EVERY_DAY}
    return Scenario.model_validate(
        {
            "name": "one store",
            "network": {
                "nodes": [
                    {
                        **node,
                        "id": "DC-PARIS",
                        "type": "warehouse",
                        "name": "Paris DC",
                        "lat": 48.9,
                        "lon": 2.4,
                        "pick_capacity_per_day": 1000,
                        "carriers": ["NEAR"],
                    },
                    {
                        **node,
                        "id": "STORE-LILLE",
                        "type": "store",
                        "name": "Lille",
                        "lat": 50.63,
                        "lon": 3.06,
                        "pick_capacity_per_day": 100,
                        "click_and_collect": True,
                    },
                ],
                "carriers": [
                    {
                        "id": "NEAR",
                        "services": [
                            {
                                "id": "NEAR-STD",
                                "cost": 5.0,
                                "pickup_days": EVERY_DAY,
                                "bands": [{"max_km": 600, "days": 1}],
                            }
                        ],
                    }
                ],
                "skus": [{"sku": "GIFT", "name": "Gift box"}],
                "stock": [
                    {"sku": "GIFT", "node_id": "DC-PARIS", "on_hand": 500},
                    {"sku": "GIFT", "node_id": "STORE-LILLE", "on_hand": 40},
                ],
            },
            "period": {"start": "2026-01-05T00:00:00+01:00", "days": 4, "drain_days": 2},
            "demand": {
                "orders_per_hour": 0.05,
                "destinations": [
                    {"name": "Lille", "postal_code": "59000", "lat": 50.63, "lon": 3.06}
                ],
                "seed": 5,
            },
            "field": {"pick_error_rate": 0, "transfers": {"transit_days": 1}},
            "store_sales": {"units_per_hour": {"STORE-LILLE": 2.5}, "seed": 9},
            "replenishment": {"days_of_cover": 2, "transit_days": 1},
        }
    )


async def test_a_replenished_store_keeps_selling_where_an_unreplenished_one_runs_dry():
    scenario = one_store_scenario()

    refilled = await simulate(scenario, "balanced", replenish=True)
    left_alone = await simulate(scenario, "balanced", replenish=False)

    with_, without = refilled["stores"], left_alone["stores"]
    assert refilled["policy"] == "balanced, with replenishment"
    assert left_alone["policy"] == "balanced, no replenishment"
    # The same shoppers came both times; each unit was sold or lost.
    assert with_["units_wanted_in_store"] == without["units_wanted_in_store"] > 40
    for figures in (with_, without):
        assert (
            figures["units_sold_in_store"] + figures["units_lost_in_store"]
            == (figures["units_wanted_in_store"])
        )
    assert without["transfers"] == 0 and without["units_lost_in_store"] > 0
    assert with_["transfers"] >= 1 and with_["units_transferred"] > 0
    assert with_["transfer_cost"] > 0
    assert with_["units_lost_in_store"] < without["units_lost_in_store"]
    assert with_["stockout_hours"] < without["stockout_hours"]
    for report in (refilled, left_alone):
        assert report["oversells"] == 0 and report["left_behind"] == 0
