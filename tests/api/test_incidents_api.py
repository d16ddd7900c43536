"""Incidents by HTTP, on the real Temporal server: the OMS reroutes, with no human."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from db import ledger
from db.engine import unit_of_work
from db.tables import CarrierBookingRow, OutboxRow
from tests.api.conftest import Api
from tests.histories import keep_history
from tests.networks import day, moments_ago, order_body

TODAY = datetime.now(UTC).date()
PARIS = ZoneInfo("Europe/Paris")  # the orders' zone: OTIF counts its days


def held(api: Api, sku: str = "SKU-1") -> dict[str, tuple[int, int]]:
    with unit_of_work(api.engine) as session:
        return {p.node_id: (p.on_hand, p.reserved) for p in ledger.positions(session, sku)}


def incident(kind: str, **fields) -> dict:
    return {"incident_id": f"INC-{uuid.uuid4().hex[:8]}", "type": kind, **fields}


async def released(api: Api, lines, count: int = 1) -> list[str]:
    ids = [f"I-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for oid in ids:
        assert (await api.post("/v1/orders", order_body(oid, lines))).status_code == 202
    for oid in ids:
        await api.wait_status(oid, "released")
    return ids


async def handled(api: Api, incident_id: str) -> dict:
    body: dict = {}
    for _ in range(300):
        response = await api.get(f"/v1/incidents/{incident_id}")
        body = response.json()
        if response.status_code == 200 and body["status"] == "handled":
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"incident not handled: {body}")


async def test_a_closed_node_loses_its_orders_to_the_next_best_and_a_replay_changes_nothing(
    api: Api,
):
    orders = await released(api, [("SKU-1", 2)], count=3)
    assert held(api)["DC-LYON"] == (30, 6)
    closed = incident(
        "node_closed",
        node_id="DC-LYON",
        **{"from": TODAY.isoformat()},
        to=(TODAY + timedelta(days=7)).isoformat(),
    )
    accepted = await api.field("/v1/incidents", closed)
    assert accepted.status_code == 202, accepted.text
    report = await handled(api, closed["incident_id"])

    assert sorted(report["touched"]) == sorted(orders)
    assert {o["order_id"]: o["outcome"] for o in report["outcomes"]} == {
        oid: "rerouted" for oid in orders
    }
    assert held(api)["DC-LYON"] == (30, 0) and held(api)["DC-PARIS"] == (50, 6)
    for oid in orders:
        order = (await api.get(f"/v1/orders/{oid}")).json()
        first, second = order["shipments"]
        assert (first["node_id"], first["status"]) == ("DC-LYON", "cancelled")
        assert (second["node_id"], second["status"]) == ("DC-PARIS", "released")
        assert order["promised_by"] == day()
        with unit_of_work(api.engine) as session:
            row = session.get(CarrierBookingRow, first["shipment_id"])
            assert row is not None and row.status == "cancelled"
        history = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
        assert any(
            e["summary"].startswith(
                f"Took {first['shipment_id']} back from DC-LYON: DC-LYON closed"
            )
            for e in history
        )

    again = await api.field("/v1/incidents", closed)
    assert again.status_code == 202 and again.json()["first_time"] is False
    await asyncio.sleep(0.5)
    assert held(api)["DC-PARIS"] == (50, 6)
    for oid in orders:
        assert len((await api.get(f"/v1/orders/{oid}")).json()["shipments"]) == 2
    reused = await api.field("/v1/incidents", {**closed, "to": TODAY.isoformat()})
    assert reused.status_code == 409

    # The promise stops offering the closed node.
    lyon = {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83}
    body = {"lines": [{"sku": "SKU-1", "qty": 1}], "destination": lyon}
    for _ in range(30):
        options = (await api.post("/v1/promise", body)).json()["options"]
        nodes = {line["node_id"] for o in options for line in o["lines"]}
        if "DC-LYON" not in nodes:
            break
        await asyncio.sleep(0.1)
    assert nodes == {"DC-PARIS"}


async def test_a_carrier_outage_moves_bookings_to_another_carrier(api: Api):
    [oid] = await released(api, [("SKU-1", 1)])
    before = (await api.get(f"/v1/orders/{oid}")).json()["shipments"][0]
    assert before["carrier_id"] == "COLISSIMO"
    outage = incident(
        "carrier_outage",
        carrier_id="COLISSIMO",
        **{"from": TODAY.isoformat()},
        to=(TODAY + timedelta(days=10)).isoformat(),
    )
    assert (await api.field("/v1/incidents", outage)).status_code == 202
    report = await handled(api, outage["incident_id"])
    assert report["outcomes"][0]["outcome"] == "rerouted"
    order = (await api.get(f"/v1/orders/{oid}")).json()
    moved = order["shipments"][-1]
    assert moved["carrier_id"] == "DPD" and moved["status"] == "released"
    assert order["shipments"][0]["status"] == "cancelled"
    assert held(api)["DC-LYON"] == (30, 1)  # the stock hold moved with it, once


async def test_a_count_below_the_holds_reroutes_the_units_it_took(api: Api):
    [oid] = await released(api, [("SKU-1", 3)])
    count = incident("stock_discrepancy", node_id="DC-LYON", sku="SKU-1", counted=1)
    assert (await api.field("/v1/incidents", count)).status_code == 202
    report = await handled(api, count["incident_id"])
    assert report["outcomes"] == [
        {
            "order_id": oid,
            "outcome": "rerouted",
            "detail": f"to DC-LYON, DC-PARIS, still by {day()}",
        }
    ]
    assert held(api)["DC-LYON"] == (1, 1) and held(api)["DC-PARIS"] == (50, 2)
    with unit_of_work(api.engine) as session:
        assert ledger.balance_problems(session) == []
    assert ("node", "DC-PARIS", "release_for_picking") in topics(api, oid)
    history = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
    assert any(
        e["type"] == "stock_lost" and "count of 1 x SKU-1 at DC-LYON" in e["summary"]
        for e in history
    )
    delivered = moments_ago()
    done = await deliver_everything(api, oid, delivered)
    assert done["otif"] == {
        "on_time": True,
        "in_full": True,
        "delivered_units": 3,
        "ordered_units": 3,
        "delivered_on": datetime.fromisoformat(delivered).astimezone(PARIS).date().isoformat(),
    }
    assert held(api)["DC-LYON"] == (0, 0) and held(api)["DC-PARIS"] == (48, 0)


async def test_an_order_nobody_else_can_serve_waits_in_the_exception_queue(api: Api):
    [oid] = await released(api, [("SKU-2", 1)])  # only Lyon has SKU-2
    closed = incident(
        "node_closed",
        node_id="DC-LYON",
        **{"from": TODAY.isoformat()},
        to=(TODAY + timedelta(days=3)).isoformat(),
    )
    await api.field("/v1/incidents", closed)
    report = await handled(api, closed["incident_id"])
    assert report["outcomes"][0]["outcome"] == "exception"
    queue = (await api.get("/v1/exceptions")).json()["orders"]
    [item] = [o for o in queue if o["order_id"] == oid]
    assert "cannot reroute after DC-LYON closed" in item["reason"]
    assert held(api, "SKU-2")["DC-LYON"] == (10, 0)


async def test_bad_incidents_are_refused(api: Api):
    span = {"from": TODAY.isoformat(), "to": (TODAY + timedelta(days=1)).isoformat()}
    unknown = incident("node_closed", node_id="NOWHERE", **span)
    assert (await api.field("/v1/incidents", unknown)).status_code == 404
    incomplete = incident("node_capacity", node_id="DC-LYON", **{"from": "2026-12-01"})
    response = await api.field("/v1/incidents", incomplete)
    assert response.status_code == 422
    assert "needs capacity_per_day, to" in str(response.json()["detail"])
    unsigned = await api.post("/v1/incidents", incomplete, role="warehouse")
    assert unsigned.status_code == 401
    # Bounded in time: a century-long outage would leave the promise with nothing to offer.
    century = incident(
        "carrier_outage", carrier_id="DPD", **{"from": "2000-01-01"}, to="2100-01-01"
    )
    response = await api.field("/v1/incidents", century)
    assert response.status_code == 422 and "at most 60 days" in response.text
    last_week = {
        "from": (TODAY - timedelta(days=8)).isoformat(),
        "to": (TODAY - timedelta(days=2)).isoformat(),
    }
    response = await api.field(
        "/v1/incidents", incident("node_closed", node_id="DC-LYON", **last_week)
    )
    assert response.status_code == 422 and "before yesterday" in response.text


async def test_an_incident_lifted_stops_counting_at_once(api: Api):
    lyon = {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83}
    cart = {"lines": [{"sku": "SKU-2", "qty": 1}], "destination": lyon}
    span = {"from": TODAY.isoformat(), "to": (TODAY + timedelta(days=20)).isoformat()}
    closed = incident("node_closed", node_id="DC-LYON", **span)  # SKU-2's only node

    async def estimated(until=lambda day: True) -> str:
        """The standard option's date, once the promise's copy of the ledger has caught up
        (it refreshes in the background): the first that meets `until`, or after 3 s."""
        for _ in range(60):
            options = (await api.post("/v1/promise", cart)).json()["options"]
            day = min(o["estimated_by"] for o in options if o["method"] == "home_standard")
            if until(day):
                break
            await asyncio.sleep(0.05)
        return day

    usual = await estimated()
    assert (await api.field("/v1/incidents", closed)).status_code == 202
    await handled(api, closed["incident_id"])
    closed_until = await estimated(lambda day: day != usual)
    assert closed_until > span["to"] > usual  # it ships once the closure is over

    lifted = await api.post(f"/v1/incidents/{closed['incident_id']}/lift", None, role="admin")
    assert lifted.status_code == 200 and lifted.json()["status"] == "lifted"
    again = await api.post(f"/v1/incidents/{closed['incident_id']}/lift", None, role="admin")
    assert again.status_code == 200
    assert await estimated(lambda day: day == usual) == usual
    view = (await api.get(f"/v1/incidents/{closed['incident_id']}")).json()
    assert view["status"] == "lifted"
    unknown = await api.post("/v1/incidents/NOPE-1/lift", None, role="admin")
    assert unknown.status_code == 404
    refused = await api.post(f"/v1/incidents/{closed['incident_id']}/lift", None, role="support")
    assert refused.status_code == 403


async def test_support_accepts_a_partial_delivery_or_retries_once_stock_is_back(api: Api):
    first, second = await released(api, [("SKU-2", 1), ("SKU-1", 1)], count=2)
    closed = incident(
        "node_closed",
        node_id="DC-LYON",
        **{"from": TODAY.isoformat()},
        to=(TODAY + timedelta(days=3)).isoformat(),
    )
    await api.field("/v1/incidents", closed)
    report = await handled(api, closed["incident_id"])
    assert {o["outcome"] for o in report["outcomes"]} == {"exception"}  # SKU-2: Lyon only
    assert (
        await api.post(f"/v1/orders/{first}/resolve", {"action": "bogus"}, role="support")
    ).status_code == 422

    accepted = await api.post(
        f"/v1/orders/{first}/resolve",
        {"action": "accept_partial", "note": "customer agreed"},
        role="support",
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "released"  # SKU-1 went on from Paris
    assert "1 unit(s) will not come" in accepted.json()["detail"]
    again = await api.post(f"/v1/orders/{first}/resolve", {"action": "retry"}, role="support")
    assert again.status_code == 409  # no longer waiting for a decision

    # Stock of SKU-2 arrives in Paris: support asks the second order to try again.
    receipt = {
        "event_id": uuid.uuid4().hex,
        "type": "receipt",
        "sku": "SKU-2",
        "node_id": "DC-PARIS",
        "qty": 5,
    }
    assert (await api.field("/v1/inventory/events", receipt)).status_code == 200
    retried = await api.post(f"/v1/orders/{second}/resolve", {"action": "retry"}, role="support")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "released"
    order = (await api.get(f"/v1/orders/{second}")).json()
    assert {s["node_id"] for s in order["shipments"] if s["status"] == "released"} == {"DC-PARIS"}
    assert held(api, "SKU-2")["DC-PARIS"] == (5, 1)
    assert second not in [o["order_id"] for o in (await api.get("/v1/exceptions")).json()["orders"]]
    await keep_history(api.client, f"order-{first}", "order-exception-partial-accepted")
    await keep_history(api.client, f"order-{second}", "order-exception-retried")


async def test_a_capacity_drop_moves_only_the_shipments_beyond_it(api: Api):
    orders = await released(api, [("SKU-1", 1)], count=3)
    days = {
        (await api.get(f"/v1/orders/{oid}")).json()["shipments"][0]["pick_by"][:10]
        for oid in orders
    }
    assert len(days) == 1  # all three picked the same day at Lyon
    span = {"from": TODAY.isoformat(), "to": (TODAY + timedelta(days=5)).isoformat()}
    drop = incident("node_capacity", node_id="DC-LYON", capacity_per_day=1, **span)
    await api.field("/v1/incidents", drop)
    report = await handled(api, drop["incident_id"])
    assert len(report["touched"]) == 2  # the first booked keeps its slot
    assert held(api)["DC-LYON"] == (30, 1)
    moved = {o["order_id"]: o["outcome"] for o in report["outcomes"]}
    assert set(moved.values()) <= {"rerouted", "repromised"}
    assert held(api)["DC-PARIS"][1] + held(api)["DC-LYON"][1] == 3
    for oid in moved:
        assert ("node", "DC-LYON", "cancel_picking") in topics(api, oid)
        history = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
        assert any("DC-LYON down to 1 picks a day" in e["summary"] for e in history)
        done = await deliver_everything(api, oid, moments_ago())
        assert done["otif"]["on_time"] and done["otif"]["in_full"]


def topics(api: Api, oid: str) -> list[tuple[str, str, str]]:
    with unit_of_work(api.engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.order_id == oid))
        return [(r.recipient, r.recipient_id, r.topic) for r in rows]


async def deliver_everything(api: Api, oid: str, at: str) -> dict:
    """The nodes ship and the carriers deliver every live shipment of the order."""
    order = (await api.get(f"/v1/orders/{oid}")).json()
    for shipment in order["shipments"]:
        if shipment["status"] in ("cancelled", "delivered"):
            continue
        sid, node = shipment["shipment_id"], shipment["node_id"]
        shipped = {
            "event_id": uuid.uuid4().hex,
            "type": "shipped",
            "order_id": oid,
            "shipment_id": sid,
        }
        assert (await api.field(f"/v1/nodes/{node}/events", shipped)).status_code == 202
        delivered = {
            "event_id": uuid.uuid4().hex,
            "type": "delivered",
            "shipment_id": sid,
            "at": at,
        }
        sent = await api.field(f"/v1/carriers/{shipment['carrier_id']}/events", delivered)
        assert sent.status_code == 202, sent.text
    return await api.wait_status(oid, "delivered")


async def test_a_reroute_that_cannot_keep_the_date_repromises_and_tells_everyone(api: Api):
    lyon = {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83}
    answer = (
        await api.post("/v1/promise", {"lines": [{"sku": "SKU-1", "qty": 1}], "destination": lyon})
    ).json()
    fastest = min(o["estimated_by"] for o in answer["options"] if o["method"] == "home_standard")
    oid = f"I-{uuid.uuid4().hex[:8]}"
    body = order_body(oid, [("SKU-1", 1)], promised_by=fastest)
    assert (await api.post("/v1/orders", body)).status_code == 202
    order = await api.wait_status(oid, "released")
    old = order["shipments"][0]
    assert old["node_id"] == "DC-LYON"

    closed = incident(
        "node_closed",
        node_id="DC-LYON",
        **{"from": TODAY.isoformat()},
        to=(TODAY + timedelta(days=7)).isoformat(),
    )
    await api.field("/v1/incidents", closed)
    report = await handled(api, closed["incident_id"])
    [outcome] = report["outcomes"]
    assert outcome["outcome"] == "repromised"
    order = (await api.get(f"/v1/orders/{oid}")).json()
    assert order["promised_by"] > fastest
    new = order["shipments"][-1]
    assert new["node_id"] == "DC-PARIS" and new["tracking"] != old["tracking"]
    told = topics(api, oid)
    assert ("customer", f"C-{oid}", "new_delivery_date") in told
    assert ("node", "DC-LYON", "cancel_picking") in told
    assert ("carrier", old["carrier_id"], "booking_cancelled") in told
    assert ("node", "DC-PARIS", "release_for_picking") in told
    history = [e["type"] for e in (await api.get(f"/v1/orders/{oid}/history")).json()["events"]]
    assert {"taken_back", "repromised"} <= set(history)

    # Delivered (now) by the new date: on time against the promise the customer was given.
    done = await deliver_everything(api, oid, moments_ago())
    assert done["otif"]["on_time"] and done["otif"]["in_full"]
    await keep_history(api.client, f"order-{oid}", "order-node-closed-repromised")


async def test_after_a_carrier_outage_the_rebooked_order_is_delivered_on_time(api: Api):
    [oid] = await released(api, [("SKU-1", 2)])
    span = {"from": TODAY.isoformat(), "to": (TODAY + timedelta(days=3)).isoformat()}
    outage = incident("carrier_outage", carrier_id="COLISSIMO", service_id="COL-STD", **span)
    await api.field("/v1/incidents", outage)
    await handled(api, outage["incident_id"])
    assert ("carrier", "COLISSIMO", "booking_cancelled") in topics(api, oid)
    done = await deliver_everything(api, oid, moments_ago())
    assert [s["carrier_id"] for s in done["shipments"]] == ["COLISSIMO", "DPD"]
    assert done["otif"]["on_time"] and done["otif"]["in_full"]
    assert held(api)["DC-LYON"] == (28, 0)
    await keep_history(api.client, f"order-{oid}", "order-carrier-outage-rebooked")
    await keep_history(api.client, f"incident-{outage['incident_id']}", "incident-carrier-outage")
