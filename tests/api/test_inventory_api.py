"""Inventory positions and stock events; the network loader."""

import uuid

from db import ledger
from db.engine import unit_of_work
from tests.api.conftest import Api
from tests.networks import small_network


def stock_event(kind: str, qty: int, node: str = "DC-PARIS", sku: str = "SKU-1", **kw) -> dict:
    return {
        "event_id": kw.get("event_id", uuid.uuid4().hex),
        "type": kind,
        "sku": sku,
        "node_id": node,
        "qty": qty,
    }


def balanced(api: Api) -> bool:
    with unit_of_work(api.engine) as session:
        return ledger.balance_problems(session) == []


async def test_inventory_shows_each_node_with_its_atp(api: Api):
    response = await api.get("/v1/inventory/SKU-3", role="support")
    assert response.status_code == 200
    body = response.json()
    lille = next(n for n in body["nodes"] if n["node_id"] == "STORE-LILLE")
    assert lille == {
        "node_id": "STORE-LILLE",
        "on_hand": 8,
        "reserved": 0,
        "safety_stock": 0,
        "atp": 8,
    }
    assert (await api.get("/v1/inventory/NOPE-1")).status_code == 404


async def test_stock_events_apply_once(api: Api):
    receipt = stock_event("receipt", 10)
    first = await api.field("/v1/inventory/events", receipt)
    assert first.status_code == 200, first.text
    assert first.json()["applied"] is True and first.json()["position"]["on_hand"] == 60
    replay = await api.field("/v1/inventory/events", receipt)
    assert replay.status_code == 200
    assert replay.json()["applied"] is False and replay.json()["position"]["on_hand"] == 60
    reused = await api.field("/v1/inventory/events", {**receipt, "qty": 11})
    assert reused.status_code == 409
    sale = await api.field("/v1/inventory/events", stock_event("sale", 5))
    adjustment = await api.field("/v1/inventory/events", stock_event("adjustment", -3))
    count = await api.field("/v1/inventory/events", stock_event("count", 40))
    assert [r.json()["position"]["on_hand"] for r in (sale, adjustment, count)] == [55, 52, 40]
    assert balanced(api)


async def test_bad_stock_events_are_refused_and_change_nothing(api: Api):
    before = (await api.get("/v1/inventory/SKU-1")).json()
    too_much = await api.field("/v1/inventory/events", stock_event("sale", 51))
    assert too_much.status_code == 409 and "below" in too_much.json()["detail"]
    unknown_node = await api.field("/v1/inventory/events", stock_event("receipt", 1, node="X-1"))
    assert unknown_node.status_code == 404
    unknown_sku = await api.field("/v1/inventory/events", stock_event("receipt", 1, sku="NOPE"))
    assert unknown_sku.status_code == 404
    negative = await api.field("/v1/inventory/events", stock_event("receipt", -4))
    assert negative.status_code == 422
    bad_type = await api.field("/v1/inventory/events", stock_event("theft", 1))
    assert bad_type.status_code == 422
    malformed = await api.field("/v1/inventory/events", b'{"event_id": ')
    assert malformed.status_code == 422
    by_support = await api.post("/v1/inventory/events", stock_event("receipt", 1), role="support")
    assert by_support.status_code == 403
    assert (await api.get("/v1/inventory/SKU-1")).json() == before
    assert balanced(api)


async def test_network_load_is_all_or_nothing(api: Api):
    network = small_network()
    network["nodes"][0]["carriers"] = ["UPS"]  # no such carrier
    network["stock"][0]["on_hand"] = 999
    response = await api.post("/v1/admin/network", network, role="admin")
    assert response.status_code == 422 and "UPS" in response.json()["detail"]
    paris = next(
        n
        for n in (await api.get("/v1/inventory/SKU-1")).json()["nodes"]
        if n["node_id"] == "DC-PARIS"
    )
    assert paris["on_hand"] == 50
    assert (
        await api.post("/v1/admin/network", small_network(), role="checkout")
    ).status_code == 403
    fine = small_network()
    fine["stock"][0]["on_hand"] = 70
    loaded = await api.post("/v1/admin/network", fine, role="admin")
    assert loaded.status_code == 200 and loaded.json()["nodes"] == 4
    paris = next(
        n
        for n in (await api.get("/v1/inventory/SKU-1")).json()["nodes"]
        if n["node_id"] == "DC-PARIS"
    )
    assert paris["on_hand"] == 70
    assert balanced(api)


async def test_health(api: Api):
    response = await api.http.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_a_receipt_beyond_what_a_stock_counter_holds_is_refused(api: Api):
    for _ in range(9):  # 50 + 900,000,000: still within a node's books
        taken = await api.field("/v1/inventory/events", stock_event("receipt", 100_000_000))
        assert taken.status_code == 200, taken.text
    before = (await api.get("/v1/inventory/SKU-1")).json()

    too_many = await api.field("/v1/inventory/events", stock_event("receipt", 100_000_000))

    assert too_many.status_code == 422 and "beyond" in too_many.json()["detail"]
    assert (await api.get("/v1/inventory/SKU-1")).json() == before
    assert balanced(api)
