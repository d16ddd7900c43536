"""One node_closed incident touches 200 orders in flight: each ends rerouted or in the
exception queue, none lost and none holding stock twice; a larger one than a page is told
a page at a time over runs that continue as new (real Temporal, PostgreSQL)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from api.routes.incidents import incident_history
from db import ledger
from db.engine import make_engine, unit_of_work
from db.incidents import record
from db.network import load_network
from db.tables import CarrierBookingRow, ReservationRow
from domain.incidents import Incident
from domain.network import NetworkDocument
from domain.order import OrderStatus
from tests.histories import keep_history
from tests.networks import order_body, small_network
from tests.workflows.test_order_workflow import start
from worker.main import build_worker
from workflows.incident import IncidentWorkflow
from workflows.incident_messages import IncidentInput
from workflows.order import OrderWorkflow
from workflows.order_messages import OrderState

pytestmark = pytest.mark.postgres

ORDERS = 200


async def settle(handles, done, tries: int = 1200):
    states = []
    for handle in handles:
        for _ in range(tries):
            state = await handle.query(OrderWorkflow.state)
            if done(state):
                break
            await asyncio.sleep(0.05)
        states.append(state)
    return states


async def test_a_node_closure_reroutes_two_hundred_orders(client: Client, task_queue, pg_url):
    engine = make_engine(pg_url)
    network = small_network({("SKU-X", "DC-LYON"): ORDERS, ("SKU-X", "DC-PARIS"): 150})
    network["skus"].append({"sku": "SKU-X", "name": "Advent calendar", "weight_kg": 0.5})
    network["nodes"][1]["pick_capacity_per_day"] = 10_000
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(network))
    run = uuid.uuid4().hex[:5]
    ids = [f"F{run}-{n}" for n in range(ORDERS)]

    async with build_worker(client, task_queue, engine, max_activity_threads=16):
        handles = await asyncio.gather(
            *(start(client, task_queue, order_body(oid, [("SKU-X", 1)])) for oid in ids)
        )
        states = await settle(handles, lambda s: s.view.status == OrderStatus.RELEASED)
        assert all(s.view.shipments[0].node_id == "DC-LYON" for s in states)

        today = datetime.now(UTC).date()
        closure = Incident.model_validate(
            {
                "incident_id": f"CLOSE-{run}",
                "type": "node_closed",
                "node_id": "DC-LYON",
                "from": today.isoformat(),
                "to": (today + timedelta(days=14)).isoformat(),
            }
        )
        with unit_of_work(engine) as session:
            record(session, closure)
        report = await client.execute_workflow(
            IncidentWorkflow.run,
            IncidentInput(incident=closure),
            id=f"incident-{closure.incident_id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        states = await settle(
            handles,
            lambda s: (
                s.view.status in (OrderStatus.RELEASED, OrderStatus.EXCEPTION)
                and len(s.view.shipments) >= 1
                and s.view.shipments[0].status == "cancelled"
            ),
        )
        for handle in handles:
            await handle.terminate("test over")

    outcomes = {o.order_id: o.outcome for o in report.outcomes}
    assert sorted(report.touched) == sorted(ids)
    assert len(outcomes) == ORDERS  # every order answered: none lost
    assert sorted(set(outcomes.values())) == ["exception", "rerouted"]
    assert list(outcomes.values()).count("rerouted") == 150  # all Paris could take

    by_status: dict[str, list[OrderState]] = {}
    for state in states:
        by_status.setdefault(state.view.status, []).append(state)
    assert len(by_status[OrderStatus.RELEASED]) == 150
    assert len(by_status[OrderStatus.EXCEPTION]) == 50
    for state in by_status[OrderStatus.RELEASED]:
        assert [s.node_id for s in state.view.shipments] == ["DC-LYON", "DC-PARIS"]
        assert outcomes[state.view.order_id] == "rerouted"

    with unit_of_work(engine) as session:
        stock = {p.node_id: p for p in ledger.positions(session, "SKU-X")}
        assert (stock["DC-LYON"].reserved, stock["DC-PARIS"].reserved) == (0, 150)
        assert ledger.balance_problems(session) == []
        holds = session.exec(select(ReservationRow).where(ReservationRow.status == "held"))
        per_order: dict[str, int] = {}
        for hold in holds:
            per_order[hold.order_id] = per_order.get(hold.order_id, 0) + hold.qty
        assert all(qty == 1 for qty in per_order.values())  # nobody holds stock twice
        live = session.exec(select(CarrierBookingRow).where(CarrierBookingRow.status == "booked"))
        booked: dict[str, int] = {}
        for booking in live:
            order_id = booking.shipment_id.rsplit("-S", 1)[0]
            booked[order_id] = booked.get(order_id, 0) + 1
        assert all(n == 1 for n in booked.values()) and len(booked) == 150
    engine.dispose()


PAGED_ORDERS = 45
PAGE = 8  # orders per page: six pages
EVENTS_PER_RUN = 60  # a run continues as new once its history is this long


async def runs_of(client: Client, workflow_id: str, first_run_id: str | None) -> list[list]:
    """The events of each run of a workflow, first to last, following its continue-as-new chain."""
    runs, run_id = [], first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(list(history.events))
        last = history.events[-1]
        continued = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            continued.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    return runs


async def test_a_large_incident_is_told_a_page_at_a_time_over_runs_of_bounded_history(
    client: Client, task_queue, pg_url
):
    engine = make_engine(pg_url)
    network = small_network(
        {("SKU-X", "DC-LYON"): PAGED_ORDERS, ("SKU-X", "DC-PARIS"): PAGED_ORDERS}
    )
    network["skus"].append({"sku": "SKU-X", "name": "Advent calendar", "weight_kg": 0.5})
    network["nodes"][1]["pick_capacity_per_day"] = 10_000
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(network))
    run = uuid.uuid4().hex[:5]
    ids = [f"P{run}-{n:02}" for n in range(PAGED_ORDERS)]

    async with build_worker(client, task_queue, engine, max_activity_threads=16):
        handles = await asyncio.gather(
            *(start(client, task_queue, order_body(oid, [("SKU-X", 1)])) for oid in ids)
        )
        await settle(handles, lambda s: s.view.status == OrderStatus.RELEASED)
        today = datetime.now(UTC).date()
        closure = Incident.model_validate(
            {
                "incident_id": f"CLOSE-{run}",
                "type": "node_closed",
                "node_id": "DC-LYON",
                "from": today.isoformat(),
                "to": (today + timedelta(days=14)).isoformat(),
            }
        )
        with unit_of_work(engine) as session:
            record(session, closure)
        incident = await client.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(incident=closure, page_size=PAGE, events_per_run=EVENTS_PER_RUN),
            id=f"incident-{closure.incident_id}",
            task_queue=task_queue,
        )
        await incident.result()
        states = await settle(
            handles,
            lambda s: len(s.view.shipments) == 2 and s.view.shipments[0].status == "cancelled",
        )
        latest = client.get_workflow_handle(incident.id)
        report = await latest.query(IncidentWorkflow.report)
        with unit_of_work(engine) as session:
            view = await incident_history(closure.incident_id, session, client)
        for handle in handles:
            await handle.terminate("test over")

    # Every order was reached, each once: its Lyon shipment taken back, one from Paris.
    for state in states:
        assert [(s.node_id, s.status) for s in state.view.shipments] == [
            ("DC-LYON", "cancelled"),
            ("DC-PARIS", "released"),
        ]
    # Continued as new, every run's history bounded by the threshold and one page.
    runs = await runs_of(client, incident.id, incident.first_execution_run_id)
    assert (await latest.describe()).run_id != incident.first_execution_run_id
    assert len(runs) >= PAGED_ORDERS // PAGE
    assert max(len(events) for events in runs) <= EVENTS_PER_RUN + 12 * PAGE
    # The report over every run: all the orders touched and what became of each.
    assert view.status == "handled"
    assert view.touched == sorted(ids)
    assert {o.order_id: o.outcome for o in view.outcomes} == dict.fromkeys(ids, "rerouted")
    assert (report.in_database, report.touched_count, report.answered_count) == (
        True,
        PAGED_ORDERS,
        PAGED_ORDERS,
    )
    assert report.timeline[0].summary.startswith("Received")
    assert report.timeline[-1].summary == "Handled"
    await keep_history(client, incident.id, "incident-paged", incident.first_execution_run_id)
    engine.dispose()
