"""Pre-orders end to end: the field's supply events, the promise, and order workflows
waiting for supply on the real Temporal dev server, with the real ledger.

SKU-3 is on hand only at STORE-LILLE, which does not ship to homes: a home delivery of it
can only come from supply on its way (purchase orders at DC-LYON below)."""

import asyncio
import uuid
from datetime import date, timedelta

from sqlmodel import select

from db.engine import read_only
from db.tables import OutboxRow
from tests.api.conftest import Api
from tests.histories import keep_history
from tests.networks import order_body

TODAY = date.today()
ETA = TODAY + timedelta(days=8)
LATER = TODAY + timedelta(days=15)
CART = {
    "destination": {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83},
}


def supply(type: str, supply_id: str = "PO-1", **fields) -> dict:
    return {"event_id": uuid.uuid4().hex, "type": type, "supply_id": supply_id, **fields}


async def open_po(api: Api, supply_id: str, qty: int, eta: date = ETA) -> dict:
    response = await api.field(
        "/v1/supply/events",
        supply(
            "po_created", supply_id, sku="SKU-3", node_id="DC-LYON", qty=qty, eta=eta.isoformat()
        ),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def preorder(api: Api, qty: int, promised_by: str | None = None) -> str:
    order_id = f"P-{uuid.uuid4().hex[:6]}"
    body = order_body(order_id, [("SKU-3", qty)], promised_by=promised_by)
    response = await api.post("/v1/orders", body)
    assert response.status_code == 202, response.text
    await waiting(api, order_id)
    return order_id


async def history(api: Api, order_id: str) -> list[dict]:
    return (await api.get(f"/v1/orders/{order_id}/history")).json()["events"]


async def waiting(api: Api, order_id: str) -> None:
    for _ in range(200):
        if any(e["type"] == "preorder_waiting" for e in await history(api, order_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{order_id} never held its pre-order")


async def promise_for(api: Api, qty: int) -> dict:
    body = {"lines": [{"sku": "SKU-3", "qty": qty}], **CART}
    response = await api.post("/v1/promise", body)
    assert response.status_code == 200, response.text
    return response.json()


def told(api: Api, order_id: str, topic: str) -> list[dict]:
    with read_only(api.engine) as session:
        rows = session.exec(
            select(OutboxRow).where(OutboxRow.order_id == order_id, OutboxRow.topic == topic)
        )
        return [row.payload for row in rows]


async def test_a_po_of_10_sells_10_pre_order_units_and_the_next_cart_gets_no_option(api: Api):
    await open_po(api, "PO-1", 10)
    option = (await promise_for(api, 6))["options"][0]
    assert option["preorder"] and option["lines"][0]["supply_id"] == "PO-1"

    await preorder(api, 6)
    await preorder(api, 4)

    # The promise's copy of the ledger follows within a second: then nothing is left.
    for _ in range(100):
        answer = await promise_for(api, 1)
        if not answer["options"]:
            break
        await asyncio.sleep(0.1)
    assert answer["options"] == []
    inventory = (await api.get("/v1/inventory/SKU-3")).json()
    assert inventory["supply"] == [
        {
            "supply_id": "PO-1",
            "kind": "purchase_order",
            "sku": "SKU-3",
            "node_id": "DC-LYON",
            "eta": ETA.isoformat(),
            "expected": 10,
            "allocatable": 0,
            "allocated": 10,
        }
    ]


async def test_a_receipt_releases_the_oldest_pre_order_at_once_before_anyone_else(api: Api):
    await open_po(api, "PO-1", 10)
    first = await preorder(api, 6)
    second = await preorder(api, 4)
    view = (await api.get(f"/v1/orders/{first}")).json()
    assert view["status"] == "placed" and view["waiting_for"] == ["PO-1"]

    # Six units arrive a week early: the first pre-order is released now, with no timer.
    receipt = await api.field("/v1/supply/events", supply("received", qty=6, final=False))
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["news"] == [{"order_id": first, "kind": "served", "units": 6}]
    released = await api.wait_status(first, "released")
    assert released["shipments"][0]["node_id"] == "DC-LYON"
    assert released["waiting_for"] == []
    # The received units are all the first's: a new cart finds none on hand.
    inventory = (await api.get("/v1/inventory/SKU-3")).json()
    lyon = next(n for n in inventory["nodes"] if n["node_id"] == "DC-LYON")
    assert (lyon["on_hand"], lyon["reserved"], lyon["atp"]) == (6, 6, 0)
    assert (await api.get(f"/v1/orders/{second}")).json()["status"] == "placed"

    await api.field("/v1/supply/events", supply("received", qty=4))
    await api.wait_status(second, "released")
    events = [e["type"] for e in await history(api, second)]
    assert (
        events.index("preorder_waiting") < events.index("supply_arrived") < events.index("released")
    )
    await keep_history(api.client, f"order-{second}", "order-preorder-served")


async def test_a_short_receipt_serves_the_oldest_and_moves_the_next_to_later_supply(api: Api):
    await open_po(api, "PO-1", 10)
    await open_po(api, "PO-2", 10, eta=LATER)
    first = await preorder(api, 5)
    second = await preorder(api, 5)  # no date given: it takes the pre-order's
    promised = (await api.get(f"/v1/orders/{second}")).json()["promised_by"]

    await api.field("/v1/supply/events", supply("received", qty=5))  # and no more

    await api.wait_status(first, "released")
    for _ in range(200):
        view = (await api.get(f"/v1/orders/{second}")).json()
        if view["waiting_for"] == ["PO-2"]:
            break
        await asyncio.sleep(0.05)
    assert view["status"] == "placed" and view["promised_by"] > promised
    events = [e["type"] for e in await history(api, second)]
    assert "supply_dropped" in events and "preorder_moved" in events
    [notice] = told(api, second, "new_delivery_date")
    assert notice["was"] == promised and notice["may_cancel"] is True
    await keep_history(api.client, f"order-{second}", "order-preorder-moved")


async def test_a_later_eta_repromises_the_pre_order_and_tells_the_customer(api: Api):
    await open_po(api, "PO-1", 10)
    order_id = await preorder(api, 3)
    promised = (await api.get(f"/v1/orders/{order_id}")).json()["promised_by"]

    moved = await api.field("/v1/supply/events", supply("po_updated", eta=LATER.isoformat()))
    assert moved.json()["news"] == [{"order_id": order_id, "kind": "eta_moved", "units": 3}]

    for _ in range(200):
        view = (await api.get(f"/v1/orders/{order_id}")).json()
        if view["promised_by"] != promised:
            break
        await asyncio.sleep(0.05)
    assert view["promised_by"] > promised and view["status"] == "placed"
    [notice] = told(api, order_id, "new_delivery_date")
    assert (notice["promised_by"], notice["was"], notice["may_cancel"]) == (
        view["promised_by"],
        promised,
        True,
    )


async def test_a_cancelled_po_parks_its_pre_orders_when_nothing_else_serves_them(api: Api):
    await open_po(api, "PO-1", 10)
    order_id = await preorder(api, 3)

    await api.field("/v1/supply/events", supply("po_cancelled"))

    view = await api.wait_status(order_id, "exception")
    assert "will not come" in " ".join(e["summary"] for e in await history(api, order_id))
    assert view["waiting_for"] == []
    queue = (await api.get("/v1/exceptions")).json()["orders"]
    assert order_id in [o["order_id"] for o in queue]
    assert told(api, order_id, "order_delayed")


async def test_a_cancelled_po_moves_its_pre_orders_to_stock_that_arrived_meanwhile(api: Api):
    await open_po(api, "PO-1", 10)
    order_id = await preorder(api, 3)
    receipt = {"event_id": uuid.uuid4().hex, "type": "receipt", "sku": "SKU-3"}
    await api.field("/v1/inventory/events", {**receipt, "node_id": "DC-PARIS", "qty": 5})

    await api.field("/v1/supply/events", supply("po_cancelled"))

    view = await api.wait_status(order_id, "released")
    assert view["shipments"][0]["node_id"] == "DC-PARIS"


async def test_bad_supply_events_are_refused_naming_the_problem_and_change_nothing(api: Api):
    await open_po(api, "PO-1", 10)
    before = (await api.get("/v1/inventory/SKU-3")).json()
    refused = {
        404: [
            supply("received", "PO-404", qty=1),
            supply("po_created", "PO-9", sku="NOPE", node_id="DC-LYON", qty=1, eta=ETA.isoformat()),
        ],
        422: [
            supply("received", qty=-5),
            supply("po_updated", qty=10**12),
            supply("po_updated", eta=(TODAY - timedelta(days=3)).isoformat()),
            supply("po_created", "PO-8", sku="SKU-3", node_id="DC-LYON", qty=5, eta="2000-01-01"),
            supply("teleported", qty=1),
        ],
    }
    for code, events in refused.items():
        for event in events:
            response = await api.field("/v1/supply/events", event)
            assert response.status_code == code, (event, response.text)
            assert response.json()["detail"]
    await api.field("/v1/supply/events", supply("po_cancelled"))
    late = await api.field("/v1/supply/events", supply("received", qty=10))
    assert late.status_code == 409 and "cancelled" in late.json()["detail"]
    after = (await api.get("/v1/inventory/SKU-3")).json()
    assert after["nodes"] == before["nodes"]
    unsigned = await api.post("/v1/supply/events", supply("po_cancelled"), role="warehouse")
    assert unsigned.status_code == 401
