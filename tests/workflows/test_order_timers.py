"""What waits, on the time-skipping test server: days pass in milliseconds."""

import uuid
from datetime import timedelta

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from db import ledger
from db.engine import unit_of_work
from db.tables import CarrierBookingRow, OutboxRow
from domain.order import OrderStatus
from tests.histories import keep_history
from tests.networks import order_body
from tests.workflows.test_order_workflow import carrier_event, node_event, start, wait_for
from worker.main import build_worker
from workflows.order import OrderWorkflow
from workflows.order_messages import CancelInput


def topics(engine, order_id: str) -> list[str]:
    with unit_of_work(engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.order_id == order_id))
        return [row.topic for row in rows]


async def test_an_order_not_delivered_by_its_date_is_flagged_and_the_customer_told(
    ts_env: WorkflowEnvironment, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    # The test server's clock runs ahead of the wall clock once a test has skipped time.
    now = await ts_env.get_current_time()
    promised = (now + timedelta(days=3)).date()
    body = order_body(oid, [("SKU-1", 1)], promised_by=promised.isoformat())
    async with build_worker(ts_env.client, task_queue, engine):
        handle = await start(ts_env.client, task_queue, body)
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        sid = state.view.shipments[0].shipment_id
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "shipped", oid, sid))
        await ts_env.sleep(timedelta(days=5))  # the promised day goes by
        state = await handle.query(OrderWorkflow.state)
        assert [e.type for e in state.timeline].count("promise_missed") == 1
        assert "order_late" in topics(engine, oid)

        # Delivered now, on the test server's clock: days after the promised one (a
        # carrier cannot report a delivery that has not happened yet).
        delivered_at = await ts_env.get_current_time()
        assert delivered_at.date() > promised
        await handle.signal(
            OrderWorkflow.carrier_event,
            carrier_event(state.view.shipments[0].carrier_id, "delivered", sid, delivered_at),
        )
        final = await handle.result()
    assert final.status == OrderStatus.DELIVERED
    assert final.otif is not None and not final.otif.on_time and final.otif.in_full


async def test_an_order_delivered_in_time_is_never_flagged(
    ts_env: WorkflowEnvironment, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    # The test server's clock runs ahead of the wall clock once a test has skipped time.
    now = await ts_env.get_current_time()
    promised = (now + timedelta(days=3)).date()
    body = order_body(oid, [("SKU-1", 1)], promised_by=promised.isoformat())
    async with build_worker(ts_env.client, task_queue, engine):
        handle = await start(ts_env.client, task_queue, body)
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        shipment = state.view.shipments[0]
        await handle.signal(
            OrderWorkflow.node_event,
            node_event("DC-LYON", "picked", oid, shipment.shipment_id),
        )
        await ts_env.sleep(timedelta(days=2))
        assert "promise_missed" not in [
            e.type for e in (await handle.query(OrderWorkflow.state)).timeline
        ]
        assert shipment.carrier_id is not None
        delivered_at = await ts_env.get_current_time()  # two days on, before the promised day
        await handle.signal(
            OrderWorkflow.carrier_event,
            carrier_event(shipment.carrier_id, "delivered", shipment.shipment_id, delivered_at),
        )
        final = await handle.result()
    assert final.otif is not None and final.otif.on_time
    assert "order_late" not in topics(engine, oid)


async def test_cancel_before_shipping_on_the_time_skipping_server(
    ts_env: WorkflowEnvironment, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(ts_env.client, task_queue, engine):
        handle = await start(ts_env.client, task_queue, order_body(oid, [("SKU-1", 1)]))
        await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        await ts_env.sleep(timedelta(days=2))  # the node sits on it; the customer gives up
        result = await handle.execute_update(OrderWorkflow.cancel, CancelInput())
        assert result.cancelled
        final = await handle.result()
    assert final.status == OrderStatus.CANCELLED


async def test_a_node_that_misses_its_picking_sla_loses_the_order_to_the_next_best(
    ts_env: WorkflowEnvironment, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    # The test server's clock runs ahead of the wall clock once a test has skipped time:
    # a date a month ahead of it, which Paris can keep as well as Lyon.
    promised = ((await ts_env.get_current_time()) + timedelta(days=30)).date().isoformat()
    async with build_worker(ts_env.client, task_queue, engine):
        body = order_body(oid, [("SKU-1", 1)], promised_by=promised)
        handle = await start(ts_env.client, task_queue, body)
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        [late] = state.view.shipments
        assert late.node_id == "DC-LYON" and late.pick_by is not None
        # Lyon never reports the pick: its SLA (the end of its picking day) goes by.
        now = await ts_env.get_current_time()
        await ts_env.sleep(late.pick_by - now + timedelta(minutes=5))
        state = await wait_for(handle, lambda s: len(s.view.shipments) == 2)
        first, second = state.view.shipments
        assert first.status == "cancelled" and second.node_id == "DC-PARIS"
        assert second.status == "released" and second.tracking
        with unit_of_work(engine) as session:
            held = {p.node_id: p.reserved for p in ledger.positions(session, "SKU-1")}
            assert held == {"DC-LYON": 0, "DC-PARIS": 1}
            assert ledger.balance_problems(session) == []
            booking = session.get(CarrierBookingRow, first.shipment_id)
            assert booking is not None and booking.status == "cancelled"
        summaries = [e.summary for e in state.timeline]
        assert f"Took {first.shipment_id} back from DC-LYON: not picked within its SLA" in summaries
        assert any(s.startswith("Rerouted to DC-PARIS") for s in summaries)
        assert "cancel_picking" in topics(engine, oid)

        # Paris misses its SLA too. Nobody else has the SKU: moving it would keep no date,
        # so Paris gets one more picking day; missed again, a person must decide.
        now = await ts_env.get_current_time()
        assert second.pick_by is not None
        await ts_env.sleep(second.pick_by - now + timedelta(minutes=5))
        state = await wait_for(handle, lambda s: s.timeline[-1].type == "sla_missed")
        assert "DC-PARIS missed its picking SLA" in state.timeline[-1].summary
        assert "it gets one more picking day" in state.timeline[-1].summary
        assert state.view.status == OrderStatus.RELEASED
        await ts_env.sleep(timedelta(days=1))
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.EXCEPTION)
        assert "cannot reroute after DC-PARIS missed its picking SLA" in (state.view.reason or "")
        await keep_history(ts_env.client, handle.id, "order-sla-missed-twice")
        assert "order_delayed" in topics(engine, oid)
        await handle.terminate("test over")
