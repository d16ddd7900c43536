"""Transfers in the ledger: the units held at the source until they leave, the supply line
of kind `transfer` at the destination while they are on their way, and the transfer's
record (`transfers`). Each change happens in the caller's transaction, applied once per
event id, so a transfer workflow's retried activity or a field system's retried call
changes nothing the second time."""

import hashlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlmodel import Session, col, select

from db import capacity, future_stock, ledger
from db.events import claim_event, record_event_result
from db.ledger import ReservationRequest
from db.network import read_calendar, read_node
from db.tables import SupplyRow, TransferRow
from domain.errors import InsufficientStock, NotFound
from domain.future_stock import SupplyEvent, SupplyNews
from domain.network import Node
from domain.replenishment import arrival_day
from domain.transfer import (
    BEFORE_LEAVING,
    InvalidTransferEvent,
    Settled,
    Transfer,
    TransferConflict,
    TransferEntry,
    TransferEvent,
    TransferLine,
    TransferPlan,
    TransferStatus,
    apply,
    holder,
    settle,
)

SUPPLY_KIND = "transfer"


class TransferNews(BaseModel):
    """What a change did: the transfer as it is now, the pre-orders whose future units it
    touched (to tell), and the units the store will not get from it (to plan again)."""

    transfer: Transfer
    applied: bool = True  # False: this event was applied before
    summary: str = ""
    orders: list[str] = []
    gaps: dict[str, int] = {}  # sku -> units


def start(
    session: Session,
    plan: TransferPlan,
    source: Node,
    destination: Node,
    not_before: date,
    holidays: set[date],
    now: datetime,
) -> Transfer:
    """Hold the units at the source, take a picking slot there, and open the supply line
    at the destination; once per transfer id (a second call returns the first)."""
    existing = session.get(TransferRow, plan.transfer_id)
    if existing is not None:
        return Transfer.model_validate(existing.view)
    who = holder(plan.transfer_id)
    protection = source.protection_qty if source.type == "store" else 0
    ledger.reserve(
        session,
        [
            ReservationRequest(
                reservation_id=f"{who}:{sku}:{source.id}:r0",
                order_id=who,
                line_id=sku,
                sku=sku,
                node_id=source.id,
                qty=qty,
                protection_qty=protection,
            )
            for sku, qty in plan.lines
        ],
        now,
    )
    pick_day = capacity.book(session, who, source, not_before, holidays)
    if pick_day is None:
        raise InsufficientStock(f"{source.id} has no picking day free for weeks")
    eta = arrival_day(pick_day, plan.transit_days, destination.open_days, holidays)
    lines = []
    for number, (sku, qty) in enumerate(plan.lines):
        supply_id = f"{plan.transfer_id}.{number}"
        future_stock.open_line(session, supply_id, SUPPLY_KIND, sku, destination.id, qty, eta, now)
        lines.append(TransferLine(sku=sku, qty=qty, supply_id=supply_id))
    transfer = Transfer(
        transfer_id=plan.transfer_id,
        source_node_id=source.id,
        destination_node_id=destination.id,
        status=TransferStatus.RELEASED,
        lines=lines,
        pick_day=pick_day,
        eta=eta,
        transit_days=plan.transit_days,
        cost=plan.cost,
        proposals=plan.proposals,
        created_at=now,
        updated_at=now,
    )
    units = sum(qty for _, qty in plan.lines)
    _save(
        session,
        transfer,
        now,
        "released",
        f"{units} units held at {source.id}, to pick on {pick_day}, at {destination.id} on {eta}",
    )
    return transfer


def refuse(session: Session, plan: TransferPlan, why: str, now: datetime) -> Transfer:
    """Record a transfer that could not start (the source's units went to orders first)."""
    existing = session.get(TransferRow, plan.transfer_id)
    if existing is not None:
        return Transfer.model_validate(existing.view)
    transfer = Transfer(
        transfer_id=plan.transfer_id,
        source_node_id=plan.source_node_id,
        destination_node_id=plan.destination_node_id,
        status=TransferStatus.REFUSED,
        lines=[
            TransferLine(sku=sku, qty=qty, supply_id=f"{plan.transfer_id}.{number}")
            for number, (sku, qty) in enumerate(plan.lines)
        ],
        cost=0.0,
        proposals=plan.proposals,
        reason=why,
        created_at=now,
        updated_at=now,
    )
    _save(session, transfer, now, "refused", f"Not started: {why}")
    return transfer


