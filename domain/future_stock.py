"""Future stock: supply lines that have not arrived yet (purchase orders, customer returns
on their way, transfers), what pre-orders may take of them, and who gets the units first
when they come.

A supply line's allocatable units are its expected units times the confidence that they
come sellable (all of a purchase order; of a customer return, the retailer's resale
rate), minus what pre-orders already hold on it. The ledger (db/future_stock.py) applies
the same rule in one conditional update, so future stock is never sold twice.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import DomainError
from domain.ids import Day, Id
from domain.network import SupplyKind

PERMILLE = 1000
MAX_UNITS = 100_000_000  # as the network's stock and supply rows
ETA_PAST_GRACE = timedelta(days=1)  # an ETA may be yesterday (time zones), not earlier


class InvalidSupplyEvent(DomainError):
    """A supply event that cannot apply to the line it names (an ETA long past, a receipt
    of a line already closed)."""


# When units are received at a node, local time, before it has received any: the OMS
# then learns the hour from the receipts it is told of (`usual_receipt_time`).
DEFAULT_RECEIPT_TIME = time(12)
RECEIPTS_KEPT = 20  # the most recent receipts per node that say when it receives


def usual_receipt_time(times: list[time]) -> time:
    """The hour a node usually receives supply: the median of its recent receipts (the
    later one of two middles: a pre-order's date is better late than kept by luck)."""
    if not times:
        return DEFAULT_RECEIPT_TIME
    ordered = sorted(times)
    return ordered[len(ordered) // 2]


def confidence_permille(kind: str, return_resale_rate: float) -> int:
    """How much of a line's expected units will come sellable, in thousandths."""
    if kind == "customer_return":
        return round(return_resale_rate * PERMILLE)
    return PERMILLE


def allocatable(expected: int, allocated: int, permille: int) -> int:
    """Units of a supply line a new pre-order may still take (integer arithmetic: the
    ledger's SQL computes the same figure)."""
    return max(0, expected * permille // PERMILLE - allocated)


class SupplyLine(BaseModel):
    """A supply line as the promise and people see it."""

    supply_id: str
    kind: SupplyKind
    sku: str
    node_id: str
    eta: date
    expected: int  # units still to come
    allocatable: int  # what new pre-orders may take
    allocated: int  # what pre-orders hold


class PreorderHold(BaseModel):
    """Units of a supply line one order line holds: `held` while on their way, `served`
    once received (a stock hold of the order then), `released` when the order gave them
    back, `dropped` when they will not come."""

    hold_id: str
    line_id: str
    sku: str
    supply_id: str
    node_id: str
    qty: int
    round: int
    status: Literal["held", "served", "released", "dropped"]
    eta: date


SupplyEventType = Literal[
    "po_created",
    "po_updated",
    "po_cancelled",
    "asn",
    "received",
    "return_authorised",
    "return_received",
]
OPENS_A_LINE = ("po_created", "return_authorised")
RECEIPTS = ("received", "return_received")

# Which fields each event needs, and which it may carry.
_NEEDS: dict[str, tuple[str, ...]] = {
    "po_created": ("sku", "node_id", "qty", "eta"),
    "return_authorised": ("sku", "node_id", "qty", "eta"),
    "po_updated": (),
    "po_cancelled": (),
    "asn": ("qty",),
    "received": ("qty",),
    "return_received": ("qty", "grade"),
}
_MAY: dict[str, tuple[str, ...]] = {
    "po_created": ("sku", "node_id", "qty", "eta"),
    "return_authorised": ("sku", "node_id", "qty", "eta"),
    "po_updated": ("qty", "eta"),
    "po_cancelled": (),
    "asn": ("qty", "eta"),
    "received": ("qty", "final"),
    "return_received": ("qty", "grade", "final"),
}


class SupplyEvent(BaseModel):
    """What a buying or returns system tells the OMS of a supply line; `event_id` makes it
    apply once."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id
    type: SupplyEventType
    supply_id: Id
    sku: Id | None = None
    node_id: Id | None = None
    qty: Annotated[int, Field(ge=0, le=MAX_UNITS)] | None = None
    eta: Day | None = None
    grade: Literal["sellable", "damaged"] | None = None
    # A receipt closes the line unless it says more is coming (a partial delivery).
    final: bool | None = None

    @model_validator(mode="after")
    def _fields_fit_type(self) -> "SupplyEvent":
        given = {
            name
            for name in _MAY["po_created"] + ("grade", "final")
            if getattr(self, name) is not None
        }
        missing = [name for name in _NEEDS[self.type] if name not in given]
        if missing:
            raise ValueError(f"a {self.type} event needs {', '.join(missing)}")
        extra = sorted(given - set(_MAY[self.type]))
        if extra:
            raise ValueError(f"a {self.type} event does not take {', '.join(extra)}")
        if self.type == "po_updated" and not given:
            raise ValueError("a po_updated event needs qty and/or eta")
        if self.type in OPENS_A_LINE + ("asn",) and not self.qty:
            raise ValueError(f"a {self.type} event needs a positive qty")
        return self

    @property
    def kind(self) -> SupplyKind:
        return "customer_return" if self.type == "return_authorised" else "purchase_order"

    @property
    def closes(self) -> bool:
        """A receipt that ends the line: what did not come will not."""
        return self.type in RECEIPTS and self.final is not False

    def check_eta(self, now: datetime) -> None:
        if self.eta is not None and self.eta < (now - ETA_PAST_GRACE).date():
            raise InvalidSupplyEvent(
                f"eta {self.eta.isoformat()} of {self.supply_id} is more than a day in the past"
            )


SupplyNewsKind = Literal["served", "dropped", "eta_moved"]


class SupplyNews(BaseModel):
    """What a supply event did to one pre-order: its units arrived and are its own now
    (`served`), they will not come (`dropped`), or they come on another day."""

    order_id: str
    kind: SupplyNewsKind
    units: int


class SupplyEventResult(BaseModel):
    event_id: str
    applied: bool  # False: the same event was already applied
    line: SupplyLine
    news: list[SupplyNews] = []

    @property
    def orders(self) -> list[str]:
        return sorted({n.order_id for n in self.news})


@dataclass(frozen=True)
class Waiting:
    """A pre-order's hold on a supply line: the order waits for these units."""

    hold_id: str
    order_id: str
    qty: int
    since: datetime


def serve_oldest_first(waiting: list[Waiting], units: int) -> tuple[list[Waiting], int]:
    """Received units go to the pre-orders that waited longest, each served whole; a hold
    the rest cannot fill waits on (or is dropped when the line closes), and the units
    left over serve younger, smaller holds before anyone else. Returns the holds served
    and the units left for the shelf."""
    served = []
    for hold in sorted(waiting, key=lambda h: (h.since, h.hold_id)):
        if hold.qty <= units:
            served.append(hold)
            units -= hold.qty
    return served, units


def beyond_cover(waiting: list[Waiting], cover: int) -> list[Waiting]:
    """The youngest holds a line can no longer cover (fewer units expected): they lose
    their place, so the oldest keep theirs."""
    dropped = []
    held = sum(hold.qty for hold in waiting)
    for hold in sorted(waiting, key=lambda h: (h.since, h.hold_id), reverse=True):
        if held <= cover:
            break
        dropped.append(hold)
        held -= hold.qty
    return dropped
