"""Placing, reading, listing and cancelling orders through the HTTP API."""

import asyncio
import uuid

from db import ledger
from db.engine import unit_of_work
from tests.api.conftest import APP_CHECKOUT_KEY, Api
from tests.networks import day, order_body


def new_id() -> str:
    return f"A-{uuid.uuid4().hex[:8]}"


def free_units(api: Api, sku: str) -> dict[str, tuple[int, int]]:
    with unit_of_work(api.engine) as session:
        return {p.node_id: (p.on_hand, p.reserved) for p in ledger.positions(session, sku)}


async def test_placed_order_is_released_and_readable(api: Api):
    oid = new_id()
    response = await api.post("/v1/orders", order_body(oid, [("SKU-1", 2), ("SKU-2", 1)]))
    assert response.status_code == 202, response.text
    assert response.json()["order_id"] == oid

    order = await api.wait_status(oid, "released")
    assert order["promised_by"] == day()
    [shipment] = order["shipments"]  # Lyon has both SKUs: no split
    assert shipment["node_id"] == "DC-LYON"
    assert {line["line_id"]: line["qty"] for line in shipment["lines"]} == {"1": 2, "2": 1}
    assert shipment["tracking"]
    assert free_units(api, "SKU-1")["DC-LYON"] == (30, 2)

    history = (await api.get(f"/v1/orders/{oid}/history")).json()
    summaries = [event["summary"] for event in history["events"]]
    assert summaries[0].startswith("Order placed on web")
    assert any(s.startswith("Sourced from DC-LYON") for s in summaries)
    assert any(s.startswith("Booked COLISSIMO") for s in summaries)


async def test_placing_the_same_order_twice_returns_the_same_order(api: Api):
    oid = new_id()
    body = order_body(oid, [("SKU-1", 1)])
    first = await api.post("/v1/orders", body)
    await api.wait_status(oid, "released")
    again = await api.post("/v1/orders", body)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["order_id"] == oid
    assert again.json()["status"] == "released"  # the existing order, not a new one
    # One hold only: the retry did not reserve a second time.
    assert free_units(api, "SKU-1")["DC-LYON"] == (30, 1)


async def test_same_order_id_with_another_body_is_a_conflict(api: Api):
    oid = new_id()
    assert (await api.post("/v1/orders", order_body(oid, [("SKU-1", 1)]))).status_code == 202
    response = await api.post("/v1/orders", order_body(oid, [("SKU-1", 5)]))
    assert response.status_code == 409
    assert "different body" in response.json()["detail"]
    order = await api.wait_status(oid, "released")
    assert order["lines"][0]["qty"] == 1


async def test_unknown_sku_is_refused_and_starts_nothing(api: Api):
    oid = new_id()
    response = await api.post("/v1/orders", order_body(oid, [("SKU-1", 1), ("NOPE-9", 1)]))
    assert response.status_code == 422
    assert "NOPE-9" in response.json()["detail"]
    assert (await api.get(f"/v1/orders/{oid}")).status_code == 404
    assert free_units(api, "SKU-1")["DC-LYON"] == (30, 0)