def apply_event(
    session: Session,
    node_id: str,
    event: TransferEvent,
    fingerprint: str,
    resale_rate: float,
    now: datetime,
) -> TransferNews:
    """A node picked, shipped or received a transfer: the ledger follows, once per event."""
    previous = claim_event(
        session, f"{event.transfer_id}:{event.event_id}", "transfer", fingerprint
    )
    if previous is not None:
        return TransferNews.model_validate({**previous, "applied": False})
    row, transfer = _locked(session, event.transfer_id)
    expected = transfer.source_node_id if event.at_source else transfer.destination_node_id
    if node_id != expected:
        side = "leaves from" if event.at_source else "goes to"
        raise InvalidTransferEvent(
            f"transfer {transfer.transfer_id} {side} {expected}, not {node_id}"
        )
    settled = settle(transfer, event)
    who = holder(transfer.transfer_id)
    source = transfer.source_node_id
    news: list[SupplyNews] = []
    for line in settled:
        step = f"{who}:{event.event_id}:{line.sku}"
        if line.written_off:
            ledger.write_off_short_pick(
                session, who, source, line.sku, line.written_off, f"short:{step}", now
            )
            news += future_stock.shrink(session, line.supply_id, line.written_off, resale_rate, now)
        if line.stay:
            ledger.release_part(session, who, source, line.sku, line.stay, f"stay:{step}", now)
            news += future_stock.shrink(session, line.supply_id, line.stay, resale_rate, now)
    if event.type == "shipped":
        ledger.commit(session, who, source, now)
        news += _eta_from_shipping(session, transfer, now)
    if event.type == "received":
        news += _receive(session, transfer, event, settled, resale_rate, now)
    summary = apply(transfer, event, settled, now)
    if event.type == "shipped" and transfer.in_transit == 0:
        news += _end_lines(session, transfer, "cancelled", now)
        transfer.status, transfer.reason = TransferStatus.CANCELLED, "nothing was shipped"
    _save(session, transfer, now, event.type, summary, row)
    result = TransferNews(
        transfer=transfer,
        summary=summary,
        orders=sorted({n.order_id for n in news}),
        gaps={line.sku: line.gap for line in settled if line.gap},
    )
    record_event_result(
        session, f"{event.transfer_id}:{event.event_id}", result.model_dump(mode="json")
    )
    return result


def _receive(
    session: Session,
    transfer: Transfer,
    event: TransferEvent,
    settled: list[Settled],
    resale_rate: float,
    now: datetime,
) -> list[SupplyNews]:
    """The units arrived become the store's stock through their supply line, serving the
    pre-orders waiting for them first; a final receipt closes the line."""
    news = []
    for line in settled:
        if not line.units and not event.final:
            continue
        receipt = SupplyEvent(
            event_id=_receipt_id(transfer.transfer_id, event.event_id, line.sku),
            type="received",
            supply_id=line.supply_id,
            qty=line.units,
            final=event.final,
        )
        fingerprint = hashlib.sha256(receipt.model_dump_json().encode()).hexdigest()
        news += future_stock.apply_event(session, receipt, fingerprint, resale_rate, now).news
    return news


def _eta_from_shipping(session: Session, transfer: Transfer, now: datetime) -> list[SupplyNews]:
    """The units left today, whatever day was planned: the ETA (and the store's supply
    lines, and the day the transfer counts as lost) follow the real shipping day."""
    source = read_node(session, transfer.source_node_id)
    store = read_node(session, transfer.destination_node_id)
    if source is None or store is None:
        return []
    shipped_on = now.astimezone(ZoneInfo(source.timezone)).date()
    holidays = set(read_calendar(session).holidays)
    eta = arrival_day(shipped_on, transfer.transit_days, store.open_days, holidays)
    if eta == transfer.eta:
        return []
    transfer.eta = eta
    news: list[SupplyNews] = []
    for line in transfer.lines:
        news += future_stock.move_eta(session, line.supply_id, eta, now)
    return news


def _receipt_id(transfer_id: str, event_id: str, sku: str) -> str:
    digest = hashlib.sha256(f"{transfer_id}:{event_id}:{sku}".encode()).hexdigest()[:40]
    return f"tr-{digest}"


