"""Talking to order workflows: start one per order, read its state, signal, update."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from domain.errors import NotFound, OrderConflict, Unavailable
from domain.local_time import LocalTime
from domain.order import OrderStatus, OrderView, PlaceOrder
from workflows import search_attributes as sa
from workflows.contracts import (
    ORDER_STATE,
    ORDER_WORKFLOW,
    OrderSignal,
    OrderUpdate,
    order_workflow_id,
)
from workflows.order_messages import (
    CancelInput,
    CancelResult,
    OrderInput,
    OrderState,
    ResolveInput,
    ResolveResult,
)

QUERY_TIMEOUT = timedelta(seconds=10)
T = TypeVar("T")


def fingerprint(order: PlaceOrder) -> str:
    canonical = json.dumps(order.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def place(client: Client, settings: Settings, order: PlaceOrder, now: datetime) -> None:
    """Start the order's workflow; a retry of the same body finds the one already started.

    A different body under the same order id is refused (409).
    """
    print_ = fingerprint(order)
    wf_id = order_workflow_id(order.order_id)
    attributes: list[SearchAttributePair] = [
        SearchAttributePair(sa.ORDER_STATUS, "placed"),
        SearchAttributePair(sa.CUSTOMER_ID, order.customer.id),
    ]
    if order.delivery.promised_by:
        attributes.append(
            SearchAttributePair(sa.PROMISED_BY, sa.promised_by(order.delivery.promised_by))
        )
    try:
        handle = await client.start_workflow(
            ORDER_WORKFLOW,
            OrderInput(
                order=order,
                placed_at=now,
                fingerprint=print_,
                timezone=settings.default_timezone,
                local_time=LocalTime.of(settings.default_timezone, now),
            ),
            id=wf_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(attributes),
            memo={"fingerprint": print_},
            result_type=OrderView,
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(wf_id)  # closed already: the order exists
    description = await handle.describe()
    if await description.memo_value("fingerprint", default=None) != print_:
        raise OrderConflict(f"order {order.order_id} already exists with a different body")


async def state(client: Client, order_id: str) -> OrderState | None:
    """The order's live state from its workflow, or None if there is no such order."""
    handle: WorkflowHandle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        return await handle.query(ORDER_STATE, result_type=OrderState, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise _unavailable(exc) from exc
    except WorkflowQueryFailedError as exc:
        raise Unavailable(f"order state unavailable: {exc}") from exc


async def cancel(client: Client, order_id: str, request: CancelInput) -> CancelResult:
    try:
        return await _update(client, order_id, OrderUpdate.CANCEL, request, CancelResult)
    except _Closed as closed:
        if closed.state.view.status == OrderStatus.CANCELLED:
            return CancelResult(cancelled=True, status=OrderStatus.CANCELLED, detail="cancelled")
        raise OrderConflict(
            f"order {order_id} is {closed.state.view.status.value}: too late to cancel"
        ) from closed


async def resolve(client: Client, order_id: str, request: ResolveInput) -> ResolveResult:
    try:
        return await _update(client, order_id, OrderUpdate.RESOLVE, request, ResolveResult)
    except _Closed as closed:
        raise OrderConflict(
            f"order {order_id} is {closed.state.view.status.value}, not waiting for a decision"
        ) from closed


class _Closed(Exception):
    def __init__(self, state: OrderState):
        self.state = state


async def _update(
    client: Client, order_id: str, update: OrderUpdate, request: Any, answer: type[T]
) -> T:
    """Run an update on the order; a refusal is a 409 with the workflow's reason."""
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        return await handle.execute_update(
            update, request, result_type=answer, rpc_timeout=timedelta(seconds=30)
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        detail = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise OrderConflict(detail) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise _unavailable(exc) from exc
        closed = await state(client, order_id)  # a finished order no longer takes updates
        if closed is None:
            raise NotFound(f"no order {order_id}") from exc
        raise _Closed(closed) from exc


async def signal(client: Client, order_id: str, name: OrderSignal, payload: Any) -> None:
    await signal_workflow(client, order_workflow_id(order_id), name, payload, f"order {order_id}")


async def signal_workflow(
    client: Client, workflow_id: str, name: str, payload: Any, what: str
) -> None:
    """Signal a running workflow; a closed or unknown one is a conflict (409), an engine
    that does not answer a 503."""
    try:
        await client.get_workflow_handle(workflow_id).signal(name, payload)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise OrderConflict(f"{what} is closed or unknown") from exc
        raise _unavailable(exc) from exc


def _unavailable(exc: RPCError) -> Unavailable:
    return Unavailable(f"order engine did not answer: {exc.message}")
