"""A transfer order: stock moved from one node to another (a warehouse refilling a store).

Its rules live here, pure; `workflows/transfer.py` runs them durably. A transfer holds its
units at the source until they leave, and is supply of kind `transfer` at its destination
from the day it is planned, so the promise and pre-orders may count on it from its ETA.
What goes wrong is settled line by line: units the source could not pick or did not ship
stay (or are written off) there, units that never arrive are lost in transit; either way
the store's missing units are planned again.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import DomainError, OrderConflict
from domain.ids import Id

HOLDER_PREFIX = "transfer/"  # a transfer's holds in the ledger: never an order id ("/")
LOST_AFTER_DAYS = 3  # shipped units not received this long after the ETA are lost
PICK_GRACE_DAYS = 2  # a transfer not shipped this long after its picking day is called off


def holder(transfer_id: str) -> str:
    """The id a transfer's stock holds and notifications carry in the ledger."""
    return f"{HOLDER_PREFIX}{transfer_id}"


def is_transfer_holder(holder_id: str) -> bool:
    return holder_id.startswith(HOLDER_PREFIX)


class TransferStatus(StrEnum):
    RELEASED = "released"  # held at the source, told to pick
    PICKED = "picked"
    SHIPPED = "shipped"  # on its way
    RECEIVED = "received"  # done: the units are the destination's
    CANCELLED = "cancelled"  # before it left: the units stay at the source
    LOST = "lost"  # nothing arrived in time
    REFUSED = "refused"  # the source could not hold the units: nothing moved


OPEN_TRANSFER = {TransferStatus.RELEASED, TransferStatus.PICKED, TransferStatus.SHIPPED}
BEFORE_LEAVING = {TransferStatus.RELEASED, TransferStatus.PICKED}


class TransferLine(BaseModel):
    sku: str
    qty: int  # planned
    supply_id: str  # the destination's supply line for these units
    picked: int | None = None
    shipped: int | None = None
    received: int = 0
    written_off: int = 0  # not found at the source
    lost: int = 0  # left the source, never arrived

    @property
    def leaving(self) -> int:
        """Units still meant to leave the source: picked, else planned, less written off."""
        return self.picked if self.picked is not None else self.qty - self.written_off


class TransferPlan(BaseModel):
    """What the planner (or an operator's approval) asks to move."""

    transfer_id: Id
    source_node_id: str
    destination_node_id: str
    lines: Annotated[list[tuple[str, int]], Field(min_length=1)]  # (sku, qty)
    proposals: list[str] = []  # the replenishment proposals it carries out
    cost: float = 0.0
    transit_days: int = 1


class TransferEntry(BaseModel):
    at: datetime
    type: str
    summary: str


class Transfer(BaseModel):
    """A transfer as support and the planner read it (`GET /v1/transfers/{id}`)."""

    transfer_id: str
    source_node_id: str
    destination_node_id: str
    status: TransferStatus
    lines: list[TransferLine]
    pick_day: date | None = None
    eta: date | None = None
    transit_days: int = 1  # planned, source to store: the ETA moves with the real shipping day
    cost: float = 0.0
    proposals: list[str] = []
    reason: str | None = None
    created_at: datetime
    updated_at: datetime

    def line(self, sku: str) -> TransferLine:
        for line in self.lines:
            if line.sku == sku:
                return line
        raise InvalidTransferEvent(f"transfer {self.transfer_id} has no line for {sku}")

    @property
    def in_transit(self) -> int:
        return sum((line.shipped or 0) - line.received - line.lost for line in self.lines)


class InvalidTransferEvent(DomainError):
    """A node event that does not fit the transfer (unknown SKU, more than planned)."""


class TransferConflict(OrderConflict):
    """The transfer's state refuses the request: picked after it left, received before it
    left, cancelled once on its way."""


class TransferEventLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Id
    qty: Annotated[int, Field(ge=0, le=1_000_000)]


