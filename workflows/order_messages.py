"""What goes in and out of the order workflow: its input, state, updates and answers.

Kept apart from the workflow so the sandbox imports them once, not for every order.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from activities.field_watch import LateHandover
from domain.field_events import CarrierEventSignal, NodeEventSignal
from domain.incidents import Incident
from domain.local_time import LocalTime
from domain.order import OrderStatus, OrderView, PlaceOrder, TimelineEntry


class OrderInput(BaseModel):
    order: PlaceOrder
    placed_at: datetime
    fingerprint: str  # hash of the checkout body: the same id with another body is refused
    timezone: str = "Europe/Paris"  # the promised date is a day in this zone
    # The zone's offsets over the order's life, read when it was placed (orders placed
    # before this field read the worker's zone database instead).
    local_time: LocalTime | None = None
    sourcing_rounds: int = 3  # rounds of source-then-reserve when stock moves under us
    max_supply_waits: int = 3  # a pre-order waits for incoming supply at most this often


class SupplyNewsSignal(BaseModel):
    """A supply line a pre-order holds was received, moved or cancelled."""

    event_id: str
    supply_id: str


class OrderState(BaseModel):
    view: OrderView
    timeline: list[TimelineEntry]
    revision: int
    fingerprint: str


class CancelInput(BaseModel):
    reason: str = "customer request"
    requested_by: str = "customer"


class ResolveInput(BaseModel):
    """Support's decision on an order in the exception queue."""

    action: Literal["accept_partial", "retry"]
    note: str = ""


class ResolveResult(BaseModel):
    status: OrderStatus
    detail: str


class CancelResult(BaseModel):
    cancelled: bool
    status: OrderStatus
    detail: str


class HandoverLateSignal(BaseModel):
    """What an order is told: one of its shipments will likely miss its handover."""

    late: LateHandover


class IncidentSignal(BaseModel):
    """What an order is told: the shipments to move, or the units a count took away."""

    incident: Incident
    shipment_ids: list[str] = []
    lost: dict[str, dict[str, int]] = {}  # shipment -> line -> units
    reply_to: str


# Everything an order hears from outside, applied one at a time in arrival order.
OrderEvent = NodeEventSignal | CarrierEventSignal | IncidentSignal | HandoverLateSignal
