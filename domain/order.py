"""An order as checkout places it, and the state the order workflow keeps of it."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.ids import Day, Id


class OrderStatus(StrEnum):
    """The statuses field systems and support tools rely on (docs/api.md, "The order")."""

    PLACED = "placed"
    RELEASED = "released"
    PICKED = "picked"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXCEPTION = "exception"
    FAILED = "failed"


CLOSED_STATUSES = {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.FAILED}


class ShipmentStatus(StrEnum):
    BOOKED = "booked"
    RELEASED = "released"
    PICKED = "picked"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXCEPTION = "exception"


# Where a shipment's units are: still at its node, or gone with the parcel.
AT_NODE = frozenset({ShipmentStatus.BOOKED, ShipmentStatus.RELEASED, ShipmentStatus.PICKED})
LEFT_NODE = frozenset(
    {
        ShipmentStatus.SHIPPED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.EXCEPTION,
    }
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Customer(Strict):
    id: Id
    email: Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$")]


class Address(Strict):
    postal_code: Annotated[str, Field(min_length=1, max_length=16)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Delivery(Strict):
    method: Literal["home", "click_and_collect"]
    address: Address | None = None
    store_id: Id | None = None
    promised_by: Day | None = None
    option_id: Annotated[str, Field(max_length=1000)] | None = None
    service: Literal["standard", "express"] = "standard"  # express: express services only

    @model_validator(mode="after")
    def _method_needs(self) -> "Delivery":
        if self.method == "home" and self.address is None:
            raise ValueError("home delivery needs an address")
        if self.method == "click_and_collect" and self.store_id is None:
            raise ValueError("click and collect needs a store_id")
        return self

    @property
    def postal_code(self) -> str | None:
        return self.address.postal_code if self.address else None


class OrderLine(Strict):
    line_id: Id
    sku: Id
    qty: Annotated[int, Field(gt=0, le=10_000)]


class PlaceOrder(Strict):
    """The body checkout sends to place an order."""

    order_id: Id
    customer: Customer
    channel: Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")] = "web"
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=200)]
    delivery: Delivery

    @model_validator(mode="after")
    def _unique_lines(self) -> "PlaceOrder":
        ids = [line.line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id must be unique within an order")
        return self

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class ShipmentLine(BaseModel):
    line_id: str
    sku: str
    qty: int
    picked_qty: int = 0
    short_qty: int = 0


class Shipment(BaseModel):
    shipment_id: str
    node_id: str
    carrier_id: str | None = None
    service_id: str | None = None
    tracking: str | None = None
    booking_ref: str | None = None
    label_url: str | None = None
    status: ShipmentStatus = ShipmentStatus.BOOKED
    lines: list[ShipmentLine]
    expected_delivery: date | None = None
    pick_by: datetime | None = None  # the node's picking SLA; missed, the order is rerouted
    cost: float = 0.0  # planned shipping + picking, in the network's currency
    distance_km: float | None = None
    released_at: datetime | None = None  # told to the node
    ship_by: datetime | None = None  # the handover the plan counts on (its day's cut-off)
    # The sourcing round that holds its stock: its holds are its own, even when another
    # shipment of the order is at the same node (None: shipments from before this field).
    hold_round: int | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class Otif(BaseModel):
    on_time: bool
    in_full: bool
    delivered_units: int
    ordered_units: int
    delivered_on: date | None = None

    @property
    def otif(self) -> bool:
        return self.on_time and self.in_full


class TimelineEntry(BaseModel):
    """One step of an order's life, in words a support agent understands."""

    at: datetime
    type: str
    summary: str
    details: dict[str, Any] = {}


class OrderView(BaseModel):
    """What `GET /v1/orders/{id}` returns and the read model stores."""

    order_id: str
    status: OrderStatus
    customer: Customer
    channel: str
    delivery: Delivery
    promised_by: date | None
    lines: list[OrderLine]
    shipments: list[Shipment] = []
    otif: Otif | None = None
    reason: str | None = None
    reroutes: int = 0  # shipments moved off a failing node or carrier
    waiting_for: list[str] = []  # the supply lines a pre-order waits for
    placed_at: datetime
    updated_at: datetime
