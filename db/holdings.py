"""What only a running order should hold: stock held in the ledger, a read-model row that is
not closed (and with them picking slots and carrier bookings for what has not left its
node). Found here for the orders to check, and given back for an order whose workflow
ended without closing it. A slot taken by a shipment that left stays: the day was used."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db import capacity, future_stock, ledger
from db.tables import OrderRow, ReservationRow, ShipmentRow, SupplyHoldRow, TransferRow
from domain.order import (
    AT_NODE,
    CLOSED_STATUSES,
    LEFT_NODE,
    OrderStatus,
    OrderView,
    TimelineEntry,
)
from domain.transfer import OPEN_TRANSFER, is_transfer_holder

OPEN = [s.value for s in OrderStatus if s not in CLOSED_STATUSES]
RECONCILED = "its workflow ended"  # how the reason of an order the reconciliation closed begins
# A released or picked order holds stock for what has not left its node.
HOLDING = [OrderStatus.RELEASED.value, OrderStatus.PICKED.value]


def holding_stock(session: Session) -> set[str]:
    """Orders with units held in the ledger (in stock, or on supply on its way)."""
    held = select(ReservationRow.order_id).where(ReservationRow.status == "held")
    future = select(SupplyHoldRow.order_id).where(SupplyHoldRow.status == "held")
    holders = set(session.exec(held.distinct())) | set(session.exec(future.distinct()))
    return {holder for holder in holders if not is_transfer_holder(holder)}


def open_transfers(session: Session) -> set[str]:
    """Transfers not settled yet: units held at their source, or on their way."""
    query = select(TransferRow.transfer_id).where(
        col(TransferRow.status).in_([status.value for status in OPEN_TRANSFER])
    )
    return set(session.exec(query))


def holders(session: Session) -> set[str]:
    """Orders that hold stock, or that the read model shows open."""
    shown_open: set[str] = set(
        session.exec(select(OrderRow.order_id).where(col(OrderRow.status).in_(OPEN)))
    )
    return holding_stock(session) | shown_open


def holding_nothing(session: Session) -> set[str]:
    """Orders the read model shows released or picked that hold no stock at all."""
    shown = select(OrderRow.order_id).where(col(OrderRow.status).in_(HOLDING))
    shown_ids: set[str] = set(session.exec(shown))
    return shown_ids - holding_stock(session)


def give_back(session: Session, order_id: str, why: str, now: datetime) -> dict[str, Any]:
    """Release what a closed order still holds (through the ledger's movements, once) and
    mark it failed in the read model; the shipments whose carrier booking must go too.
    Safe to run twice: the second time finds nothing held."""
    units = future_stock.release(session, order_id, now)  # first, as the order's release
    units += sum(held.qty for held in ledger.release(session, order_id, now))
    row = session.get(OrderRow, order_id, with_for_update=True)
    view = OrderView.model_validate(row.view) if row is not None else None
    if view is not None:
        stayed = [s.shipment_id for s in view.shipments if s.status not in LEFT_NODE]
    else:  # no read model: every shipment known for the order
        query = select(ShipmentRow.shipment_id).where(ShipmentRow.order_id == order_id)
        stayed = list(session.exec(query))
    slots = [shipment_id for shipment_id in stayed if capacity.release(session, shipment_id)]
    to_cancel: list[tuple[str, str]] = []
    if row is not None and view is not None and row.status in OPEN:
        to_cancel = [
            (s.shipment_id, s.carrier_id)
            for s in view.shipments
            if s.status in AT_NODE and s.carrier_id and s.booking_ref
        ]
        view.status, view.reason, view.updated_at = OrderStatus.FAILED, why, now
        entry = TimelineEntry(at=now, type="reconciled", summary=f"Order failed: {why}")
        row.status = OrderStatus.FAILED.value
        row.view = view.model_dump(mode="json")
        row.timeline = [*row.timeline, entry.model_dump(mode="json")]
        row.updated_at = now
        row.revision += 1
        session.add(row)
    return {"units_released": units, "slots_released": slots, "bookings": to_cancel}
