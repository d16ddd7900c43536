"""Orders: checkout places them; support and checkout read, follow and cancel them."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio.client import Client

from api import checkout, order_gateway
from api.deps import (
    CallerDep,
    Checkout,
    NowDep,
    Operator,
    SessionDep,
    SettingsDep,
    Support,
    TemporalDep,
)
from api.paging import cursor_after, read_cursor
from db import orders as read_model
from domain.errors import Forbidden, NotFound
from domain.ids import Id
from domain.order import OrderStatus, OrderView, PlaceOrder, TimelineEntry
from domain.partners import Caller
from workflows.order_messages import CancelInput, ResolveInput

router = APIRouter(prefix="/v1/orders", tags=["orders"])


class OrderAccepted(BaseModel):
    order_id: str
    status: OrderStatus
    links: dict[str, str]


class OrderHistory(BaseModel):
    order_id: str
    status: OrderStatus
    events: list[TimelineEntry]


class OrderList(BaseModel):
    orders: list[OrderView]
    limit: int
    next_cursor: str | None  # pass as `cursor` for the next page; None: no more


class CancelRequest(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "customer request"


class CancelAnswer(BaseModel):
    order_id: str
    cancelled: bool
    status: OrderStatus
    detail: str


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=OrderAccepted, dependencies=[Checkout]
)
async def place_order(
    order: PlaceOrder,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    now: NowDep,
) -> OrderAccepted:
    """Place an order: its workflow starts; the same body sent again returns the same order.
    A checkout key bound to a sales channel places that channel's orders only."""
    if not caller.sees_channel(order.channel):
        raise Forbidden(f"this checkout key places {caller.channel} orders, not {order.channel}")
    order = checkout.order_to_place(
        session, order, settings.option_key, settings.default_timezone, now
    )
    await order_gateway.place(client, settings, order, now)
    written = read_model.order_status(session, order.order_id)
    return OrderAccepted(
        order_id=order.order_id,
        status=OrderStatus(written) if written else OrderStatus.PLACED,
        links=_links(order.order_id),
    )


@router.get("", response_model=OrderList, dependencies=[Support])
def list_orders(
    session: SessionDep,
    caller: CallerDep,
    status: OrderStatus | None = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OrderList:
    """List orders from the read model, newest first, a page at a time (`next_cursor`);
    a checkout key bound to a channel lists that channel's."""
    rows = read_model.list_orders(
        session,
        status.value if status else None,
        customer_id,
        limit,
        read_cursor(cursor),
        channel=caller.channel,
    )
    last = rows[-1] if len(rows) == limit else None
    return OrderList(
        orders=[OrderView.model_validate(row.view) for row in rows],
        limit=limit,
        next_cursor=cursor_after(last.placed_at, last.order_id) if last else None,
    )


@router.get("/{order_id}", response_model=OrderView, dependencies=[Support])
async def get_order(
    order_id: Id, caller: CallerDep, session: SessionDep, client: TemporalDep
) -> OrderView:
    """The order as its workflow sees it now (the read model if the workflow is gone)."""
    live = await order_gateway.state(client, order_id)
    view = live.view if live is not None else read_model.order_view(session, order_id)
    if view is None or not caller.sees_channel(view.channel):
        raise NotFound(f"no order {order_id}")
    return view


@router.get("/{order_id}/history", response_model=OrderHistory, dependencies=[Support])
async def order_history(
    order_id: Id, caller: CallerDep, session: SessionDep, client: TemporalDep
) -> OrderHistory:
    """Everything that happened to the order, oldest first, in a support agent's words."""
    live = await order_gateway.state(client, order_id)
    if live is not None and caller.sees_channel(live.view.channel):
        return OrderHistory(order_id=order_id, status=live.view.status, events=live.timeline)
    row = read_model.get_order(session, order_id) if live is None else None
    if row is None or not caller.sees_channel(row.channel):
        raise NotFound(f"no order {order_id}")
    return OrderHistory(
        order_id=order_id,
        status=OrderStatus(row.status),
        events=[TimelineEntry.model_validate(e) for e in row.timeline],
    )


@router.post("/{order_id}/cancel", response_model=CancelAnswer, dependencies=[Support])
async def cancel_order(
    order_id: Id,
    caller: CallerDep,
    session: SessionDep,
    client: TemporalDep,
    request: CancelRequest | None = None,
) -> CancelAnswer:
    """Cancel an order not yet shipped: stock, bookings and nodes are released (409 if late).
    A checkout key bound to a channel cancels that channel's orders only."""
    await _own_channel(caller, order_id, session, client)
    reason = request.reason if request else "customer request"
    result = await order_gateway.cancel(client, order_id, CancelInput(reason=reason))
    return CancelAnswer(order_id=order_id, **result.model_dump())


class Decision(BaseModel):
    action: Literal["accept_partial", "retry"]
    note: Annotated[str, Field(max_length=200)] = ""


class DecisionAnswer(BaseModel):
    order_id: str
    status: OrderStatus
    detail: str


@router.post("/{order_id}/resolve", response_model=DecisionAnswer, dependencies=[Operator])
async def resolve_exception(
    order_id: Id, decision: Decision, client: TemporalDep
) -> DecisionAnswer:
    """Support's decision for an order in the exception queue: accept a partial delivery,
    or try sourcing again (when stock came back). Cancelling is POST .../cancel."""
    result = await order_gateway.resolve(
        client, order_id, ResolveInput(action=decision.action, note=decision.note)
    )
    return DecisionAnswer(order_id=order_id, status=result.status, detail=result.detail)


async def _own_channel(caller: Caller, order_id: str, session: Session, client: Client) -> None:
    """An order of another channel does not exist for a channel's checkout (404): it
    learns nothing of other channels' orders. Other callers pay no lookup."""
    if caller.channel is None:
        return
    view = read_model.order_view(session, order_id)
    if view is None:  # placed a moment ago: the read model may not have it yet
        live = await order_gateway.state(client, order_id)
        view = live.view if live is not None else None
    if view is None or not caller.sees_channel(view.channel):
        raise NotFound(f"no order {order_id}")


def _links(order_id: str) -> dict[str, str]:
    base = f"/v1/orders/{order_id}"
    return {"self": base, "history": f"{base}/history", "cancel": f"{base}/cancel"}
