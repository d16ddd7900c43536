"""The promise by HTTP, and orders held to the option they were placed with."""

import asyncio
import uuid
from datetime import date, datetime, timedelta

from db.engine import unit_of_work
from db.network import load_network
from domain.network import NetworkDocument
from tests.api.conftest import Api
from tests.networks import order_body, small_network

LYON = {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83}
LILLE = {"postal_code": "59000", "country": "FR", "lat": 50.63, "lon": 3.07}
WEDNESDAY_MORNING = "2026-11-25T08:00:00+01:00"


async def ask(api: Api, lines, destination=LYON, at: str | None = WEDNESDAY_MORNING) -> dict:
    body = {"lines": [{"sku": s, "qty": q} for s, q in lines], "destination": destination}
    if at:
        # The cart is asked at that moment: the API's clock says so too (a promise is for now).
        api.clock.set(at)
        body["at"] = at
    response = await api.post("/v1/promise", body)
    assert response.status_code == 200, response.text
    return response.json()


def by_method(answer: dict) -> dict[str, dict]:
    return {
        o["method"] + (f"@{o['store_id']}" if o["store_id"] else ""): o for o in answer["options"]
    }


async def test_home_options_come_from_the_nearest_stock_with_dates(api: Api):
    options = by_method(await ask(api, [("SKU-1", 2), ("SKU-2", 1)]))
    standard = options["home_standard"]
    assert {line["node_id"] for line in standard["lines"]} == {"DC-LYON"}
    assert standard["split"] is False
    # Wednesday before the 15:00 cut-off: ships today, DPD's next-day band (8 km) delivers
    # Thursday; the small network has no peak, so the promise is that date.
    assert standard["estimated_by"] == "2026-11-26"
    assert standard["promised_by"] == standard["estimated_by"]
    assert standard["option_id"]


async def test_click_and_collect_lists_the_store_that_has_the_cart(api: Api):
    options = by_method(await ask(api, [("SKU-3", 2)], destination=LILLE))
    collect = options["click_and_collect@STORE-LILLE"]
    assert collect["lines"][0]["node_id"] == "STORE-LILLE"
    assert collect["promised_by"] == "2026-11-25"  # picked today, ready at the counter
    assert collect["cost"] == 2.5  # store picking cost, no carrier


async def test_a_cart_nobody_has_gets_no_option_and_the_reason(api: Api):
    answer = await ask(api, [("SKU-2", 50)])
    assert answer["options"] == []
    assert answer["unavailable"] == [
        {"sku": "SKU-2", "reason": "40 of 50 not available to promise, and no supply covers them"}
    ]


async def test_an_order_placed_with_an_option_is_held_to_its_date(api: Api):
    answer = await ask(api, [("SKU-1", 1)], at=None)
    option = by_method(answer)["home_standard"]
    oid = f"P-{uuid.uuid4().hex[:6]}"
    body = order_body(oid, [("SKU-1", 1)], promised_by=None, option_id=option["option_id"])
    placed = await api.post("/v1/orders", body)
    assert placed.status_code == 202, placed.text
    order = await api.wait_status(oid, "released")
    assert order["promised_by"] == option["promised_by"]

    other_cart = order_body(
        f"P-{uuid.uuid4().hex[:6]}", [("SKU-1", 3)], promised_by=None, option_id=option["option_id"]
    )
    refused = await api.post("/v1/orders", other_cart)
    assert refused.status_code == 422 and "another cart" in refused.json()["detail"]
    forged = order_body(
        f"P-{uuid.uuid4().hex[:6]}",
        [("SKU-1", 1)],
        promised_by=None,
        option_id=option["option_id"][:-4] + "abcd",
    )
    assert (await api.post("/v1/orders", forged)).status_code == 422


async def test_a_full_node_pushes_the_promise_to_its_next_open_day(api: Api):
    network = small_network()
    network["nodes"][1]["pick_capacity_per_day"] = 1  # DC-LYON picks one shipment a day
    with unit_of_work(api.engine) as session:
        load_network(session, NetworkDocument.model_validate(network))
    api.http._transport.app.state.supply_chain.invalidate()  # type: ignore[attr-defined]
    before = by_method(await ask(api, [("SKU-2", 1)], at=None))["home_standard"]
    oid = f"P-{uuid.uuid4().hex[:6]}"
    await api.post("/v1/orders", order_body(oid, [("SKU-2", 1)]))
    await api.wait_status(oid, "released")
    after = before
    for _ in range(60):  # the promise's copy of the counters refreshes within a second
        after = by_method(await ask(api, [("SKU-2", 1)], at=None))["home_standard"]
        if after["estimated_by"] != before["estimated_by"]:
            break
        await asyncio.sleep(0.1)
    assert date.fromisoformat(after["lines"][0]["available_on"]) > date.fromisoformat(
        before["lines"][0]["available_on"]
    )


async def test_policies_are_versioned_and_orders_name_the_one_that_sourced_them(api: Api):
    policy = {"name": "stores-last", "max_splits": 0, "weights": {"store_share": 50}}
    saved = await api.http.put("/v1/admin/sourcing-policy", json=policy, headers=api.auth("admin"))
    assert saved.status_code == 200, saved.text
    version = saved.json()["version"]
    assert version >= 1
    current = (await api.get("/v1/admin/sourcing-policy", role="admin")).json()
    assert current["name"] == "stores-last" and current["version"] == version
    bad = await api.http.put(
        "/v1/admin/sourcing-policy", json={"max_splits": -1}, headers=api.auth("admin")
    )
    assert bad.status_code == 422
    assert (await api.get("/v1/admin/sourcing-policy", role="checkout")).status_code == 403

    oid = f"P-{uuid.uuid4().hex[:6]}"
    await api.post("/v1/orders", order_body(oid, [("SKU-1", 1)]))
    await api.wait_status(oid, "released")
    history = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
    sourced = next(e for e in history if e["type"] == "sourced")
    assert sourced["summary"].endswith(f"under policy stores-last v{version}")
    assert any(step.startswith("chosen DC-LYON") for step in sourced["details"]["explanation"])


async def test_a_promise_asked_for_a_time_no_plan_can_hold_is_refused(api: Api):
    body = {"lines": [{"sku": "SKU-1", "qty": 1}], "destination": LYON}
    refused = await api.post("/v1/promise", {**body, "at": "9999-12-31T23:59:59+00:00"})
    assert refused.status_code == 422 and "2000 and 2100" in refused.text


async def test_a_promise_is_asked_for_now_within_a_day_of_the_api_clock(api: Api):
    now = datetime.fromisoformat(WEDNESDAY_MORNING)
    api.clock.set(now)
    body = {"lines": [{"sku": "SKU-1", "qty": 1}], "destination": LYON}
    for far in (timedelta(days=1, seconds=1), timedelta(days=365), -timedelta(days=1, seconds=1)):
        refused = await api.post("/v1/promise", {**body, "at": (now + far).isoformat()})
        assert refused.status_code == 422, (far, refused.text)
        assert "more than a day from now" in refused.json()["detail"]
    # A checkout a day off (its clock, or a local time sent with the wrong offset) is served.
    for near in (timedelta(days=1), -timedelta(days=1), timedelta(hours=-14)):
        answered = await api.post("/v1/promise", {**body, "at": (now + near).isoformat()})
        assert answered.status_code == 200 and answered.json()["options"], (near, answered.text)
