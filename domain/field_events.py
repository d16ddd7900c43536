"""Events that warehouse, store and carrier systems send about an order's shipments."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import Id, Instant


class EventLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: Id
    qty: Annotated[int, Field(gt=0, le=10_000)]


class NodeEvent(BaseModel):
    """`picked` (qty picked), `short_picked` (qty missing) or `shipped` (may carry tracking)."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id
    type: Literal["picked", "short_picked", "shipped"]
    order_id: Id
    shipment_id: Id
    lines: Annotated[list[EventLine], Field(max_length=200)] = []
    tracking: Annotated[str, Field(max_length=64)] | None = None


class CarrierEvent(BaseModel):
    """`at` is when it happened: OTIF is judged on it, not on when the call arrives."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id
    type: Literal["in_transit", "delivered", "exception"]
    shipment_id: Id
    at: Instant
    reason: Annotated[str, Field(max_length=200)] | None = None


class NodeEventSignal(BaseModel):
    node_id: str
    event: NodeEvent
    received_at: datetime


class CarrierEventSignal(BaseModel):
    carrier_id: str
    event: CarrierEvent
    received_at: datetime