def cancel(session: Session, transfer_id: str, why: str, now: datetime) -> TransferNews:
    """Call off a transfer before it leaves: its units stay at the source, free again; its
    slot and its supply line go. Cancelling it again changes nothing."""
    row, transfer = _locked(session, transfer_id)
    if transfer.status in (TransferStatus.CANCELLED, TransferStatus.REFUSED):
        return TransferNews(transfer=transfer, applied=False)
    if transfer.status not in BEFORE_LEAVING:
        raise TransferConflict(
            f"transfer {transfer_id} is {transfer.status.value}: too late to cancel"
        )
    who = holder(transfer_id)
    units = sum(held.qty for held in ledger.release(session, who, now, transfer.source_node_id))
    capacity.release(session, who)
    news = _end_lines(session, transfer, "cancelled", now)
    gaps = {line.sku: line.leaving for line in transfer.lines if line.leaving}
    transfer.status, transfer.reason, transfer.updated_at = TransferStatus.CANCELLED, why, now
    summary = f"Cancelled ({why}): {units} units stay at {transfer.source_node_id}"
    _save(session, transfer, now, "cancelled", summary, row)
    return TransferNews(
        transfer=transfer, summary=summary, orders=sorted({n.order_id for n in news}), gaps=gaps
    )


def declare_lost(session: Session, transfer_id: str, now: datetime) -> TransferNews:
    """Units shipped long ago that never arrived: written off in transit, their supply line
    closed. A transfer received or ended meanwhile is left as it is."""
    row, transfer = _locked(session, transfer_id)
    if transfer.status != TransferStatus.SHIPPED:
        return TransferNews(transfer=transfer, applied=False)
    gaps = {}
    for line in transfer.lines:
        missing = (line.shipped or 0) - line.received - line.lost
        if missing > 0:
            line.lost += missing
            gaps[line.sku] = missing
    news = _end_lines(session, transfer, "closed", now)
    transfer.status, transfer.updated_at = TransferStatus.LOST, now
    transfer.reason = f"not received {sum(gaps.values())} units by {transfer.eta}"
    summary = (
        f"Lost in transit: {sum(gaps.values())} units never reached {transfer.destination_node_id}"
    )
    _save(session, transfer, now, "lost", summary, row)
    return TransferNews(
        transfer=transfer, summary=summary, orders=sorted({n.order_id for n in news}), gaps=gaps
    )


def _end_lines(
    session: Session, transfer: Transfer, status: str, now: datetime
) -> list[SupplyNews]:
    news = []
    for line in transfer.lines:
        news += future_stock.end_line(session, line.supply_id, status, now)
    return news


def read(session: Session, transfer_id: str) -> tuple[Transfer, list[TransferEntry]] | None:
    row = session.get(TransferRow, transfer_id)
    if row is None:
        return None
    timeline = [TransferEntry.model_validate(entry) for entry in row.timeline]
    return Transfer.model_validate(row.view), timeline


def listing(
    session: Session, node_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[Transfer]:
    query = select(TransferRow)
    if node_id is not None:
        query = query.where(
            (col(TransferRow.destination_node_id) == node_id)
            | (col(TransferRow.source_node_id) == node_id)
        )
    if status is not None:
        query = query.where(TransferRow.status == status)
    query = query.order_by(col(TransferRow.created_at).desc()).limit(limit)
    return [Transfer.model_validate(row.view) for row in session.exec(query)]


def inbound(session: Session) -> dict[tuple[str, str], int]:
    """(destination, sku) -> units of open transfers still to arrive for the shelf: those
    pre-orders hold already go to their customers."""
    query = select(SupplyRow).where(SupplyRow.kind == SUPPLY_KIND, SupplyRow.status == "open")
    out: dict[tuple[str, str], int] = {}
    for row in session.exec(query):
        free = max(0, row.expected - row.allocated)
        out[(row.node_id, row.sku)] = out.get((row.node_id, row.sku), 0) + free
    return out


def _locked(session: Session, transfer_id: str) -> tuple[TransferRow, Transfer]:
    row = session.get(TransferRow, transfer_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no transfer {transfer_id}")
    return row, Transfer.model_validate(row.view)


def _save(
    session: Session,
    transfer: Transfer,
    now: datetime,
    kind: str,
    summary: str,
    row: TransferRow | None = None,
) -> None:
    entry = TransferEntry(at=now, type=kind, summary=summary).model_dump(mode="json")
    if row is None:
        row = TransferRow(
            transfer_id=transfer.transfer_id,
            source_node_id=transfer.source_node_id,
            destination_node_id=transfer.destination_node_id,
            status=transfer.status.value,
            view={},
            timeline=[],
            created_at=now,
            updated_at=now,
        )
    row.status = transfer.status.value
    row.view = transfer.model_dump(mode="json")
    row.timeline = [*row.timeline, entry]
    row.updated_at = now
    session.add(row)
    session.flush()
