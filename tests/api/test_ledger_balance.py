"""The field's reality wins and the ledger stays balanced: two shipments of one order at
the same node keep their own holds; a node that ships what the OMS took back is counted."""

import uuid

from db.engine import unit_of_work
from db.ledger_check import ledger_problems
from tests.api.conftest import Api
from tests.api.test_incidents_api import TODAY, handled, held, incident
from tests.networks import order_body


async def receipt(api: Api, sku: str, node_id: str, qty: int) -> None:
    event = {"event_id": uuid.uuid4().hex, "type": "receipt", "sku": sku, "node_id": node_id,
             "qty": qty}  # fmt: skip
    assert (await api.field("/v1/inventory/events", event)).status_code == 200


async def node_says(api: Api, kind: str, oid: str, shipment: dict) -> None:
    event = {"event_id": uuid.uuid4().hex, "type": kind, "order_id": oid,
             "shipment_id": shipment["shipment_id"]}  # fmt: skip
    answer = await api.field(f"/v1/nodes/{shipment['node_id']}/events", event)
    assert answer.status_code == 202, answer.text


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
    closed = incident("node_closed", node_id="DC-LYON", **{"from": TODAY.isoformat()},
                      to=TODAY.isoformat())  # fmt: skip
    await api.field("/v1/incidents", closed)
    await handled(api, closed["incident_id"])
    order = (await api.get(f"/v1/orders/{oid}")).json()
    at_paris = [s for s in order["shipments"] if s["node_id"] == "DC-PARIS"]
    assert len(at_paris) == 2 and all(s["status"] == "released" for s in at_paris)
    first, moved = at_paris
    await node_says(api, "picked", oid, first)
    # Paris can pick nothing more today: the shipment not yet picked is taken back.
    full = incident("node_capacity", node_id="DC-PARIS", capacity_per_day=0,
                    **{"from": TODAY.isoformat()}, to=(TODAY).isoformat())  # fmt: skip
    await api.field("/v1/incidents", full)
    await handled(api, full["incident_id"])
    # The picked one keeps its hold, and leaves with it.
    assert held(api, "SKU-3")["DC-PARIS"] == (5, 1)
    await node_says(api, "shipped", oid, first)
    await api.wait_status(oid, "exception")  # the moved unit has nowhere left to go
    assert held(api, "SKU-3")["DC-PARIS"] == (4, 0)
    assert problems(api) == []
