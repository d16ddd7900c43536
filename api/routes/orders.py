"""Orders: checkout places them; support and checkout read, follow and cancel them."""

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from api import order_gateway, promise_tokens
from api.deps import Checkout, NowDep, SessionDep, SettingsDep, Support, TemporalDep
from db import orders as read_model
from db.network import known_skus, read_node
from domain.order import OrderStatus, OrderView, PlaceOrder, TimelineEntry
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
    offset: int


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
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    now: NowDep,
) -> OrderAccepted:
    """Place an order: its workflow starts; the same body sent again returns the same order."""
    order = _hold_to_option(order, settings.signing_secret, now)
    _check_order(session, order, settings.default_timezone, now)
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
    status: OrderStatus | None = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OrderList:
    """List orders from the read model, newest first."""
    found = read_model.list_orders(
        session, status.value if status else None, customer_id, limit, offset
    )
    return OrderList(orders=found, limit=limit, offset=offset)


@router.get("/{order_id}", response_model=OrderView, dependencies=[Support])
async def get_order(order_id: str, session: SessionDep, client: TemporalDep) -> OrderView:
    """The order as its workflow sees it now (the read model if the workflow is gone)."""
    live = await order_gateway.state(client, order_id)
    if live is not None:
        return live.view
    view = read_model.order_view(session, order_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    return view


@router.get("/{order_id}/history", response_model=OrderHistory, dependencies=[Support])
async def order_history(order_id: str, session: SessionDep, client: TemporalDep) -> OrderHistory:
    """Everything that happened to the order, oldest first, in a support agent's words."""
    live = await order_gateway.state(client, order_id)
    if live is not None:
        return OrderHistory(order_id=order_id, status=live.view.status, events=live.timeline)
    row = read_model.get_order(session, order_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    return OrderHistory(
        order_id=order_id,
        status=OrderStatus(row.status),
        events=[TimelineEntry.model_validate(e) for e in row.timeline],
    )


@router.post("/{order_id}/cancel", response_model=CancelAnswer, dependencies=[Support])
async def cancel_order(
    order_id: str, client: TemporalDep, request: CancelRequest | None = None
) -> CancelAnswer:
    """Cancel an order not yet shipped: stock, bookings and nodes are released (409 if late)."""
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


@router.post("/{order_id}/resolve", response_model=DecisionAnswer, dependencies=[Support])
async def resolve_exception(
    order_id: str, decision: Decision, client: TemporalDep
) -> DecisionAnswer:
    """Support's decision for an order in the exception queue: accept a partial delivery,
    or try sourcing again (when stock came back). Cancelling is POST .../cancel."""
    result = await order_gateway.resolve(
        client, order_id, ResolveInput(action=decision.action, note=decision.note)
    )
    return DecisionAnswer(order_id=order_id, status=result.status, detail=result.detail)


def _check_order(session: Session, order: PlaceOrder, timezone: str, now: datetime) -> None:
    """Refuse, before anything starts, an order that names what the OMS does not know."""
    skus = [line.sku for line in order.lines]
    unknown = sorted(set(skus) - known_skus(session, skus))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown sku: {', '.join(unknown)}"
        )
    delivery = order.delivery
    if delivery.method == "click_and_collect":
        store = read_node(session, delivery.store_id or "")
        if store is None or not store.click_and_collect:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{delivery.store_id} is not a click-and-collect store",
            )
    today = now.astimezone(ZoneInfo(timezone)).date()
    if delivery.promised_by is not None and delivery.promised_by < today:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"promised_by {delivery.promised_by} is in the past",
        )


def _hold_to_option(order: PlaceOrder, secret: str, now: datetime) -> PlaceOrder:
    """An order placed with a promise's option is held to that option's date."""
    delivery = order.delivery
    if delivery.option_id is None:
        return order
    try:
        claim = promise_tokens.read(secret, delivery.option_id, now)
    except promise_tokens.BadOption as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown delivery option"
        ) from exc
    method = "click_and_collect" if claim.method == "click_and_collect" else "home"
    if promise_tokens.cart_of(order.lines) != claim.cart:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "the delivery option was promised for another cart: ask for a new promise",
        )
    if method != delivery.method or (
        method == "click_and_collect" and claim.store_id != delivery.store_id
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the delivery option is {claim.method}"
            + (f" at {claim.store_id}" if claim.store_id else "")
            + ", not what the order asks",
        )
    if delivery.promised_by is not None and delivery.promised_by != claim.promised_by:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"promised_by {delivery.promised_by} differs from the option's {claim.promised_by}",
        )
    service = "express" if claim.method == "home_express" else "standard"
    held = delivery.model_copy(update={"promised_by": claim.promised_by, "service": service})
    return order.model_copy(update={"delivery": held})


def _links(order_id: str) -> dict[str, str]:
    base = f"/v1/orders/{order_id}"
    return {"self": base, "history": f"{base}/history", "cancel": f"{base}/cancel"}
