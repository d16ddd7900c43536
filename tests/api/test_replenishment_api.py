"""Store replenishment end to end: the plan run through the API, its proposals, transfers
as workflows on the real Temporal dev server, the nodes' signed events, the real ledger.

STORE-LILLE sells 10 x SKU-1 a day and holds 12 (safety stock 2, one unit on its shelf
protected from online orders); DC-PARIS (50) is its nearest warehouse, DC-LYON (30) the
next. With 3 days of cover it needs 30 + 2 + 1 - 12 = 21."""

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import select

from db import ledger
from db.engine import read_only, unit_of_work
from db.network import load_network
from db.tables import MovementRow, ProposalRow, StockRow, SupplyRow
from domain.network import NetworkDocument
from tests.api.conftest import Api
from tests.networks import order_body, small_network

TODAY = date.today()


@pytest.fixture
def lille_sells(engine) -> None:
    """SKU-1 on Lille's shelf, and four weeks of its sales in the ledger."""
    stock = {
        ("SKU-1", "DC-PARIS"): 50,
        ("SKU-1", "DC-LYON"): 30,
        ("SKU-1", "STORE-LILLE"): 12,
    }
    document = small_network(stock)
    document["stock"][-1]["safety_stock"] = 2
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(document))
        history_of_sales(session, "STORE-LILLE", "SKU-1", per_day=10, days=28)


def history_of_sales(session, node_id: str, sku: str, per_day: int, days: int) -> None:
    """Past sales, as the store's till reported them: a receipt of what was sold, then
    the sales day by day (the shelf ends as it is now)."""
    start = datetime.combine(TODAY - timedelta(days=days + 1), time(8), UTC)
    session.add(
        MovementRow(
            at=start,
            sku=sku,
            node_id=node_id,
            kind="receipt",
            on_hand_delta=per_day * days,
            source_id=f"past-receipt-{node_id}-{sku}",
        )
    )
    for n in range(1, days + 1):
        session.add(
            MovementRow(
                at=datetime.combine(TODAY - timedelta(days=n), time(15), UTC),
                sku=sku,
                node_id=node_id,
                kind="sale",
                on_hand_delta=-per_day,
                source_id=f"past-sale-{node_id}-{sku}-{n}",
            )
        )


