"""The order workflow on the real Temporal dev server, with the real ledger (SQLite)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError

from activities.notifications import Notification, NotificationActivities
from db import ledger
from db.engine import unit_of_work
from db.tables import CarrierBookingRow, OrderRow, OutboxRow
from domain.field_events import CarrierEvent, CarrierEventSignal, NodeEvent, NodeEventSignal
from domain.order import OrderStatus, PlaceOrder
from tests.histories import keep_history
from tests.networks import day, order_body
from worker.main import build_worker
from workflows.order import OrderWorkflow
from workflows.order_messages import CancelInput, OrderInput, OrderState


async def start(client: Client, task_queue: str, body: dict):
    order = PlaceOrder.model_validate(body)
    return await client.start_workflow(
        OrderWorkflow.run,
        OrderInput(order=order, placed_at=datetime.now(UTC), fingerprint="test"),
        id=f"order-{order.order_id}",
        task_queue=task_queue,
    )


async def wait_for(handle, predicate, tries: int = 200) -> OrderState:
    for _ in range(tries):
        state = await handle.query(OrderWorkflow.state)
        if predicate(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition never met; last status {state.view.status}")


async def released(client: Client, task_queue: str, lines: list[tuple[str, int]]):
    """An order placed and released: its id, its workflow handle, its first shipment's id
    (within a running worker)."""
    oid = f"A-{uuid.uuid4().hex[:6]}"
    handle = await start(client, task_queue, order_body(oid, lines))
    state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
    return oid, handle, state.view.shipments[0].shipment_id


def node_event(node_id: str, kind: str, order_id: str, shipment_id: str, lines=()):
    return NodeEventSignal(
        node_id=node_id,
        event=NodeEvent(
            event_id=uuid.uuid4().hex,
            type=kind,
            order_id=order_id,
            shipment_id=shipment_id,
            lines=[{"line_id": lid, "qty": q} for lid, q in lines],
        ),
        received_at=datetime.now(UTC),
    )


def carrier_event(carrier_id: str, kind: str, shipment_id: str, at: datetime):
    return CarrierEventSignal(
        carrier_id=carrier_id,
        event=CarrierEvent(event_id=uuid.uuid4().hex, type=kind, shipment_id=shipment_id, at=at),
        received_at=datetime.now(UTC),
    )


async def test_order_goes_from_placed_to_delivered_on_time_and_in_full(
    client: Client, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue, engine):
        handle = await start(client, task_queue, order_body(oid, [("SKU-1", 2)]))
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        [shipment] = state.view.shipments
        # Lyon customer, stock in Lyon and Paris: the nearest DC serves.
        assert shipment.node_id == "DC-LYON"
        # Promised for the 24th: the cheapest service that still makes it.
        assert shipment.tracking and shipment.carrier_id == "COLISSIMO"
        with unit_of_work(engine) as session:
            lyon = {p.node_id: p for p in ledger.positions(session, "SKU-1")}["DC-LYON"]
            assert (lyon.on_hand, lyon.reserved) == (30, 2)

        sid = shipment.shipment_id
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "picked", oid, sid))
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "shipped", oid, sid))
        await wait_for(handle, lambda s: s.view.status == OrderStatus.SHIPPED)
        delivered_at = datetime.now(UTC)  # a carrier reports what has happened
        await handle.signal(
            OrderWorkflow.carrier_event, carrier_event("COLISSIMO", "delivered", sid, delivered_at)
        )
        final = await handle.result()
        state = await handle.query(OrderWorkflow.state)
        await keep_history(client, handle.id, "order-delivered")

    assert final.status == OrderStatus.DELIVERED
    assert final.otif and final.otif.on_time and final.otif.in_full
    with unit_of_work(engine) as session:
        lyon = {p.node_id: p for p in ledger.positions(session, "SKU-1")}["DC-LYON"]
        assert (lyon.on_hand, lyon.reserved) == (28, 0)
        assert ledger.balance_problems(session) == []
        row = session.get(OrderRow, oid)
        assert row is not None and row.status == "delivered" and row.on_time and row.in_full
        topics = [r.topic for r in session.exec(select(OutboxRow).where(OutboxRow.order_id == oid))]
        assert {
            "order_received",
            "release_for_picking",
            "order_confirmed",
            "shipment_shipped",
            "order_delivered",
        } <= set(topics)
        assert all(
            r.status == "sent"
            for r in session.exec(select(OutboxRow).where(OutboxRow.order_id == oid))
        )
    types = [e.type for e in state.timeline]
    for step in [
        "placed",
        "sourced",
        "reserved",
        "booked",
        "released",
        "picked",
        "shipped",
        "delivered",
        "order_delivered",
        "notified",
    ]:
        assert step in types


async def test_cancel_before_shipping_gives_stock_back_and_cancels_booking(
    client: Client, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue, engine):
        handle = await start(client, task_queue, order_body(oid, [("SKU-1", 3)]))
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        result = await handle.execute_update(
            OrderWorkflow.cancel, CancelInput(reason="changed mind")
        )
        assert result.cancelled
        final = await handle.result()
        await keep_history(client, handle.id, "order-cancelled")
    assert final.status == OrderStatus.CANCELLED
    sid = state.view.shipments[0].shipment_id
    with unit_of_work(engine) as session:
        assert all(p.reserved == 0 for p in ledger.positions(session, "SKU-1"))
        row = session.get(CarrierBookingRow, sid)
        assert row is not None and row.status == "cancelled"
        assert ledger.balance_problems(session) == []


async def test_cancel_after_shipping_is_refused(client: Client, task_queue: str, engine):
    async with build_worker(client, task_queue, engine):
        oid, handle, sid = await released(client, task_queue, [("SKU-1", 1)])
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "shipped", oid, sid))
        await wait_for(handle, lambda s: s.view.status == OrderStatus.SHIPPED)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(OrderWorkflow.cancel, CancelInput())
        state = await handle.query(OrderWorkflow.state)
        assert state.view.status == OrderStatus.SHIPPED
        await handle.terminate("test over")
        await keep_history(client, handle.id, "order-cancel-refused")


async def test_support_finds_orders_by_status_customer_and_node(
    client: Client, task_queue: str, engine
):
    oid = f"A-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue, engine):
        handle = await start(client, task_queue, order_body(oid, [("SKU-1", 1)]))
        await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
        query = (
            f'OrderStatus="released" AND CustomerId="C-{oid}" AND OrderNodes="DC-LYON" '
            f'AND PromisedBy < "{day(1)}T00:00:00Z"'
        )
        found: list[str] = []
        for _ in range(100):  # visibility is eventually consistent
            found = [wf.id async for wf in client.list_workflows(query)]
            if found:
                break
            await asyncio.sleep(0.1)
        assert found == [f"order-{oid}"]
        await handle.terminate("test over")


class Switchable:
    """The customer-messaging system, down until switched back on."""

    def __init__(self) -> None:
        self.up = False
        self.received: list[str] = []

    def send(self, notification: Notification) -> None:
        if not self.up:
            raise ConnectionError("messaging system down")
        self.received.append(notification.key)


async def test_an_order_closes_while_the_messaging_system_is_down_and_is_told_later(
    client: Client, task_queue: str, engine
):
    messaging = Switchable()
    async with build_worker(client, task_queue, engine, sinks=[messaging]):
        oid, handle, sid = await released(client, task_queue, [("SKU-1", 1)])
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "shipped", oid, sid))
        delivered_at = datetime.now(UTC)  # a carrier reports what has happened
        await handle.signal(
            OrderWorkflow.carrier_event, carrier_event("COLISSIMO", "delivered", sid, delivered_at)
        )
        final = await asyncio.wait_for(handle.result(), timeout=30)  # not two days
    assert final.status == OrderStatus.DELIVERED and messaging.received == []
    with unit_of_work(engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.order_id == oid)).all()
    assert rows and all(row.status == "pending" for row in rows)
    topics = {row.topic for row in rows}
    assert {"order_received", "order_confirmed", "order_delivered"} <= topics

    # The messaging system is back: the outbox delivers every notification, once, on its own.
    messaging.up = True
    relay = NotificationActivities(engine, [messaging])
    later = max(row.next_attempt_at for row in rows if row.next_attempt_at)
    assert relay.resend_due(later) == len(rows)
    assert sorted(messaging.received) == sorted(row.key for row in rows)
    assert relay.resend_due(later + timedelta(hours=1)) == 0


async def test_a_cancel_from_the_order_engine_before_shipping_is_a_business_cancel(
    client: Client, task_queue: str, engine
):
    async with build_worker(client, task_queue, engine):
        oid, handle, sid = await released(client, task_queue, [("SKU-1", 2)])
        await handle.cancel()  # what "Request Cancellation" in the Web UI does
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
        assert isinstance(ended.value.cause, CancelledError)
        state = await handle.query(OrderWorkflow.state)
    assert state.view.status == OrderStatus.CANCELLED
    assert "Cancellation asked by an operator: cancelled in the order engine" in [
        e.summary for e in state.timeline
    ]
    with unit_of_work(engine) as session:
        assert all(p.reserved == 0 for p in ledger.positions(session, "SKU-1"))
        assert ledger.balance_problems(session) == []
        booking = session.get(CarrierBookingRow, sid)
        assert booking is not None and booking.status == "cancelled"
        row = session.get(OrderRow, oid)
        assert row is not None and row.status == "cancelled"
        told = {(r.recipient, r.topic) for r in outbox_rows(session, oid)}
    cancelled = {("node", "cancel_picking"), ("customer", "order_cancelled")}
    assert cancelled | {("carrier", "booking_cancelled")} <= told


async def test_a_cancel_from_the_order_engine_after_shipping_is_refused_and_the_order_ends(
    client: Client, task_queue: str, engine
):
    async with build_worker(client, task_queue, engine):
        oid, handle, sid = await released(client, task_queue, [("SKU-1", 1)])
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "shipped", oid, sid))
        await wait_for(handle, lambda s: s.view.status == OrderStatus.SHIPPED)
        await handle.cancel()
        state = await wait_for(handle, lambda s: s.timeline[-1].type == "cancel_refused")
        assert state.view.status == OrderStatus.SHIPPED
        delivered_at = datetime.now(UTC)  # a carrier reports what has happened
        await handle.signal(
            OrderWorkflow.carrier_event, carrier_event("COLISSIMO", "delivered", sid, delivered_at)
        )
        final = await handle.result()
    assert final.status == OrderStatus.DELIVERED and final.otif and final.otif.in_full
    with unit_of_work(engine) as session:
        assert ledger.balance_problems(session) == []


def outbox_rows(session, order_id: str) -> list[OutboxRow]:
    return list(session.exec(select(OutboxRow).where(OutboxRow.order_id == order_id)))


def task_failures(history) -> list:
    return [e for e in history.events if e.HasField("workflow_task_failed_event_attributes")]


async def test_a_carrier_event_dated_when_it_cannot_have_happened_is_noted_and_ignored(
    client: Client, task_queue: str, engine
):
    """Signalled past the API (which refuses them): the order goes on, its task never fails."""
    async with build_worker(client, task_queue, engine):
        oid, handle, sid = await released(client, task_queue, [("SKU-1", 1)])
        await handle.signal(OrderWorkflow.node_event, node_event("DC-LYON", "shipped", oid, sid))
        state = await wait_for(handle, lambda s: s.view.status == OrderStatus.SHIPPED)
        placed, carrier = state.view.placed_at, state.view.shipments[0].carrier_id
        assert carrier is not None
        later = datetime.now(UTC) + timedelta(days=30)
        next_month = carrier_event(carrier, "delivered", sid, later)
        before_the_order = carrier_event(carrier, "delivered", sid, placed - timedelta(days=2))
        # Outside the years any plan holds, it cannot even be read as a carrier event: the
        # SDK drops the signal (and logs it) rather than fail the order's task.
        end_of_time = next_month.model_copy(
            update={
                "event": CarrierEvent.model_construct(
                    event_id=uuid.uuid4().hex,
                    type="delivered",
                    shipment_id=sid,
                    at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
                    reason=None,
                )
            }
        )
        for bad in (next_month, before_the_order, end_of_time):
            await handle.signal(OrderWorkflow.carrier_event, bad)
        state = await wait_for(
            handle, lambda s: [e.type for e in s.timeline].count("event_ignored") == 2
        )
        ignored = [e.summary for e in state.timeline if e.type == "event_ignored"]
        assert "has not happened yet" in ignored[0]
        assert "more than a day before the order was placed" in ignored[1]
        assert state.view.status == OrderStatus.SHIPPED
        assert state.view.shipments[0].delivered_at is None
        # The carrier's corrected event, under the same id, is heard.
        corrected = next_month.model_copy(
            update={"event": next_month.event.model_copy(update={"at": datetime.now(UTC)})}
        )
        await handle.signal(OrderWorkflow.carrier_event, corrected)
        final = await handle.result()
        history = await handle.fetch_history()
        await keep_history(client, handle.id, "order-carrier-time-ignored")
    assert final.status == OrderStatus.DELIVERED and final.otif and final.otif.on_time
    assert task_failures(history) == []
