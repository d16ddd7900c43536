"""The field's reality wins and the ledger stays balanced: two shipments of one order at
the same node keep their own holds; a node that ships what the OMS took back is counted."""

import uuid
from datetime import timedelta

import pytest

from db.engine import unit_of_work
from db.ledger_check import ledger_problems
from tests.api.conftest import Api
from tests.api.test_incidents_api import TODAY, handled, held, incident
from tests.networks import moments_ago, order_body


async def receipt(api: Api, sku: str, node_id: str, qty: int) -> None:
    event = {
        "event_id": uuid.uuid4().hex,
        "type": "receipt",
        "sku": sku,
        "node_id": node_id,
        "qty": qty,
    }
    assert (await api.field("/v1/inventory/events", event)).status_code == 200


async def node_says(api: Api, kind: str, oid: str, shipment: dict) -> None:
    event = {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "order_id": oid,
        "shipment_id": shipment["shipment_id"],
    }
    answer = await api.field(f"/v1/nodes/{shipment['node_id']}/events", event)
    assert answer.status_code == 202, answer.text


# Incidents cover the next days too: a shipment's picking day may already be tomorrow.
SOON = TODAY + timedelta(days=2)


def problems(api: Api) -> list[str]:
    with unit_of_work(api.engine) as session:
        return ledger_problems(session)


async def test_taking_back_one_shipment_leaves_the_other_at_the_same_node_its_stock(api: Api):
    await receipt(api, "SKU-3", "DC-PARIS", 5)  # SKU-2 is at Lyon only, SKU-3 at Paris only
    oid = f"B-{uuid.uuid4().hex[:8]}"
    assert (
        await api.post("/v1/orders", order_body(oid, [("SKU-2", 1), ("SKU-3", 1)]))
    ).status_code == 202
    order = await api.wait_status(oid, "released")
    assert sorted(s["node_id"] for s in order["shipments"]) == ["DC-LYON", "DC-PARIS"]
    await receipt(api, "SKU-2", "DC-PARIS", 5)
    # Lyon closes: its shipment moves to Paris, which now has two shipments of the order.
    closed = incident(
        "node_closed", node_id="DC-LYON", **{"from": TODAY.isoformat()}, to=SOON.isoformat()
    )
    await api.field("/v1/incidents", closed)
    await handled(api, closed["incident_id"])
    order = (await api.get(f"/v1/orders/{oid}")).json()
    at_paris = [s for s in order["shipments"] if s["node_id"] == "DC-PARIS"]
    assert len(at_paris) == 2 and all(s["status"] == "released" for s in at_paris)
    first, moved = at_paris
    await node_says(api, "picked", oid, first)
    # Paris can pick nothing more today: the shipment not yet picked is taken back.
    full = incident(
        "node_capacity",
        node_id="DC-PARIS",
        capacity_per_day=0,
        **{"from": TODAY.isoformat()},
        to=SOON.isoformat(),
    )
    await api.field("/v1/incidents", full)
    await handled(api, full["incident_id"])
    # The picked one keeps its hold, and leaves with it.
    assert held(api, "SKU-3")["DC-PARIS"] == (5, 1)
    await node_says(api, "shipped", oid, first)
    await api.wait_status(oid, "exception")  # the moved unit has nowhere left to go
    assert held(api, "SKU-3")["DC-PARIS"] == (4, 0)
    assert problems(api) == []


async def test_a_node_that_ships_what_was_taken_back_wins_and_the_duplicate_is_taken_back(
    api: Api,
):
    oid = f"B-{uuid.uuid4().hex[:8]}"
    assert (await api.post("/v1/orders", order_body(oid, [("SKU-1", 1)]))).status_code == 202
    [first] = (await api.wait_status(oid, "released"))["shipments"]
    assert first["node_id"] == "DC-LYON"
    closed = incident(
        "node_closed", node_id="DC-LYON", **{"from": TODAY.isoformat()}, to=SOON.isoformat()
    )
    await api.field("/v1/incidents", closed)
    await handled(api, closed["incident_id"])
    assert held(api)["DC-PARIS"] == (50, 1)  # planned again at Paris
    # Lyon had the parcel out before it heard: it ships it all the same.
    await node_says(api, "shipped", oid, first)
    order = await api.wait_status(oid, "shipped")
    lyon, paris = order["shipments"]
    assert (lyon["status"], paris["status"]) == ("shipped", "cancelled")
    assert held(api)["DC-LYON"] == (29, 0) and held(api)["DC-PARIS"] == (50, 0)
    history = [e["summary"] for e in (await api.get(f"/v1/orders/{oid}/history")).json()["events"]]
    assert any("after it was taken back: the field wins" in s for s in history)
    assert any(s.startswith(f"Took {paris['shipment_id']} back") for s in history)
    assert problems(api) == []
    # It arrives: the order is complete, with one parcel.
    delivered = {
        "event_id": uuid.uuid4().hex,
        "type": "delivered",
        "shipment_id": lyon["shipment_id"],
        "at": moments_ago(),
    }
    assert (
        await api.field(f"/v1/carriers/{lyon['carrier_id']}/events", delivered)
    ).status_code == 202
    done = await api.wait_status(oid, "delivered")
    assert done["otif"]["on_time"] and done["otif"]["in_full"]


@pytest.mark.unbalanced  # a node shipped a unit the ledger did not have: support must see it
async def test_a_node_that_ships_units_it_no_longer_has_is_shown_to_support(api: Api):
    oid = f"B-{uuid.uuid4().hex[:8]}"
    assert (await api.post("/v1/orders", order_body(oid, [("SKU-2", 1)]))).status_code == 202
    [first] = (await api.wait_status(oid, "released"))["shipments"]
    closed = incident(
        "node_closed", node_id="DC-LYON", **{"from": TODAY.isoformat()}, to=SOON.isoformat()
    )
    await api.field("/v1/incidents", closed)
    await handled(api, closed["incident_id"])
    await api.wait_status(oid, "exception")  # nobody else has SKU-2: parked for a person
    count = {
        "event_id": uuid.uuid4().hex,
        "type": "count",
        "sku": "SKU-2",
        "node_id": "DC-LYON",
        "qty": 0,
    }
    assert (await api.field("/v1/inventory/events", count)).status_code == 200
    await node_says(api, "shipped", oid, first)
    order = await api.wait_status(oid, "shipped")  # the parked unit is on its way after all
    history = [e["summary"] for e in (await api.get(f"/v1/orders/{oid}/history")).json()["events"]]
    assert any("a count at DC-LYON is due" in s for s in history)
    assert order["shipments"][0]["status"] == "shipped"
    checked = (await api.get("/v1/admin/ledger-check", role="admin")).json()
    assert checked["problems"] == [f"{oid} sent 1 x SKU-2 from DC-LYON without stock"]
