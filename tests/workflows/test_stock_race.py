"""50 orders race for the last 20 units at one node, on PostgreSQL, through real workflows."""

import asyncio
import uuid

import pytest
from sqlmodel import select
from temporalio.client import Client

from db import ledger
from db.engine import make_engine, unit_of_work
from db.network import load_network
from db.tables import OutboxRow
from domain.network import NetworkDocument
from domain.order import OrderStatus
from tests.networks import order_body, small_network
from tests.workflows.test_order_workflow import start
from worker.main import build_worker
from workflows.order import OrderWorkflow

pytestmark = pytest.mark.postgres


async def test_fifty_orders_race_for_the_last_twenty_units(client: Client, task_queue, pg_url):
    engine = make_engine(pg_url)
    network = small_network({("SKU-HOT", "DC-LYON"): 20, ("SKU-HOT", "DC-PARIS"): 10})
    network["skus"].append({"sku": "SKU-HOT", "name": "Hot toy", "weight_kg": 1.0})
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(network))
    run = uuid.uuid4().hex[:6]
    order_ids = [f"R{run}-{n}" for n in range(50)]

    async with build_worker(client, task_queue, engine, max_activity_threads=16):
        handles = await asyncio.gather(
            *(start(client, task_queue, order_body(oid, [("SKU-HOT", 1)])) for oid in order_ids)
        )
        settled = {OrderStatus.RELEASED, OrderStatus.FAILED}
        states = []
        for handle in handles:
            for _ in range(600):
                state = await handle.query(OrderWorkflow.state)
                if state.view.status in settled:
                    break
                await asyncio.sleep(0.05)
            states.append(state)
        for handle, state in zip(handles, states, strict=True):
            if state.view.status == OrderStatus.RELEASED:
                await handle.terminate("race over")

    with unit_of_work(engine) as session:
        hot = {p.node_id: p for p in ledger.positions(session, "SKU-HOT")}
        assert ledger.balance_problems(session) == []
        failed_told = {
            row.order_id
            for row in session.exec(select(OutboxRow).where(OutboxRow.topic == "order_failed"))
        }
    engine.dispose()

    assert hot["DC-LYON"].reserved == 20  # the nearest node sold out, not oversold
    assert hot["DC-PARIS"].reserved <= 10
    assert all(p.on_hand - p.reserved >= 0 for p in hot.values())
    by_status: dict[OrderStatus, list] = {}
    for state in states:
        by_status.setdefault(state.view.status, []).append(state)
    released, failed = (
        by_status.get(OrderStatus.RELEASED, []),
        by_status.get(OrderStatus.FAILED, []),
    )
    assert len(released) + len(failed) == 50, {k: len(v) for k, v in by_status.items()}
    assert len(released) == 20 + hot["DC-PARIS"].reserved  # every hold belongs to an order
    assert sorted(s.view.shipments[0].node_id for s in released).count("DC-LYON") == 20
    for state in failed:
        reason = state.view.reason or ""
        assert "not enough stock" in reason or "kept selling out" in reason, reason
        assert state.view.shipments == []
        assert state.view.order_id in failed_told