async def test_negative_quantity_and_malformed_json_are_refused(api: Api):
    oid = new_id()
    negative = await api.post("/v1/orders", order_body(oid, [("SKU-1", -2)]))
    assert negative.status_code == 422
    assert any("qty" in str(error["loc"]) for error in negative.json()["detail"])
    malformed = await api.http.post(
        "/v1/orders",
        content=b'{"order_id": "A-1", "lines": [',
        headers={**api.auth("checkout"), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422
    assert "detail" in malformed.json()
    assert (await api.get(f"/v1/orders/{oid}")).status_code == 404


async def test_click_and_collect_at_a_store_that_does_not_collect_is_refused(api: Api):
    body = order_body(
        new_id(),
        [("SKU-1", 1)],
        method="click_and_collect",
        address=None,
        store_id="STORE-MARSEILLE",
    )
    response = await api.post("/v1/orders", body)
    assert response.status_code == 422
    assert "not a click-and-collect store" in response.json()["detail"]


async def test_click_and_collect_from_the_store_shelf(api: Api):
    oid = new_id()
    body = order_body(
        oid, [("SKU-3", 2)], method="click_and_collect", address=None, store_id="STORE-LILLE"
    )
    assert (await api.post("/v1/orders", body)).status_code == 202
    order = await api.wait_status(oid, "released")
    [shipment] = order["shipments"]
    assert shipment["node_id"] == "STORE-LILLE" and shipment["carrier_id"] == "COLLECT"
    # 8 on the shelf, 1 protected for walk-in customers: 2 held for the order.
    assert free_units(api, "SKU-3")["STORE-LILLE"] == (8, 2)


async def test_order_larger_than_the_network_fails_with_a_reason(api: Api):
    oid = new_id()
    assert (await api.post("/v1/orders", order_body(oid, [("SKU-2", 11)]))).status_code == 202
    order = await api.wait_status(oid, "failed")
    assert "line 1 short of 1" in order["reason"]
    history = (await api.get(f"/v1/orders/{oid}/history")).json()
    told = f"Told customer C-{oid}: order failed"
    assert any(e["summary"] == told for e in history["events"])
    assert free_units(api, "SKU-2")["DC-LYON"] == (10, 0)


async def test_cancel_releases_stock_and_a_second_cancel_answers_the_same(api: Api):
    oid = new_id()
    await api.post("/v1/orders", order_body(oid, [("SKU-1", 4)]))
    await api.wait_status(oid, "released")
    first = await api.post(f"/v1/orders/{oid}/cancel", {"reason": "changed mind"}, role="support")
    assert first.status_code == 200, first.text
    assert first.json()["cancelled"] is True
    again = await api.post(f"/v1/orders/{oid}/cancel", None, role="checkout")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert free_units(api, "SKU-1")["DC-LYON"] == (30, 0)


async def test_cancel_of_unknown_order_is_404(api: Api):
    response = await api.post("/v1/orders/NOPE-1/cancel", None, role="support")
    assert response.status_code == 404


async def test_orders_are_listed_by_status_and_customer(api: Api):
    oid = new_id()
    await api.post("/v1/orders", order_body(oid, [("SKU-1", 1)]))
    await api.wait_status(oid, "released")
    for _ in range(100):  # the read model is written by the workflow, just after the query
        listed = (await api.get("/v1/orders", params={"customer_id": f"C-{oid}"})).json()
        if listed["orders"] and listed["orders"][0]["status"] == "released":
            break
        await asyncio.sleep(0.05)
    assert [o["order_id"] for o in listed["orders"]] == [oid]
    released = (await api.get("/v1/orders", params={"status": "released"})).json()
    assert oid in [o["order_id"] for o in released["orders"]]
    delivered = (await api.get("/v1/orders", params={"status": "delivered"})).json()
    assert oid not in [o["order_id"] for o in delivered["orders"]]
    bad = await api.get("/v1/orders", params={"status": "lost"})
    assert bad.status_code == 422


async def test_roles_guard_the_order_routes(api: Api):
    body = order_body(new_id(), [("SKU-1", 1)])
    assert (await api.post("/v1/orders", body, role=None)).status_code == 401
    assert (await api.post("/v1/orders", body, role="warehouse")).status_code == 403
    assert (await api.post("/v1/orders", body, role="support")).status_code == 403
    assert (await api.get("/v1/orders", role="warehouse")).status_code == 403
    wrong_key = await api.http.get("/v1/orders", headers={"Authorization": "Bearer nope"})
    assert wrong_key.status_code == 401


async def test_a_listing_pages_by_cursor_and_refuses_a_forged_one(api: Api):
    placed = []
    for _ in range(3):
        oid = new_id()
        await api.post("/v1/orders", order_body(oid, [("SKU-1", 1)]))
        placed.append(oid)
    for oid in placed:
        await api.wait_status(oid, "released")

    first = (await api.get("/v1/orders", params={"status": "released", "limit": 2})).json()
    rest = (
        await api.get(
            "/v1/orders", params={"status": "released", "limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()

    listed = [o["order_id"] for o in first["orders"] + rest["orders"]]
    assert sorted(listed) == sorted(placed) and rest["next_cursor"] is None
    forged = await api.get("/v1/orders", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status_code == 422


async def test_an_order_id_that_is_not_an_id_is_refused_before_any_lookup(api: Api):
    response = await api.get(f"/v1/orders/{'A' * 2000}")

    assert response.status_code == 422


async def test_a_checkout_bound_to_a_channel_sees_and_cancels_only_its_own_orders(api: Api):
    app = {"Authorization": f"Bearer {APP_CHECKOUT_KEY}"}
    web_order, app_order = new_id(), new_id()
    await api.post("/v1/orders", order_body(web_order, [("SKU-1", 1)]))  # web, the default
    placed = await api.http.post(
        "/v1/orders", json={**order_body(app_order, [("SKU-1", 1)]), "channel": "app"}, headers=app
    )
    assert placed.status_code == 202, placed.text
    await api.wait_status(web_order, "released")
    await api.wait_status(app_order, "released")

    # Not for its channel: placing is refused, reading and cancelling find no such order.
    for_web = await api.http.post(
        "/v1/orders", json=order_body(new_id(), [("SKU-1", 1)]), headers=app
    )
    assert for_web.status_code == 403
    for path in (f"/v1/orders/{web_order}", f"/v1/orders/{web_order}/history"):
        assert (await api.http.get(path, headers=app)).status_code == 404
    cancel = await api.http.post(f"/v1/orders/{web_order}/cancel", json={}, headers=app)
    assert cancel.status_code == 404
    assert (await api.get(f"/v1/orders/{web_order}")).json()["status"] == "released"
    listed = (await api.http.get("/v1/orders", headers=app)).json()["orders"]
    assert [o["order_id"] for o in listed] == [app_order]
    # Its own channel's order: read and cancelled as usual.
    assert (await api.http.get(f"/v1/orders/{app_order}", headers=app)).status_code == 200
    own = await api.http.post(f"/v1/orders/{app_order}/cancel", json={}, headers=app)
    assert own.status_code == 200 and own.json()["cancelled"] is True
    # The unbound checkout and support still see every channel.
    everyone = (await api.get("/v1/orders", role="checkout")).json()["orders"]
    assert {web_order, app_order} <= {o["order_id"] for o in everyone}