class TransferEvent(BaseModel):
    """What a node says of a transfer: the source `picked` (qty picked per SKU; fewer than
    planned is a short pick), `short_picked` (qty missing) or `shipped` (qty shipped); the
    destination `received` (qty received; `final: false` when more is to come). Without
    lines, every unit the previous step left."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id
    type: Literal["picked", "short_picked", "shipped", "received"]
    transfer_id: Id
    lines: Annotated[list[TransferEventLine], Field(max_length=500)] = []
    final: bool = True

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> "TransferEvent":
        skus = [line.sku for line in self.lines]
        if len(skus) != len(set(skus)):
            raise ValueError("one line per SKU")
        if self.type == "short_picked" and not self.lines:
            raise ValueError("short_picked needs the lines with the missing qty")
        return self

    @property
    def at_source(self) -> bool:
        return self.type != "received"


class TransferSignal(BaseModel):
    node_id: str
    event: TransferEvent
    received_at: datetime


class Settled(BaseModel):
    """Units of one line an event settles: what the store will not get from this
    transfer (`gap`), and, for the ledger, the units the source keeps or writes off."""

    sku: str
    supply_id: str
    units: int  # picked, shipped or received now
    written_off: int = 0
    stay: int = 0  # picked but not shipped: back to the source's free stock
    lost: int = 0
    gap: int = 0


def settle(transfer: Transfer, event: TransferEvent) -> list[Settled]:
    """What an event means for each line; InvalidTransferEvent when it does not fit (more
    than planned, picked or shipped; a step out of order)."""
    given = {line.sku: line.qty for line in event.lines}
    for sku in given:
        transfer.line(sku)  # an unknown SKU is refused
    if event.at_source and transfer.status not in BEFORE_LEAVING:
        raise TransferConflict(
            f"transfer {transfer.transfer_id} is {transfer.status.value}: "
            f"the source cannot {event.type.replace('_', ' ')} it any more"
        )
    if event.type == "received" and transfer.status != TransferStatus.SHIPPED:
        raise TransferConflict(
            f"transfer {transfer.transfer_id} is {transfer.status.value}: nothing to receive"
        )
    out = []
    for line in transfer.lines:
        if event.type in ("picked", "short_picked"):
            planned = line.qty - line.written_off
            if event.type == "picked":
                picked = given.get(line.sku, planned)
            else:
                picked = planned - given.get(line.sku, 0)
            _within(transfer, line.sku, picked, planned, "planned")
            short = planned - picked
            out.append(
                Settled(
                    sku=line.sku,
                    supply_id=line.supply_id,
                    units=picked,
                    written_off=short,
                    gap=short,
                )
            )
        elif event.type == "shipped":
            leaving = line.leaving
            shipped = given.get(line.sku, leaving)
            _within(transfer, line.sku, shipped, leaving, "picked")
            out.append(
                Settled(
                    sku=line.sku,
                    supply_id=line.supply_id,
                    units=shipped,
                    stay=leaving - shipped,
                    gap=leaving - shipped,
                )
            )
        else:  # received
            coming = (line.shipped or 0) - line.received - line.lost
            received = given.get(line.sku, coming if event.final else 0)
            _within(transfer, line.sku, received, coming, "still on its way")
            lost = coming - received if event.final else 0
            out.append(
                Settled(sku=line.sku, supply_id=line.supply_id, units=received, lost=lost, gap=lost)
            )
    return out


def _within(transfer: Transfer, sku: str, qty: int, most: int, what: str) -> None:
    if qty > most:
        raise InvalidTransferEvent(
            f"transfer {transfer.transfer_id}: {qty} x {sku} is more than the {most} {what}"
        )
    if qty < 0:
        raise InvalidTransferEvent(f"transfer {transfer.transfer_id}: negative qty for {sku}")


def apply(transfer: Transfer, event: TransferEvent, settled: list[Settled], now: datetime) -> str:
    """Move the transfer on by an event `settle` accepted; a line for its timeline."""
    by_sku = {s.sku: s for s in settled}
    for line in transfer.lines:
        s = by_sku[line.sku]
        if event.type in ("picked", "short_picked"):
            line.picked, line.written_off = s.units, line.written_off + s.written_off
        elif event.type == "shipped":
            line.shipped = s.units
        else:
            line.received += s.units
            line.lost += s.lost
    transfer.updated_at = now
    units = sum(s.units for s in settled)
    gap = sum(s.gap for s in settled)
    if event.type in ("picked", "short_picked"):
        transfer.status = TransferStatus.PICKED
        return f"{transfer.source_node_id} picked {units} units" + (
            f", {gap} not found (written off)" if gap else ""
        )
    if event.type == "shipped":
        transfer.status = TransferStatus.SHIPPED
        return f"{transfer.source_node_id} shipped {units} units" + (
            f", {gap} stayed there" if gap else ""
        )
    if event.final or transfer.in_transit == 0:
        transfer.status = TransferStatus.RECEIVED
    return f"{transfer.destination_node_id} received {units} units" + (
        f", {gap} lost in transit" if gap else ""
    )
