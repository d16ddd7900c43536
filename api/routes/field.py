"""Events from nodes (warehouses, stores) and carriers about an order's shipments.

Each event is checked against the order before it is passed on, so a wrong node, shipment
or line is refused here with a clear 4xx and the order never sees it. The workflow applies
each event id once, so a retried call changes nothing.
"""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Discriminator, Tag
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api import order_gateway
from api.deps import CallerDep, EngineDep, Field, NodeField, NowDep, SessionDep, TemporalDep
from api.order_gateway import signal_workflow
from db import orders as read_model
from db import transfers
from db.engine import read_only, unit_of_work
from db.events import event_key, mark_passed_on, passed_on
from db.network import node_exists
from domain.field_events import (
    CarrierEvent,
    CarrierEventSignal,
    NodeEvent,
    NodeEventSignal,
    carrier_time_refusal,
)
from domain.ids import Id
from domain.order_lifecycle import IN_STORE_COLLECTION
from domain.transfer import OPEN_TRANSFER, Transfer, TransferEvent, TransferSignal
from workflows.contracts import OrderSignal, TransferSignalName, transfer_workflow_id

router = APIRouter(tags=["field events"])


class EventAccepted(BaseModel):
    event_id: str
    order_id: str
    shipment_id: str
    accepted: bool = True


class TransferEventAccepted(BaseModel):
    event_id: str
    transfer_id: str
    accepted: bool = True


def _event_kind(body: Any) -> str:
    return "transfer" if isinstance(body, dict) and "transfer_id" in body else "order"


# An order's shipment event, or a transfer's (it names a `transfer_id`).
AnyNodeEvent = Annotated[
    Annotated[NodeEvent, Tag("order")] | Annotated[TransferEvent, Tag("transfer")],
    Discriminator(_event_kind),
]


@router.post(
    "/v1/nodes/{node_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted | TransferEventAccepted,
    dependencies=NodeField,
)
async def node_event(
    node_id: Id,
    event: AnyNodeEvent,
    caller: CallerDep,
    session: SessionDep,
    engine: EngineDep,
    client: TemporalDep,
    now: NowDep,
) -> EventAccepted | TransferEventAccepted:
    """A node picked, short-picked or shipped an order's shipment, or picked, shipped or
    received a transfer (signed by the node's system, which speaks for this node only)."""
    caller.check("node", node_id)
    if not node_exists(session, node_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown node {node_id}")
    if isinstance(event, TransferEvent):
        return await _transfer_event(node_id, event, session, engine, client, now)
    # Checked against the read model, written before any node hears of a shipment: no
    # round trip to the order's workflow for each scan in a peak. The workflow still has
    # the last word (it ignores, and notes, an event that no longer fits).
    view = read_model.order_view(session, event.order_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {event.order_id}")
    shipment = next((s for s in view.shipments if s.shipment_id == event.shipment_id), None)
    if shipment is None or shipment.node_id != node_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"order {event.order_id} has no shipment {event.shipment_id} at {node_id}",
        )
    lines = {line.line_id: line for line in shipment.lines}
    for line in event.lines:
        if line.line_id not in lines:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"shipment {event.shipment_id} has no line {line.line_id}",
            )
        if line.qty > lines[line.line_id].qty:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"line {line.line_id}: qty {line.qty} is more than the "
                f"{lines[line.line_id].qty} units in the shipment",
            )
    if event.type == "short_picked" and not event.lines:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "short_picked needs the lines with missing qty"
        )
    signal = NodeEventSignal(node_id=node_id, event=event, received_at=now)
    await _pass_on_once(
        engine,
        "node",
        node_id,
        event,
        lambda: order_gateway.signal(client, event.order_id, OrderSignal.NODE_EVENT, signal),
    )
    return EventAccepted(
        event_id=event.event_id, order_id=event.order_id, shipment_id=event.shipment_id
    )