async def set_policy(api: Api, **rules) -> dict:
    response = await api.http.put(
        "/v1/admin/replenishment-policy", json=rules, headers=api.auth("admin")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def run_plan(api: Api, body: dict | None = None) -> dict:
    response = await api.post("/v1/replenishment/run", body or {}, role="admin")
    assert response.status_code == 200, response.text
    return response.json()


async def proposals(api: Api, **query) -> list[dict]:
    response = await api.get("/v1/replenishment/proposals", params=query)
    assert response.status_code == 200, response.text
    return response.json()["proposals"]


async def transfer_when(api: Api, transfer_id: str, status: str, tries: int = 200) -> dict:
    body: dict = {}
    for _ in range(tries):
        response = await api.get(f"/v1/transfers/{transfer_id}")
        body = response.json()
        if response.status_code == 200 and body["transfer"]["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"transfer {transfer_id} never became {status}: {body}")


async def node_event(api: Api, node_id: str, transfer_id: str, type_: str, **fields):
    body = {"event_id": uuid.uuid4().hex, "type": type_, "transfer_id": transfer_id, **fields}
    return await api.field(f"/v1/nodes/{node_id}/events", body), body


def stock(api: Api, node_id: str, sku: str = "SKU-1") -> tuple[int, int]:
    with read_only(api.engine) as session:
        row = session.get(StockRow, (sku, node_id))
        return (row.on_hand, row.reserved) if row else (0, 0)


async def test_the_daily_plan_refills_a_store_and_the_transfer_reaches_its_shelf(
    api: Api, lille_sells
):
    await set_policy(api, days_of_cover=3)

    run = await run_plan(api)

    assert run["transfers"] and run["units"] == 21
    [proposal] = await proposals(api, store_id="STORE-LILLE")
    assert (proposal["qty"], proposal["source_node_id"]) == (18 + 2 + 1, "DC-PARIS")
    assert proposal["status"] == "applied" and proposal["transfer_id"]
    assert proposal["explanation"]["target"] == 33
    assert "21 x SKU-1 to STORE-LILLE from DC-PARIS" in proposal["explanation"]["summary"]
    transfer_id = proposal["transfer_id"]
    released = await transfer_when(api, transfer_id, "released")
    assert stock(api, "DC-PARIS") == (50, 21)  # held at the source: online orders cannot take it
    inventory = (await api.get("/v1/inventory/SKU-1")).json()
    [coming] = [s for s in inventory["supply"] if s["kind"] == "transfer"]
    assert (coming["node_id"], coming["expected"]) == ("STORE-LILLE", 21)
    assert coming["eta"] == released["transfer"]["eta"]

    for node_id, step in (("DC-PARIS", "picked"), ("DC-PARIS", "shipped")):
        response, _ = await node_event(api, node_id, transfer_id, step)
        assert response.status_code == 202, response.text
        await transfer_when(api, transfer_id, step)
    assert stock(api, "DC-PARIS") == (29, 0)
    response, received = await node_event(api, "STORE-LILLE", transfer_id, "received")
    assert response.status_code == 202, response.text
    done = await transfer_when(api, transfer_id, "received")
    again = await api.field("/v1/nodes/STORE-LILLE/events", received)  # the store's retry

    assert again.status_code == 202
    assert stock(api, "STORE-LILLE") == (33, 0)  # once
    assert [e["type"] for e in done["timeline"]] == ["released", "picked", "shipped", "received"]
    with read_only(api.engine) as session:
        line = session.get(SupplyRow, coming["supply_id"])
        assert line is not None and (line.status, line.received) == ("closed", 21)
    assert await run_plan(api) and not [
        p for p in await proposals(api, status="applied") if p["transfer_id"] != transfer_id
    ]  # stocked up: the next plan moves nothing


async def test_a_short_pick_is_written_off_and_the_missing_units_planned_again(
    api: Api, lille_sells
):
    await set_policy(api, days_of_cover=3)
    await run_plan(api)
    [proposal] = await proposals(api, store_id="STORE-LILLE")
    transfer_id = proposal["transfer_id"]
    await transfer_when(api, transfer_id, "released")

    response, _ = await node_event(
        api, "DC-PARIS", transfer_id, "picked", lines=[{"sku": "SKU-1", "qty": 16}]
    )

    assert response.status_code == 202, response.text
    picked = await transfer_when(api, transfer_id, "picked")
    assert picked["transfer"]["lines"][0]["written_off"] == 5
    assert stock(api, "DC-PARIS") == (45, 16)  # the 5 missing units left the books
    for _ in range(200):  # the store's 5 missing units: a new transfer, from the best source
        again = [p for p in await proposals(api, store_id="STORE-LILLE") if p["qty"] == 5]
        if again and again[0]["transfer_id"]:
            break
        await asyncio.sleep(0.05)
    assert again and again[0]["status"] == "applied"
    await transfer_when(api, again[0]["transfer_id"], "released")


async def test_proposals_wait_for_approval_when_the_policy_says_so(api: Api, lille_sells):
    await set_policy(api, days_of_cover=3, auto_apply=False)
    run = await run_plan(api)

    assert run["transfers"] == [] and run["waiting_for_approval"] == 1
    [proposal] = await proposals(api, status="proposed")
    assert proposal["transfer_id"] is None and stock(api, "DC-PARIS") == (50, 0)
    assert "oms_replenishment_proposals_waiting 1.0" in (await api.http.get("/metrics")).text

    approved = await api.post(
        f"/v1/replenishment/proposals/{proposal['proposal_id']}/approve", {}, role="admin"
    )
    twice = await api.post(
        f"/v1/replenishment/proposals/{proposal['proposal_id']}/approve", {}, role="admin"
    )

    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert twice.status_code == 409
    await transfer_when(api, approved.json()["transfer_id"], "released")
    assert stock(api, "DC-PARIS") == (50, 21)  # one transfer, not two
    metrics = (await api.http.get("/metrics")).text
    assert 'oms_transfers{status="released"} 1.0' in metrics
    assert "oms_replenishment_proposals_waiting 0.0" in metrics


async def test_bad_input_is_refused_and_changes_nothing(api: Api, lille_sells):
    before = await set_policy(api, days_of_cover=3, auto_apply=False)

    unknown_store = await api.post(
        "/v1/replenishment/run", {"stores": ["STORE-NOWHERE"]}, role="admin"
    )
    warehouse_as_store = await api.post(
        "/v1/replenishment/run", {"stores": ["DC-PARIS"]}, role="admin"
    )
    unknown_sku = await api.post("/v1/replenishment/run", {"skus": ["SKU-404"]}, role="admin")
    negative_cover = await api.http.put(
        "/v1/admin/replenishment-policy", json={"days_of_cover": -1}, headers=api.auth("admin")
    )
    unknown_proposal = await api.post("/v1/replenishment/proposals/R1-1/approve", {}, role="admin")
    by_checkout = await api.post("/v1/replenishment/run", {}, role="checkout")

    assert (unknown_store.status_code, warehouse_as_store.status_code) == (404, 404)
    assert unknown_sku.status_code == 404
    assert negative_cover.status_code == 422
    assert unknown_proposal.status_code == 404
    assert by_checkout.status_code == 403
    policy = await api.get("/v1/admin/replenishment-policy", role="admin")
    assert policy.json()["version"] == before["version"]
    with read_only(api.engine) as session:
        assert list(session.exec(select(ProposalRow))) == []


async def test_a_transfers_events_must_fit_it(api: Api, lille_sells):
    await set_policy(api, days_of_cover=3)
    await run_plan(api)
    [proposal] = await proposals(api)
    transfer_id = proposal["transfer_id"]
    await transfer_when(api, transfer_id, "released")

    wrong_node, _ = await node_event(api, "DC-LYON", transfer_id, "picked")
    store_picks, _ = await node_event(api, "STORE-LILLE", transfer_id, "picked")
    unknown, _ = await node_event(api, "DC-PARIS", "T-NOPE", "picked")
    other_sku, _ = await node_event(
        api, "DC-PARIS", transfer_id, "picked", lines=[{"sku": "SKU-2", "qty": 1}]
    )
    too_many, _ = await node_event(
        api, "DC-PARIS", transfer_id, "shipped", lines=[{"sku": "SKU-1", "qty": 22}]
    )

    assert (wrong_node.status_code, store_picks.status_code) == (422, 422)
    assert unknown.status_code == 404
    assert (other_sku.status_code, too_many.status_code) == (422, 422)
    assert stock(api, "DC-PARIS") == (50, 21)  # nothing moved
    assert (await api.get(f"/v1/transfers/{transfer_id}")).json()["transfer"]["status"] == (
        "released"
    )


async def test_a_transfer_cancelled_before_it_leaves_gives_its_units_back(api: Api, lille_sells):
    await set_policy(api, days_of_cover=3)
    await run_plan(api)
    [proposal] = await proposals(api)
    transfer_id = proposal["transfer_id"]
    await transfer_when(api, transfer_id, "released")

    response = await api.post(f"/v1/transfers/{transfer_id}/cancel", {}, role="admin")

    assert response.status_code == 202, response.text
    await transfer_when(api, transfer_id, "cancelled")
    assert stock(api, "DC-PARIS") == (50, 0)
    with read_only(api.engine) as session:
        lines = session.exec(select(SupplyRow).where(SupplyRow.kind == "transfer")).all()
        assert [line.status for line in lines] == ["cancelled"]
    late = await api.post(f"/v1/transfers/{transfer_id}/cancel", {}, role="admin")
    assert late.status_code == 409


async def test_a_shipped_transfer_cannot_be_cancelled(api: Api, lille_sells):
    await set_policy(api, days_of_cover=3)
    await run_plan(api)
    [proposal] = await proposals(api)
    transfer_id = proposal["transfer_id"]
    await transfer_when(api, transfer_id, "released")
    await node_event(api, "DC-PARIS", transfer_id, "shipped")
    await transfer_when(api, transfer_id, "shipped")

    response = await api.post(f"/v1/transfers/{transfer_id}/cancel", {}, role="admin")

    assert response.status_code == 409
    assert stock(api, "DC-PARIS") == (29, 0)


def test_the_ledger_check_sees_transfers_as_balanced(engine, lille_sells):
    with read_only(engine) as session:
        assert ledger.balance_problems(session) == []


async def test_units_on_their_way_to_a_store_are_promised_there_from_their_eta(
    api: Api, lille_sells
):
    await set_policy(api, days_of_cover=3)
    await run_plan(api)
    [proposal] = await proposals(api)
    transfer_id = proposal["transfer_id"]
    eta = (await transfer_when(api, transfer_id, "released"))["transfer"]["eta"]
    # On hand, the network can give 29 (Paris) + 30 (Lyon) + 9 (Lille's shelf): 68.
    cart = {
        "lines": [{"sku": "SKU-1", "qty": 70}],
        "destination": {"postal_code": "59000", "country": "FR", "lat": 50.63, "lon": 3.06},
    }

    answer = await api.post("/v1/promise", cart)

    assert answer.status_code == 200, answer.text
    [collect] = [o for o in answer.json()["options"] if o["store_id"] == "STORE-LILLE"]
    assert collect["method"] == "click_and_collect" and collect["preorder"]
    [coming] = [line for line in collect["lines"] if line["source"] == "transfer"]
    assert (coming["node_id"], coming["qty"], coming["available_on"]) == ("STORE-LILLE", 2, eta)
    assert collect["estimated_by"] >= eta

    order_id = f"C-{uuid.uuid4().hex[:6]}"
    body = order_body(
        order_id,
        [("SKU-1", 70)],
        method="click_and_collect",
        address=None,
        store_id="STORE-LILLE",
        promised_by=None,
        option_id=collect["option_id"],
    )
    placed = await api.post("/v1/orders", body)
    assert placed.status_code == 202, placed.text
    for _ in range(200):
        with read_only(api.engine) as session:
            line = session.exec(select(SupplyRow).where(SupplyRow.kind == "transfer")).one()
        if line.allocated == 2:
            break
        await asyncio.sleep(0.05)
    assert line.allocated == 2  # the order's 2 units wait on the transfer, for no one else

    for node_id, step in (("DC-PARIS", "shipped"), ("STORE-LILLE", "received")):
        response, _ = await node_event(api, node_id, transfer_id, step)
        assert response.status_code == 202, response.text
        await transfer_when(api, transfer_id, step)
    order = await api.wait_status(order_id, "released")
    assert (
        sum(
            line["qty"]
            for shipment in order["shipments"]
            if shipment["node_id"] == "STORE-LILLE"
            for line in shipment["lines"]
        )
        >= 2
    )


async def test_a_receipt_heard_before_the_shipment_waits_for_it(api: Api, lille_sells):
    await set_policy(api, days_of_cover=3)
    await run_plan(api)
    [proposal] = await proposals(api)
    transfer_id = proposal["transfer_id"]
    await transfer_when(api, transfer_id, "released")

    early, _ = await node_event(api, "STORE-LILLE", transfer_id, "received")
    await asyncio.sleep(0.3)
    assert (await api.get(f"/v1/transfers/{transfer_id}")).json()["transfer"]["status"] == (
        "released"
    )
    shipped, _ = await node_event(api, "DC-PARIS", transfer_id, "shipped")

    assert (early.status_code, shipped.status_code) == (202, 202)
    await transfer_when(api, transfer_id, "received")
    assert stock(api, "STORE-LILLE") == (33, 0)
