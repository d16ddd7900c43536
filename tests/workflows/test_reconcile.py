"""An order ended from outside the OMS leaks no stock: the reconciliation gives back what
its workflow left behind, once, and never touches an order that still runs."""

import asyncio
import uuid
from datetime import UTC, datetime

from temporalio.client import Client

from activities.reconcile import reconcile_now
from db import ledger, transfers
from db.engine import unit_of_work
from db.reports import reconciled_orders
from db.tables import CapacityBookingRow, CarrierBookingRow, OrderRow, SupplyRow
from domain.order import OrderStatus
from domain.transfer import TransferPlan
from tests.networks import order_body
from tests.workflows.test_order_workflow import released, start, wait_for
from worker.main import build_worker
from workflows.contracts import transfer_workflow_id
from workflows.transfer import TransferWorkflow


def held(engine) -> dict[str, int]:
    with unit_of_work(engine) as session:
        return {p.node_id: p.reserved for p in ledger.positions(session, "SKU-1")}


async def test_a_terminated_order_is_given_back_once_and_marked_failed(
    client: Client, task_queue: str, engine
):
    async with build_worker(client, task_queue, engine):
        oid, handle, sid = await released(client, task_queue, [("SKU-1", 2)])
        await handle.terminate("stopped by hand")  # no chance to clean up
        assert held(engine)["DC-LYON"] == 2

        looked = await reconcile_now(client, task_queue, fix=False)
        assert [x.order_id for x in looked.leftovers] == [oid] and not looked.fixed
        assert held(engine)["DC-LYON"] == 2  # looking changes nothing

        report = await reconcile_now(client, task_queue, fix=True)
        [leftover] = report.leftovers
        assert (leftover.order_id, leftover.workflow) == (oid, "terminated")
        assert leftover.units_released == 2
        assert leftover.slots_released == [sid] and leftover.bookings_cancelled == [sid]

        again = await reconcile_now(client, task_queue, fix=True)
        assert again.leftovers == []  # nothing left: the second run changes nothing

    assert held(engine)["DC-LYON"] == 0
    with unit_of_work(engine) as session:
        assert ledger.balance_problems(session) == []
        row = session.get(OrderRow, oid)
        assert row is not None and row.status == "failed"
        assert "its workflow ended (terminated)" in row.timeline[-1]["summary"]
        slot = session.get(CapacityBookingRow, sid)
        assert slot is not None and slot.status == "released"
        booking = session.get(CarrierBookingRow, sid)
        assert booking is not None and booking.status == "cancelled"
        assert reconciled_orders(session) == 1  # the metric oms_reconciled_orders


async def test_orders_in_flight_are_never_touched(client: Client, task_queue: str, engine):
    async with build_worker(client, task_queue, engine):
        handles = [
            await start(client, task_queue, order_body(f"R-{uuid.uuid4().hex[:6]}", [("SKU-1", 1)]))
            for _ in range(12)
        ]
        await asyncio.gather(
            *(wait_for(h, lambda s: s.view.status == OrderStatus.RELEASED) for h in handles)
        )
        before = held(engine)
        report = await reconcile_now(client, task_queue, fix=True)
        assert report.leftovers == [] and report.running >= 12
        assert held(engine) == before
        for handle in handles:
            state = await handle.query("state")
            assert state["view"]["status"] == "released"
            await handle.terminate("test over")


async def test_a_running_order_that_holds_nothing_is_reported(
    client: Client, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue, engine):
        handle = await start(client, task_queue, order_body(oid, [("SKU-1", 1)]))
        await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        with unit_of_work(engine) as session:  # its hold goes behind its back
            ledger.release(session, oid, datetime.now(UTC))
        report = await reconcile_now(client, task_queue, fix=False)
        assert oid in report.running_without_holds
        assert oid not in [x.order_id for x in report.leftovers]
        await handle.terminate("test over")


async def test_a_transfer_ended_from_outside_gives_its_units_back_to_the_source(
    client: Client, task_queue: str, engine
):
    plan = TransferPlan(
        transfer_id=f"T-R-{uuid.uuid4().hex[:6]}",
        source_node_id="DC-PARIS",
        destination_node_id="STORE-LILLE",
        lines=[("SKU-1", 5)],
    )
    async with build_worker(client, task_queue, engine):
        handle = await client.start_workflow(
            TransferWorkflow.run,
            plan,
            id=transfer_workflow_id(plan.transfer_id),
            task_queue=task_queue,
        )
        for _ in range(200):
            if held(engine).get("DC-PARIS") == 5:
                break
            await asyncio.sleep(0.05)
        await handle.terminate("stopped by hand")

        report = await reconcile_now(client, task_queue, fix=True)

        assert report.transfers_given_back == [plan.transfer_id]
        assert report.leftovers == []  # a transfer is not an order
        again = await reconcile_now(client, task_queue, fix=True)
        assert again.transfers_given_back == []

    assert held(engine)["DC-PARIS"] == 0
    with unit_of_work(engine) as session:
        found = transfers.read(session, plan.transfer_id)
        assert found is not None and found[0].status == "cancelled"
        line = session.get(SupplyRow, f"{plan.transfer_id}.0")
        assert line is not None and line.status == "cancelled"
