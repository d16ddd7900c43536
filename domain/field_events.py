"""Events that warehouse, store and carrier systems send about an order's shipments."""

from datetime import datetime, timedelta
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


# When a carrier event can have happened. A carrier's clock may run a little ahead of ours,
# but a delivery stamped later than that has not happened yet, and OTIF would be judged on
# a day that has not come. A scan may be stamped up to a day before the order was placed
# (a carrier's clock set a day behind, a local time sent with the wrong offset: at most 14
# hours); earlier than that it is not this order's, and would backdate its OTIF.
AHEAD_OF_NOW = timedelta(minutes=5)
BEFORE_PLACED = timedelta(days=1)


def carrier_time_refusal(at: datetime, placed_at: datetime, now: datetime) -> str | None:
    """Why a carrier event's `at` cannot be when it happened, or None if it can: it must
    lie between a day before the order was placed and five minutes after `now`."""
    if at < placed_at - BEFORE_PLACED:
        return (
            f"at {at.isoformat()} is more than a day before the order was placed "
            f"({placed_at.isoformat(timespec='seconds')})"
        )
    if at > now + AHEAD_OF_NOW:
        return (
            f"at {at.isoformat()} has not happened yet: it is more than 5 minutes after "
            f"now ({now.isoformat(timespec='seconds')})"
        )
    return None
