"""The field watch moves a shipment its node will likely not hand over in time, before its
picking SLA passes (workflows/field_watch.py), on the time-skipping server."""

import uuid
from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from activities.field_watch import FieldWatchActivities, FindLateHandoversInput
from db.engine import unit_of_work
from db.performance import record_outcomes
from domain.lead_times import MIN_NODE_SAMPLES, SHIP
from domain.order import OrderStatus, Shipment
from tests.histories import keep_history
from tests.networks import order_body
from tests.workflows.test_order_workflow import start, wait_for
from worker.main import build_worker
from workflows.field_watch import FieldWatchInput, FieldWatchWorkflow


def a_node_that_hands_over_in(engine, node_id: str, hours: float, now: datetime) -> None:
    """The node's record: shipments started every hour of the last 20 days, each handed
    over `hours` later."""
    rows = []
    for n in range(24 * MIN_NODE_SAMPLES):
        started = now - timedelta(days=MIN_NODE_SAMPLES + 1) + timedelta(hours=n)
        rows.append(
            dict(
                shipment_id=f"PAST-{node_id}-{uuid.uuid4().hex[:8]}",
                order_id="PAST",
                node_id=node_id,
                kind=SHIP,
                status="delivered",
                carrier_id="DPD",
                service_id="DPD-STD",
                distance_km=10.0,
                released_at=started,
                started_at=started,
                ship_by=None,
                handed_over_at=started + timedelta(hours=hours),
                delivered_at=None,
            )
        )
    with unit_of_work(engine) as session:
        record_outcomes(session, rows)


def four_hours_into(shipment: Shipment) -> datetime:
    """Four hours after work on the shipment could start (its release, or the start of its
    picking day), well before its picking SLA at the end of that day."""
    assert shipment.released_at and shipment.pick_by
    return max(shipment.released_at, shipment.pick_by - timedelta(days=1)) + timedelta(hours=4)


async def released_and_watched(
    ts_env: WorkflowEnvironment, task_queue: str, oid: str, sku: str, now: datetime
):
    """An order for one unit of `sku`, promised a month ahead of the test server's clock
    (it runs ahead of the wall clock), released; and a field watch every half hour."""
    promised = (now + timedelta(days=30)).date().isoformat()
    handle = await start(
        ts_env.client, task_queue, order_body(oid, [(sku, 1)], promised_by=promised)
    )
    state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
    [shipment] = state.view.shipments
    watch = await ts_env.client.start_workflow(
        FieldWatchWorkflow.run,
        FieldWatchInput(every_minutes=30),
        id=f"watch-{uuid.uuid4().hex[:6]}",
        task_queue=task_queue,
    )
    return handle, shipment, watch


async def test_a_shipment_stuck_at_its_node_is_moved_before_its_picking_sla(
    ts_env: WorkflowEnvironment, task_queue: str, engine
):
    now = await ts_env.get_current_time()
    a_node_that_hands_over_in(engine, "DC-LYON", 2.0, now)
    a_node_that_hands_over_in(engine, "DC-PARIS", 2.0, now)
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(ts_env.client, task_queue, engine):
        promised = (now + timedelta(days=30)).date()
        handle, stuck, watch = await released_and_watched(ts_env, task_queue, oid, "SKU-1", now)
        assert stuck.node_id == "DC-LYON" and stuck.pick_by and stuck.ship_by
        # Lyon hands over in 2 hours, always: after 4 hours without a pick, it will not.
        await ts_env.sleep(four_hours_into(stuck) - now)
        state = await wait_for(handle, lambda s: len(s.view.shipments) == 2)
        moved, new = state.view.shipments
        assert moved.status == "cancelled" and new.node_id == "DC-PARIS"
        taken_back = next(e for e in state.timeline if e.type == "taken_back")
        assert taken_back.at < stuck.pick_by
        assert "DC-LYON will likely not hand" in taken_back.summary
        assert state.view.promised_by == promised  # moved in time to keep the date
        assert state.view.reroutes == 1
        await watch.terminate("test over")
        await handle.terminate("test over")
        await keep_history(ts_env.client, handle.id, "order-late-handover-moved")
        await keep_history(ts_env.client, watch.id, "field-watch")


async def test_a_shipment_within_its_nodes_usual_lead_time_is_not_at_risk(engine):
    now = datetime.now().astimezone()
    a_node_that_hands_over_in(engine, "DC-LYON", 2.0, now)
    started = now - timedelta(hours=1)
    at_risk = now - timedelta(hours=5)
    rows = [
        dict(
            shipment_id=sid,
            order_id=f"O-{sid}",
            node_id="DC-LYON",
            kind=SHIP,
            status="released",
            carrier_id="DPD",
            service_id="DPD-STD",
            distance_km=10.0,
            released_at=at,
            started_at=at,
            ship_by=now + timedelta(hours=3),
            handed_over_at=None,
            delivered_at=None,
        )
        for sid, at in (("S-ON-TIME", started), ("S-STUCK", at_risk))
    ]
    with unit_of_work(engine) as session:
        record_outcomes(session, rows)
    found = FieldWatchActivities(engine).find_late_handovers(FindLateHandoversInput(now=now))
    assert [late.shipment_id for late in found.shipments] == ["S-STUCK"]
    assert found.shipments[0].chance == 0.0


async def test_an_order_told_of_a_late_handover_keeps_it_when_nothing_else_keeps_the_date(
    ts_env: WorkflowEnvironment, task_queue: str, engine
):
    # Only Lyon has SKU-2: moving the shipment would not keep any date, so it stays.
    now = await ts_env.get_current_time()
    a_node_that_hands_over_in(engine, "DC-LYON", 2.0, now)
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(ts_env.client, task_queue, engine):
        handle, shipment, watch = await released_and_watched(ts_env, task_queue, oid, "SKU-2", now)
        await ts_env.sleep(four_hours_into(shipment) - now)
        state = await wait_for(handle, lambda s: any(e.type == "at_risk" for e in s.timeline))
        assert len(state.view.shipments) == 1 and state.view.shipments[0].status == "released"
        note = next(e for e in state.timeline if e.type == "at_risk")
        assert "it stays" in note.summary
        await watch.terminate("test over")
        await handle.terminate("test over")
