"""The activities the order workflow calls, each with how long it may take and how it is
retried: one place that says how an order talks to the ledger, the carriers, the
parties and the read model. Called from workflow code only."""

from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.carriers import (
        Booking,
        BookingRequest,
        CancelBookingInput,
        CarrierActivities,
    )
    from activities.inventory import (
        BookCapacityInput,
        BookCapacityResult,
        CommitStockInput,
        InventoryActivities,
        ReleaseCapacityInput,
        ReleaseStockInput,
        ReserveStockInput,
        ShipUnheldInput,
        ShipUnheldResult,
        SourceOrderInput,
        StockMovedResult,
        WriteOffShortPickInput,
    )
    from activities.notifications import Notification, NotificationActivities
    from activities.orders import OrderActivities, RecordOrderInput
    from activities.preorders import (
        HoldPreorderInput,
        PlanHeldInput,
        PlanPreorderInput,
        PreorderActivities,
        PreorderNewsInput,
    )
    from domain.errors import Refusal
    from domain.preorder import PreorderHeld, PreorderNews
    from domain.sourcing import SourcingPlan
    from workflows.patches import LOCAL_WRITES

# The ledger waits out a database outage; business refusals are final.
LEDGER_TIMEOUT = timedelta(seconds=30)
LEDGER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[
        Refusal.INSUFFICIENT_STOCK,
        Refusal.UNSOURCEABLE,
        Refusal.UNKNOWN_STORE,
        Refusal.NO_CAPACITY,
    ],
)
# Carrier APIs fail in bursts during peaks: back off up to a few minutes.
CARRIER_TIMEOUT = timedelta(seconds=30)
CARRIER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)
)
# At-least-once delivery: a receiver that refuses is the outbox's business (it tries again
# on its own); this retries only while the outbox itself cannot be written.
NOTIFY_TIMEOUT = timedelta(seconds=30)
NOTIFY_GIVE_UP = timedelta(days=2)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10)
)
READ_MODEL_TIMEOUT = timedelta(seconds=30)
READ_MODEL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))

# Notifications and read-model writes are short and frequent: they run as local
# activities, in the worker that runs the order, without a round trip through the server
# for each (a peak makes a dozen per order). Their keys make a rerun harmless.


async def source_order(input: SourceOrderInput) -> SourcingPlan:
    """The best plan on fresh figures, holding nothing (an ActivityError says why none)."""
    sourced = await workflow.execute_activity_method(
        InventoryActivities.source_order,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )
    return sourced.plan


async def reserve_stock(input: ReserveStockInput) -> None:
    await workflow.execute_activity_method(
        InventoryActivities.reserve_stock,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def release_stock(
    order_id: str, node_id: str | None = None, round: int | None = None
) -> StockMovedResult:
    """The order's holds go back to stock (a shipment's, or everywhere)."""
    return await workflow.execute_activity_method(
        InventoryActivities.release_stock,
        ReleaseStockInput(order_id=order_id, node_id=node_id, round=round),
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def plan_preorder(input: PlanPreorderInput) -> PreorderHeld:
    """What a pre-order would hold: on hand in stock, the rest on incoming supply."""
    return await workflow.execute_activity_method(
        PreorderActivities.plan_preorder,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def hold_preorder(input: HoldPreorderInput) -> None:
    """Hold a pre-order's plan, all or nothing."""
    await workflow.execute_activity_method(
        PreorderActivities.hold_preorder,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def preorder_news(input: PreorderNewsInput) -> PreorderNews:
    """The pre-order's holds on future stock as the ledger has them now."""
    return await workflow.execute_activity_method(
        PreorderActivities.preorder_news,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def plan_held(input: PlanHeldInput) -> SourcingPlan:
    """The shipments of a pre-order whose units have all arrived, on what it holds."""
    return await workflow.execute_activity_method(
        PreorderActivities.plan_held,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def commit_stock(order_id: str, node_id: str, round: int | None) -> StockMovedResult:
    """The units a shipment held at its node left it with the parcel."""
    return await workflow.execute_activity_method(
        InventoryActivities.commit_stock,
        CommitStockInput(order_id=order_id, node_id=node_id, round=round),
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def ship_unheld(input: ShipUnheldInput) -> ShipUnheldResult:
    return await workflow.execute_activity_method(
        InventoryActivities.ship_unheld,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def write_off_short_pick(input: WriteOffShortPickInput) -> StockMovedResult:
    return await workflow.execute_activity_method(
        InventoryActivities.write_off_short_pick,
        input,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def book_capacity(shipment_id: str, node_id: str, not_before: date) -> BookCapacityResult:
    """A picking slot at the node, on `not_before` or the first day after with room."""
    return await workflow.execute_activity_method(
        InventoryActivities.book_capacity,
        BookCapacityInput(shipment_id=shipment_id, node_id=node_id, not_before=not_before),
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def release_capacity(shipment_id: str) -> None:
    await workflow.execute_activity_method(
        InventoryActivities.release_capacity,
        ReleaseCapacityInput(shipment_id=shipment_id),
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=LEDGER_RETRY,
    )


async def book_carrier(request: BookingRequest) -> Booking:
    return await workflow.execute_activity_method(
        CarrierActivities.book_carrier,
        request,
        start_to_close_timeout=CARRIER_TIMEOUT,
        retry_policy=CARRIER_RETRY,
    )


async def cancel_booking(shipment_id: str, carrier_id: str) -> None:
    await workflow.execute_activity_method(
        CarrierActivities.cancel_booking,
        CancelBookingInput(shipment_id=shipment_id, carrier_id=carrier_id),
        start_to_close_timeout=CARRIER_TIMEOUT,
        retry_policy=CARRIER_RETRY,
    )


def notify(notification: Notification) -> Any:
    """Started in the background: the order goes on while the parties are told."""
    options: dict[str, Any] = {
        "start_to_close_timeout": NOTIFY_TIMEOUT,
        "schedule_to_close_timeout": NOTIFY_GIVE_UP,
        "retry_policy": NOTIFY_RETRY,
    }
    workflow.deprecate_patch(LOCAL_WRITES)
    return workflow.start_local_activity_method(
        NotificationActivities.notify, notification, **options
    )


def record_order(input: RecordOrderInput) -> Any:
    """Started in the background; awaited where a reader must see the write first."""
    options: dict[str, Any] = {
        "start_to_close_timeout": READ_MODEL_TIMEOUT,
        "retry_policy": READ_MODEL_RETRY,
    }
    workflow.deprecate_patch(LOCAL_WRITES)
    return workflow.start_local_activity_method(OrderActivities.record_order, input, **options)