@router.post(
    "/v1/carriers/{carrier_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    dependencies=Field,
)
async def carrier_event(
    carrier_id: Id,
    event: CarrierEvent,
    caller: CallerDep,
    session: SessionDep,
    engine: EngineDep,
    client: TemporalDep,
    now: NowDep,
) -> EventAccepted:
    """A carrier has a shipment in transit, delivered it, or hit a problem (signed by the
    carrier's system, which speaks for this carrier only). A click & collect parcel is
    handed over (`COLLECT`) by the store's own system."""
    if carrier_id != IN_STORE_COLLECTION:
        caller.check("carrier", carrier_id)
    shipment = read_model.order_of_shipment(session, event.shipment_id)
    if shipment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown shipment {event.shipment_id}")
    if carrier_id == IN_STORE_COLLECTION:
        caller.check("node", shipment.node_id)
    if shipment.carrier_id != carrier_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"shipment {event.shipment_id} is not carried by {carrier_id}",
        )
    # OTIF is judged on `at`: a time that cannot have happened would move the verdict.
    order = read_model.order_view(session, shipment.order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {shipment.order_id}")
    doubt = carrier_time_refusal(event.at, order.placed_at, now)
    if doubt is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, doubt)
    signal = CarrierEventSignal(carrier_id=carrier_id, event=event, received_at=now)
    await _pass_on_once(
        engine,
        "carrier",
        carrier_id,
        event,
        lambda: order_gateway.signal(client, shipment.order_id, OrderSignal.CARRIER_EVENT, signal),
    )
    return EventAccepted(
        event_id=event.event_id, order_id=shipment.order_id, shipment_id=event.shipment_id
    )


async def _transfer_event(
    node_id: str,
    event: TransferEvent,
    session: Session,
    engine: Engine,
    client: Client,
    now: datetime,
) -> TransferEventAccepted:
    """Checked against the transfer as last recorded: its nodes, its SKUs, its planned
    units. Its workflow applies the event in order and has the last word on the rest."""
    found = transfers.read(session, event.transfer_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no transfer {event.transfer_id}")
    transfer, _ = found
    expected = transfer.source_node_id if event.at_source else transfer.destination_node_id
    if node_id != expected:
        side = "leaves from" if event.at_source else "goes to"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"transfer {event.transfer_id} {side} {expected}, not {node_id}",
        )
    planned = {line.sku: line.qty for line in transfer.lines}
    for line in event.lines:
        if line.sku not in planned:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"transfer {event.transfer_id} has no line for {line.sku}",
            )
        if line.qty > planned[line.sku]:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{line.sku}: qty {line.qty} is more than the {planned[line.sku]} planned",
            )
    signal = TransferSignal(node_id=node_id, event=event, received_at=now)
    await _pass_on_once(
        engine,
        "node",
        node_id,
        event,
        lambda: _signal_transfer(client, transfer, signal),
    )
    return TransferEventAccepted(event_id=event.event_id, transfer_id=event.transfer_id)


async def _signal_transfer(client: Client, transfer: Transfer, signal: TransferSignal) -> None:
    """A transfer that takes no more events refuses a new one (a 409); the same event sent
    again gets its first answer, the 202 (`_pass_on_once` does not come here)."""
    if transfer.status not in OPEN_TRANSFER:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"transfer {transfer.transfer_id} is {transfer.status.value}: it takes no more events",
        )
    await signal_workflow(
        client,
        transfer_workflow_id(transfer.transfer_id),
        TransferSignalName.NODE_EVENT,
        signal,
        f"transfer {transfer.transfer_id}",
    )


async def _pass_on_once(
    engine: Engine,
    source: str,
    sender: str,
    event: NodeEvent | CarrierEvent | TransferEvent,
    send: Callable[[], Awaitable[None]],
) -> None:
    """Pass an event on to its order once: a field system that sends it again (its answer
    lost, a retry loop) gets the same 202 without the order hearing it twice."""
    key = event_key(source, sender, event.event_id)
    fingerprint = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
    with read_only(engine) as session:
        if passed_on(session, key, source, fingerprint):
            return
    await send()
    with unit_of_work(engine) as session:
        mark_passed_on(session, key, source, fingerprint)
