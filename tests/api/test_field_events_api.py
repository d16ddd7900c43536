"""Node and carrier events by HTTP: signed, checked against the order, applied once."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from api.auth import sign_request
from db import ledger
from db.engine import unit_of_work
from domain.policy import PRESETS
from tests.api.conftest import Api, eventually
from tests.histories import keep_history
from tests.networks import day, moments_ago, order_body


async def released_order(api: Api, lines=(("SKU-1", 2),)) -> tuple[str, dict]:
    oid = f"A-{uuid.uuid4().hex[:8]}"
    assert (await api.post("/v1/orders", order_body(oid, list(lines)))).status_code == 202
    order = await api.wait_status(oid, "released")
    return oid, order["shipments"][0]


def node_event(kind: str, oid: str, shipment_id: str, lines=(), **extra) -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "order_id": oid,
        "shipment_id": shipment_id,
        "lines": [{"line_id": lid, "qty": qty} for lid, qty in lines],
        **extra,
    }


def carrier_event(kind: str, shipment_id: str, at: str) -> dict:
    return {"event_id": uuid.uuid4().hex, "type": kind, "shipment_id": shipment_id, "at": at}


def lyon(api: Api, sku: str = "SKU-1") -> tuple[int, int]:
    with unit_of_work(api.engine) as session:
        pos = {p.node_id: p for p in ledger.positions(session, sku)}["DC-LYON"]
        return pos.on_hand, pos.reserved


async def test_order_is_delivered_on_time_through_field_events(api: Api):
    oid, shipment = await released_order(api)
    sid, carrier = shipment["shipment_id"], shipment["carrier_id"]
    picked = await api.field("/v1/nodes/DC-LYON/events", node_event("picked", oid, sid))
    assert picked.status_code == 202, picked.text
    await api.wait_status(oid, "picked")
    shipped = node_event("shipped", oid, sid, tracking="TRK-1")
    assert (await api.field("/v1/nodes/DC-LYON/events", shipped)).status_code == 202
    await api.wait_status(oid, "shipped")
    assert lyon(api) == (28, 0)
    # Delivered now, weeks before the promised day.
    transit = carrier_event("in_transit", sid, moments_ago(1))
    assert (await api.field(f"/v1/carriers/{carrier}/events", transit)).status_code == 202
    delivered = carrier_event("delivered", sid, moments_ago())
    assert (await api.field(f"/v1/carriers/{carrier}/events", delivered)).status_code == 202
    order = await api.wait_status(oid, "delivered")
    assert order["otif"]["on_time"] and order["otif"]["in_full"]
    assert order["shipments"][0]["tracking"] == "TRK-1"
    too_late = await api.post(f"/v1/orders/{oid}/cancel", {"reason": "gift no longer needed"})
    assert too_late.status_code == 409
    assert too_late.json()["detail"] == f"order {oid} is delivered: too late to cancel"


async def test_delivery_after_the_promised_day_is_late(api: Api):
    # A late delivery has happened by now: the order was promised for the day before
    # yesterday (Paris), placed two days before that, delivered at 00:30 the next night.
    paris = ZoneInfo("Europe/Paris")
    promised = datetime.now(paris).date() - timedelta(days=2)
    delivered_at = datetime.combine(promised + timedelta(days=1), clock_time(0, 30), paris)
    api.clock.set(delivered_at - timedelta(days=2))
    oid = f"A-{uuid.uuid4().hex[:8]}"
    body = order_body(oid, [("SKU-1", 2)], promised_by=promised.isoformat())
    assert (await api.post("/v1/orders", body)).status_code == 202
    shipment = (await api.wait_status(oid, "released"))["shipments"][0]
    sid, carrier = shipment["shipment_id"], shipment["carrier_id"]
    api.clock.set(delivered_at - timedelta(hours=3))
    await api.field("/v1/nodes/DC-LYON/events", node_event("shipped", oid, sid))
    await api.wait_status(oid, "shipped")
    # 00:30 in Paris is still the promised day in UTC: OTIF counts the local day.
    api.clock.set(delivered_at + timedelta(minutes=1))
    late = carrier_event("delivered", sid, delivered_at.astimezone(UTC).isoformat())
    assert late["at"].startswith(promised.isoformat())
    assert (await api.field(f"/v1/carriers/{carrier}/events", late)).status_code == 202
    order = await api.wait_status(oid, "delivered")
    assert order["otif"] == {
        "on_time": False,
        "in_full": True,
        "delivered_units": 2,
        "ordered_units": 2,
        "delivered_on": (promised + timedelta(days=1)).isoformat(),
    }


async def shipments_released(api: Api, oid: str, count: int) -> dict:
    order: dict = {}
    for _ in range(100):
        order = (await api.get(f"/v1/orders/{oid}")).json()
        released = [s for s in order["shipments"] if s["status"] != "booked"]
        if len(released) >= count:
            return order
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} shipments released: {order}")


def at_node(api: Api, node: str, sku: str = "SKU-1") -> tuple[int, int]:
    with unit_of_work(api.engine) as session:
        pos = {p.node_id: p for p in ledger.positions(session, sku)}[node]
        return pos.on_hand, pos.reserved


async def test_a_short_pick_is_written_off_and_rerouted_keeping_the_date(api: Api):
    oid, shipment = await released_order(api, [("SKU-1", 3)])
    sid = shipment["shipment_id"]
    short = node_event("short_picked", oid, sid, [("1", 1)])
    assert (await api.field("/v1/nodes/DC-LYON/events", short)).status_code == 202
    # One unit gone from Lyon's shelf and from the order's hold there...
    await eventually(lambda: lyon(api) == (29, 2))
    # ...and held at the next best node instead, in a new shipment with its own booking.
    await eventually(lambda: at_node(api, "DC-PARIS") == (50, 1))
    order = await shipments_released(api, oid, 2)
    first, second = order["shipments"]
    assert (first["node_id"], first["lines"][0]["qty"], first["lines"][0]["short_qty"]) == (
        "DC-LYON",
        2,
        1,
    )
    assert (second["node_id"], second["lines"][0]["qty"]) == ("DC-PARIS", 1)
    assert second["tracking"] and second["status"] == "released"
    assert order["promised_by"] == day()  # kept
    assert order["reroutes"] == 1
    summaries: list[str] = []
    for _ in range(100):  # the reroute is noted once the new shipment is released
        events = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
        summaries = [e["summary"] for e in events]
        if f"Rerouted to DC-PARIS, still by {day()}" in summaries:
            break
        await asyncio.sleep(0.05)
    assert any("could not find 1 x SKU-1" in s for s in summaries)
    assert any(
        s.startswith("Sourced from DC-PARIS") and "because a short pick at DC-LYON" in s
        for s in summaries
    )
    assert f"Rerouted to DC-PARIS, still by {day()}" in summaries
    assert any(s == "Told node DC-PARIS: release for picking" for s in summaries)

    # Both shipments delivered: the order is on time and in full after all.
    for s_ in (first, second):
        node = s_["node_id"]
        await api.field(f"/v1/nodes/{node}/events", node_event("shipped", oid, s_["shipment_id"]))
        delivered = carrier_event("delivered", s_["shipment_id"], moments_ago())
        for _ in range(50):  # the read model knows the new shipment once it is released
            sent = await api.field(f"/v1/carriers/{s_['carrier_id']}/events", delivered)
            if sent.status_code == 202:
                break
    order = await api.wait_status(oid, "delivered")
    assert order["otif"]["on_time"] and order["otif"]["in_full"]
    assert order["otif"]["delivered_units"] == 3
    await keep_history(api.client, f"order-{oid}", "order-short-pick-rerouted")
    # Prometheus counts the reroute from the read model.
    for _ in range(100):
        if "oms_reroutes 1.0" in (await api.http.get("/metrics")).text:
            break
        await asyncio.sleep(0.05)
    assert "oms_reroutes 1.0" in (await api.http.get("/metrics")).text


async def test_under_a_policy_that_does_not_reroute_a_short_pick_ships_what_is_left(api: Api):
    policy = PRESETS["nearest-node-no-reroute"].model_dump(mode="json", exclude={"version"})
    saved = await api.http.put("/v1/admin/sourcing-policy", json=policy, headers=api.auth("admin"))
    assert saved.status_code == 200 and saved.json()["reroute"] is False
    oid, shipment = await released_order(api, [("SKU-1", 3)])
    sid = shipment["shipment_id"]
    short = node_event("short_picked", oid, sid, [("1", 1)])
    assert (await api.field("/v1/nodes/DC-LYON/events", short)).status_code == 202
    await eventually(lambda: lyon(api) == (29, 2))  # written off all the same
    lost = "1 unit(s) lost to a short pick at DC-LYON will not come: the policy does not reroute"
    summaries: list[str] = []
    for _ in range(100):
        events = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
        summaries = [e["summary"] for e in events]
        if lost in summaries:
            break
        await asyncio.sleep(0.05)
    assert lost in summaries
    order = (await api.get(f"/v1/orders/{oid}")).json()
    assert len(order["shipments"]) == 1 and order["reroutes"] == 0
    assert at_node(api, "DC-PARIS") == (50, 0)  # nothing held anywhere else

    await api.field("/v1/nodes/DC-LYON/events", node_event("shipped", oid, sid))
    delivered = carrier_event("delivered", sid, moments_ago())
    sent = await api.field(f"/v1/carriers/{shipment['carrier_id']}/events", delivered)
    assert sent.status_code == 202
    order = await api.wait_status(oid, "delivered")
    otif = order["otif"]
    assert (otif["on_time"], otif["in_full"], otif["delivered_units"]) == (True, False, 2)


async def test_a_replayed_event_applies_once(api: Api):
    oid, shipment = await released_order(api)
    sid = shipment["shipment_id"]
    event = node_event("short_picked", oid, sid, [("1", 1)])
    first = await api.field("/v1/nodes/DC-LYON/events", event)
    second = await api.field("/v1/nodes/DC-LYON/events", event)
    assert (first.status_code, second.status_code) == (202, 202)
    await eventually(lambda: at_node(api, "DC-PARIS") == (50, 1))
    await api.field("/v1/nodes/DC-LYON/events", node_event("picked", oid, sid))
    await eventually(lambda: lyon(api) == (29, 1))  # written off once, not twice
    order = await shipments_released(api, oid, 2)
    assert len(order["shipments"]) == 2  # rerouted once, not twice
    assert at_node(api, "DC-PARIS") == (50, 1)


async def test_unsigned_or_badly_signed_events_are_refused_and_change_nothing(api: Api):
    oid, shipment = await released_order(api)
    event = node_event("shipped", oid, shipment["shipment_id"])
    path = "/v1/nodes/DC-LYON/events"
    unsigned = await api.post(path, event, role="warehouse")
    wrong = await api.field(path, event, secret="not-the-secret")
    stale = await api.field(path, event, at=time.time() - 600)
    assert [r.status_code for r in (unsigned, wrong, stale)] == [401, 401, 401]
    assert "outside the accepted time window" in stale.json()["detail"]
    order = (await api.get(f"/v1/orders/{oid}")).json()
    assert order["status"] == "released"
    assert lyon(api) == (30, 2)


async def test_malformed_or_misdirected_signatures_are_401s_never_500s(api: Api):
    oid, shipment = await released_order(api)
    event = node_event("shipped", oid, shipment["shipment_id"])
    path = "/v1/nodes/DC-LYON/events"
    raw = json.dumps(event).encode()
    now = str(int(time.time()))
    secret = api.partner("node", "DC-LYON").signing_secret  # auth("warehouse")'s own
    good = "sha256=" + sign_request(secret, now, "POST", path, raw)

    def headers(timestamp: bytes | str, signature: bytes | str) -> dict:
        return {
            **api.auth("warehouse"),
            "Content-Type": "application/json",
            "X-OMS-Timestamp": timestamp,
            "X-OMS-Signature": signature,
        }

    cases = {
        "a huge timestamp": headers("1" + "0" * 400, good),
        "a timestamp in milliseconds": headers(now + "000", good),
        "a non-ASCII signature": headers(now, b"sha256=" + "é".encode() * 32),
        "a signature of another shape": headers(now, good.upper()),
        "a body signed for another node": headers(
            now, "sha256=" + sign_request(secret, now, "POST", "/v1/nodes/DC-PARIS/events", raw)
        ),
    }
    for case, sent in cases.items():
        response = await api.http.post(path, content=raw, headers=sent)
        assert response.status_code == 401, (case, response.text)
    assert (await api.get(f"/v1/orders/{oid}")).json()["status"] == "released"
    accepted = await api.http.post(path, content=raw, headers=headers(now, good))
    assert accepted.status_code == 202


async def test_the_same_event_sent_twenty_times_reaches_the_order_once(api: Api):
    oid, shipment = await released_order(api)
    event = node_event("picked", oid, shipment["shipment_id"])
    answers = [await api.field("/v1/nodes/DC-LYON/events", event) for _ in range(20)]
    assert {r.status_code for r in answers} == {202}
    reused = await api.field("/v1/nodes/DC-LYON/events", {**event, "type": "shipped"})
    assert reused.status_code == 409
    history = await api.client.get_workflow_handle(f"order-{oid}").fetch_history()
    signals = [
        e
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
        and e.workflow_execution_signaled_event_attributes.signal_name == "node_event"
    ]
    assert len(signals) == 1


async def test_events_that_do_not_match_the_order_are_refused(api: Api):
    oid, shipment = await released_order(api)
    sid = shipment["shipment_id"]
    unknown_node = await api.field("/v1/nodes/NOWHERE/events", node_event("picked", oid, sid))
    assert unknown_node.status_code == 404 and "NOWHERE" in unknown_node.json()["detail"]
    wrong_node = await api.field("/v1/nodes/DC-PARIS/events", node_event("picked", oid, sid))
    assert wrong_node.status_code == 422
    too_many = node_event("short_picked", oid, sid, [("1", 5)])
    assert (await api.field("/v1/nodes/DC-LYON/events", too_many)).status_code == 422
    no_line = node_event("picked", oid, sid, [("9", 1)])
    assert (await api.field("/v1/nodes/DC-LYON/events", no_line)).status_code == 422
    unknown_order = node_event("picked", "NOPE-1", sid)
    assert (await api.field("/v1/nodes/DC-LYON/events", unknown_order)).status_code == 404
    at = datetime.now(UTC).isoformat()
    no_shipment = carrier_event("delivered", "NOPE-S1", at)
    assert (await api.field("/v1/carriers/DPD/events", no_shipment)).status_code == 404
    wrong_carrier = carrier_event("delivered", sid, at)
    other = "DPD" if shipment["carrier_id"] != "DPD" else "COLISSIMO"
    assert (await api.field(f"/v1/carriers/{other}/events", wrong_carrier)).status_code == 422
    naive_time = carrier_event("delivered", sid, "2026-12-20T10:00:00")
    carrier_path = f"/v1/carriers/{shipment['carrier_id']}/events"
    assert (await api.field(carrier_path, naive_time)).status_code == 422
    # A time no plan can hold would fail the order's every step: refused at the door.
    end_of_time = carrier_event("delivered", sid, "9999-12-31T23:59:59+00:00")
    refused = await api.field(carrier_path, end_of_time)
    assert refused.status_code == 422 and "2000 and 2100" in refused.text
    assert (await api.get(f"/v1/orders/{oid}")).json()["status"] == "released"
    assert lyon(api) == (30, 2)


async def test_a_carrier_event_dated_when_it_cannot_have_happened_is_refused_and_changes_nothing(
    api: Api,
):
    oid, shipment = await released_order(api)
    sid, carrier = shipment["shipment_id"], shipment["carrier_id"]
    assert (await api.field("/v1/nodes/DC-LYON/events", node_event("shipped", oid, sid))).is_success
    placed = datetime.fromisoformat((await api.wait_status(oid, "shipped"))["placed_at"])
    now = datetime.now(UTC)
    api.clock.set(now)  # stopped, so that the bounds below are exact
    path = f"/v1/carriers/{carrier}/events"
    event_id = uuid.uuid4().hex
    cases: dict[str, tuple[str | datetime, str]] = {
        "the end of time": ("9999-12-31T23:59:59+00:00", "2000 and 2100"),
        "next year": (now + timedelta(days=365), "has not happened yet"),
        "5 minutes and 1 second ahead": (now + timedelta(minutes=5, seconds=1), "not happened"),
        "a day and a second before the order": (
            placed - timedelta(days=1, seconds=1),
            "more than a day before the order was placed",
        ),
        "the year 2000": ("2000-01-01T00:00:00+00:00", "before the order was placed"),
    }
    for case, (when, why) in cases.items():
        at = when if isinstance(when, str) else when.isoformat()
        event = {"event_id": event_id, "type": "delivered", "shipment_id": sid, "at": at}
        refused = await api.field(path, event)
        assert refused.status_code == 422 and why in refused.text, (case, refused.text)
    history = await api.client.get_workflow_handle(f"order-{oid}").fetch_history()
    assert not [
        e
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
        and e.workflow_execution_signaled_event_attributes.signal_name == "carrier_event"
    ]
    assert (await api.get(f"/v1/orders/{oid}")).json()["status"] == "shipped"
    assert lyon(api) == (28, 0)
    # Nothing was spent either: the carrier's corrected event, under the same id, applies.
    corrected = {
        "event_id": event_id,
        "type": "delivered",
        "shipment_id": sid,
        "at": now.isoformat(),
    }
    assert (await api.field(path, corrected)).status_code == 202
    order = await api.wait_status(oid, "delivered")
    assert order["otif"]["on_time"] and order["shipments"][0]["status"] == "delivered"


async def test_only_the_warehouse_role_sends_field_events(api: Api):
    oid, shipment = await released_order(api)
    event = node_event("picked", oid, shipment["shipment_id"])
    response = await api.field("/v1/nodes/DC-LYON/events", event, role="checkout")
    assert response.status_code == 403
