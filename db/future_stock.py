"""The ledger of future stock: supply lines, the pre-orders holding their units, and the
receipts that serve those pre-orders first.

Like the stock ledger (db/ledger.py) every change happens in the caller's transaction. A
pre-order's hold is one conditional UPDATE of the line, re-checked by PostgreSQL after any
concurrent writer commits, so a line never promises more than it will bring. A receipt
makes the units stock and hands them to the waiting pre-orders, oldest first, in the same
transaction: no new order can take them in between.
"""

import hashlib
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, PositiveInt
from sqlalchemy import case, update
from sqlmodel import Session, col, select

from db import ledger
from db.engine import insert_if_absent
from db.events import claim_scoped_event, record_event_result
from db.tables import MovementRow, ReservationRow, StockRow, SupplyHoldRow, SupplyRow
from domain.errors import InsufficientStock, InventoryConflict, NotFound
from domain.future_stock import (
    PERMILLE,
    RECEIPTS_KEPT,
    InvalidSupplyEvent,
    PreorderHold,
    SupplyEvent,
    SupplyEventResult,
    SupplyLine,
    SupplyNews,
    Waiting,
    allocatable,
    beyond_cover,
    confidence_permille,
    serve_oldest_first,
    usual_receipt_time,
)
from domain.network import Supply

HOLD_ID_ROOM = 180  # a hold's id is at most 200 characters, as a stock hold's


class InsufficientSupply(InsufficientStock):
    """A supply line cannot cover a pre-order any more: others took its units first."""


class SupplyHoldRequest(BaseModel):
    order_id: str
    line_id: str
    sku: str
    supply_id: str
    qty: PositiveInt
    round: int
    tag: str = ""  # tells a later hold of the same round from the first

    @property
    def hold_id(self) -> str:
        """Once served, the order's stock hold keeps this id: it ends with the round, as
        every stock hold of an order does (db/ledger.py)."""
        supply = f"{self.supply_id}{self.tag}"
        if len(supply) + len(self.order_id) + len(self.line_id) > HOLD_ID_ROOM:
            supply = hashlib.sha256(supply.encode()).hexdigest()[:16]  # long ids: still unique
        return f"{self.order_id}:{self.line_id}:@{supply}:r{self.round}"


# --- Pre-orders -----------------------------------------------------------------------


def hold(
    session: Session, requests: list[SupplyHoldRequest], resale_rate: float, now: datetime
) -> None:
    """Hold future units for every request, or for none (InsufficientSupply says which
    line is short)."""
    return_permille = confidence_permille("customer_return", resale_rate)
    for req in sorted(requests, key=lambda r: (r.supply_id, r.hold_id)):
        line = session.get(SupplyRow, req.supply_id)
        if line is None:
            raise NotFound(f"unknown supply line {req.supply_id}")
        fresh = insert_if_absent(
            session,
            SupplyHoldRow,
            dict(
                id=req.hold_id,
                order_id=req.order_id,
                line_id=req.line_id,
                sku=req.sku,
                supply_id=req.supply_id,
                node_id=line.node_id,
                qty=req.qty,
                round=req.round,
                status="held",
                created_at=now,
                updated_at=now,
            ),
        )
        if not fresh:
            continue  # this call already ran: the hold stands
        permille = case((col(SupplyRow.kind) == "customer_return", return_permille), else_=PERMILLE)
        result = session.exec(
            update(SupplyRow)
            .where(
                col(SupplyRow.id) == req.supply_id,
                col(SupplyRow.status) == "open",
                col(SupplyRow.allocated) + req.qty <= col(SupplyRow.expected) * permille / PERMILLE,
            )
            .values(allocated=SupplyRow.allocated + req.qty, updated_at=now)
        )
        if result.rowcount != 1:  # the caller's rollback removes the rows added above
            raise InsufficientSupply(
                f"{req.supply_id} cannot hold {req.qty} x {req.sku} for line {req.line_id}"
            )
    session.flush()


def release(session: Session, order_id: str, now: datetime) -> int:
    """Give back every future unit an order still holds; the units given back.

    Its supply lines are locked first, as a receipt locks them: a receipt serving this
    order at the same moment either finished (the hold is served, a stock hold now, for
    the stock ledger to release after this) or waits for this to end."""
    lines = sorted({row.supply_id for row in _holds(session, order_id=order_id, status="held")})
    for supply_id in lines:
        session.get(SupplyRow, supply_id, with_for_update=True, populate_existing=True)
    units = 0
    for row in _holds(session, order_id=order_id, status="held", fresh=True):
        freed = session.exec(
            update(SupplyHoldRow)
            .where(col(SupplyHoldRow.id) == row.id, col(SupplyHoldRow.status) == "held")
            .values(status="released", updated_at=now)
        )
        if freed.rowcount == 1:
            session.exec(
                update(SupplyRow)
                .where(col(SupplyRow.id) == row.supply_id)
                .values(allocated=SupplyRow.allocated - row.qty, updated_at=now)
            )
            units += row.qty
    session.flush()
    return units


def holds_of(session: Session, order_id: str) -> list[PreorderHold]:
    rows = session.exec(
        select(SupplyHoldRow, col(SupplyRow.eta))
        .join(SupplyRow, col(SupplyRow.id) == SupplyHoldRow.supply_id)
        .where(SupplyHoldRow.order_id == order_id)
        .order_by(col(SupplyHoldRow.created_at), col(SupplyHoldRow.id))
    )
    return [
        PreorderHold(
            hold_id=row.id,
            line_id=row.line_id,
            sku=row.sku,
            supply_id=row.supply_id,
            node_id=row.node_id,
            qty=row.qty,
            round=row.round,
            status=row.status,  # type: ignore[arg-type]
            eta=eta,
        )
        for row, eta in rows
    ]


def balance_problems(session: Session) -> list[str]:
    """Supply lines whose allocation differs from the pre-orders holding them (should be
    none), or that hold more than they will bring."""
    held: dict[str, int] = {}
    for hold_row in _holds(session, status="held"):
        held[hold_row.supply_id] = held.get(hold_row.supply_id, 0) + hold_row.qty
    problems = []
    for row in session.exec(select(SupplyRow)):
        if row.allocated != held.get(row.id, 0):
            problems.append(
                f"supply {row.id}: {row.allocated} allocated, pre-orders hold {held.get(row.id, 0)}"
            )
        if row.allocated > row.expected:
            problems.append(
                f"supply {row.id}: {row.allocated} allocated of {row.expected} expected"
            )
    return problems


def oversold(session: Session) -> int:
    """Future units promised beyond what supply brought: units served to pre-orders beyond
    the sellable units a line received, and units held beyond what an open line still
    expects. Zero is the only good value."""
    served: dict[str, int] = {}
    for hold_row in _holds(session, status="served"):
        served[hold_row.supply_id] = served.get(hold_row.supply_id, 0) + hold_row.qty
    units = 0
    for row in session.exec(select(SupplyRow)):
        units += max(0, served.get(row.id, 0) - (row.received - row.damaged))
        if row.status == "open":
            units += max(0, row.allocated - row.expected)
    return units


# --- Supply lines ---------------------------------------------------------------------


def open_lines(
    session: Session, resale_rate: float, skus: list[str] | None = None
) -> dict[str, list[SupplyLine]]:
    """Open supply lines per SKU, soonest first, with what pre-orders may still take."""
    query = select(SupplyRow).where(SupplyRow.status == "open")
    if skus is not None:
        query = query.where(col(SupplyRow.sku).in_(sorted(set(skus))))
    out: dict[str, list[SupplyLine]] = {}
    for row in session.exec(query.order_by(col(SupplyRow.eta), col(SupplyRow.id))):
        out.setdefault(row.sku, []).append(_line(row, resale_rate))
    return out


def receipt_times(session: Session, timezones: dict[str, str]) -> dict[str, time]:
    """Per node, the local time it usually receives supply, from its recent receipts."""
    recent = session.exec(
        select(MovementRow.node_id, MovementRow.at)
        .where(MovementRow.kind == "supply_receipt")
        .order_by(col(MovementRow.at).desc())
        .limit(RECEIPTS_KEPT * max(len(timezones), 1))
    )
    seen: dict[str, list[time]] = {}
    for node_id, at in recent:
        zone = timezones.get(node_id)
        times = seen.setdefault(node_id, [])
        if zone is not None and len(times) < RECEIPTS_KEPT:
            times.append(at.astimezone(ZoneInfo(zone)).time())
    return {node_id: usual_receipt_time(times) for node_id, times in seen.items() if times}


def changed_lines(
    session: Session, resale_rate: float, since: datetime
) -> list[tuple[str, str, SupplyLine | None]]:
    """(supply id, sku, the line if still open) for each line changed since `since`."""
    query = select(SupplyRow).where(col(SupplyRow.updated_at) >= since)
    return [
        (row.id, row.sku, _line(row, resale_rate) if row.status == "open" else None)
        for row in session.exec(query)
    ]


def load_line(session: Session, supply: Supply, now: datetime) -> None:
    """A supply row of a network document: opens the line, or updates one nothing has
    touched yet. A line pre-orders hold or that received units changes only through its
    supply events (they tell the pre-orders; a reload would not)."""
    row = session.get(SupplyRow, supply.id, with_for_update=True)
    if row is None:
        session.add(
            SupplyRow(
                id=supply.id,
                kind=supply.kind,
                sku=supply.sku,
                node_id=supply.node_id,
                expected=supply.qty,
                eta=supply.eta,
                updated_at=now,
            )
        )
        return
    if row.status != "open" or row.received or _holds(session, supply_id=row.id):
        return  # pre-orders or receipts: its supply events own it now, not a network load
    row.kind, row.sku, row.node_id = supply.kind, supply.sku, supply.node_id
    row.expected, row.eta, row.updated_at = supply.qty, supply.eta, now


def open_line(
    session: Session,
    supply_id: str,
    kind: str,
    sku: str,
    node_id: str,
    qty: int,
    eta: date,
    now: datetime,
) -> bool:
    """Open a supply line (a purchase order, a return, a transfer on its way); False when
    a line of that id exists already (this call ran before, or the id is taken)."""
    return insert_if_absent(
        session,
        SupplyRow,
        dict(
            id=supply_id,
            kind=kind,
            sku=sku,
            node_id=node_id,
            expected=qty,
            eta=eta,
            allocated=0,
            received=0,
            damaged=0,
            status="open",
            updated_at=now,
        ),
    )


def shrink(
    session: Session, supply_id: str, units: int, resale_rate: float, now: datetime
) -> list[SupplyNews]:
    """Fewer units will come on a line (a transfer short-picked or short-shipped): the
    youngest pre-orders it no longer covers lose their place."""
    row = session.get(SupplyRow, supply_id, with_for_update=True)
    if row is None or row.status != "open" or units <= 0:
        return []
    row.expected = max(0, row.expected - units)
    row.updated_at = now
    news = _trim(session, row, resale_rate, now)
    session.flush()
    return news


def move_eta(session: Session, supply_id: str, eta: date, now: datetime) -> list[SupplyNews]:
    """The line comes on another day (a transfer shipped late or early): the pre-orders
    waiting for it hear of the new date."""
    row = session.get(SupplyRow, supply_id, with_for_update=True)
    if row is None or row.status != "open" or row.eta == eta:
        return []
    row.eta, row.updated_at = eta, now
    session.flush()
    return [
        SupplyNews(order_id=hold.order_id, kind="eta_moved", units=hold.qty)
        for hold in _waiting(session, row.id)
    ]


def end_line(session: Session, supply_id: str, status: str, now: datetime) -> list[SupplyNews]:
    """Nothing more will come on a line (`cancelled`, or `closed` when lost on its way):
    the pre-orders still waiting for it lose their place."""
    row = session.get(SupplyRow, supply_id, with_for_update=True)
    if row is None or row.status != "open":
        return []
    row.status, row.expected, row.updated_at = status, 0, now
    news = _drop(session, row, _waiting(session, row.id), now)
    session.flush()
    return news


def apply_event(
    session: Session, event: SupplyEvent, fingerprint: str, resale_rate: float, now: datetime
) -> SupplyEventResult:
    """Apply a supply event once (a replay returns the first result): open, change, cancel
    or receive a line, and say which pre-orders it served, dropped or moved."""
    # Ids are the supply line's own: a system of another node cannot use one up.
    key, previous = claim_scoped_event(
        session, "supply", event.supply_id, event.event_id, fingerprint
    )
    if previous is not None:
        return SupplyEventResult.model_validate({**previous, "applied": False})
    event.check_eta(now)
    if event.type in ("po_created", "return_authorised"):
        row = _open(session, event, now)
        news: list[SupplyNews] = []
    else:
        found = session.get(SupplyRow, event.supply_id, with_for_update=True)
        if found is None:
            raise NotFound(f"unknown supply line {event.supply_id}")
        row = found
        if row.status != "open":
            raise InventoryConflict(
                f"supply {row.id} is {row.status}: a {event.type} cannot apply to it"
            )
        _fits_kind(row, event)
        if event.type in ("received", "return_received"):
            news = _receive(session, row, event, resale_rate, now)
        elif event.type == "po_cancelled":
            row.status, row.expected = "cancelled", 0
            news = _drop(session, row, _waiting(session, row.id), now)
        else:  # po_updated, asn
            news = _change(session, row, event, resale_rate, now)
        row.updated_at = now
    session.flush()
    result = SupplyEventResult(
        event_id=event.event_id, applied=True, line=_line(row, resale_rate), news=news
    )
    record_event_result(session, key, result.model_dump(mode="json"))
    return result


def _open(session: Session, event: SupplyEvent, now: datetime) -> SupplyRow:
    assert event.sku and event.node_id and event.qty and event.eta  # the event's validator
    line = (event.supply_id, event.kind, event.sku, event.node_id, event.qty, event.eta)
    if not open_line(session, *line, now):
        raise InventoryConflict(f"supply line {event.supply_id} exists already")
    row = session.get(SupplyRow, event.supply_id)
    assert row is not None
    return row


def _fits_kind(row: SupplyRow, event: SupplyEvent) -> None:
    returns = row.kind == "customer_return"
    if returns != (event.type == "return_received") and event.type in (
        "received",
        "return_received",
    ):
        wanted = "return_received" if returns else "received"
        raise InvalidSupplyEvent(f"supply {row.id} is a {row.kind}: send {wanted}")
    if returns and event.type in ("po_updated", "po_cancelled", "asn"):
        raise InvalidSupplyEvent(f"supply {row.id} is a customer return, not a purchase order")


def _receive(
    session: Session, row: SupplyRow, event: SupplyEvent, resale_rate: float, now: datetime
) -> list[SupplyNews]:
    """Units arrived: they become stock, and the pre-orders waiting for them, oldest first,
    hold them before anyone else can."""
    qty = event.qty or 0
    sellable = 0 if event.grade == "damaged" else qty
    if sellable:
        _into_stock(session, row, sellable, f"{row.id}/{event.event_id}", now)  # the line's id
    served, _ = serve_oldest_first(_waiting(session, row.id), sellable)
    news = []
    for hold in served:
        held = session.get(SupplyHoldRow, hold.hold_id)
        assert held is not None
        _serve(session, row, held, now)
        news.append(SupplyNews(order_id=held.order_id, kind="served", units=held.qty))
    row.received += qty
    row.damaged += qty - sellable
    row.expected = max(0, row.expected - qty)
    if event.closes:
        row.status, row.expected = "closed", 0
        news += _drop(session, row, _waiting(session, row.id), now)
    else:
        news += _trim(session, row, resale_rate, now)
    return news


def _change(
    session: Session, row: SupplyRow, event: SupplyEvent, resale_rate: float, now: datetime
) -> list[SupplyNews]:
    """A new quantity or date: the youngest pre-orders the line no longer covers lose
    their place; the others hear of a new date."""
    if event.qty is not None:
        row.expected = event.qty
    news = _trim(session, row, resale_rate, now)
    if event.eta is not None and event.eta != row.eta:
        row.eta = event.eta
        news += [
            SupplyNews(order_id=hold.order_id, kind="eta_moved", units=hold.qty)
            for hold in _waiting(session, row.id)
        ]
    return news


def _trim(session: Session, row: SupplyRow, resale_rate: float, now: datetime) -> list[SupplyNews]:
    cover = row.expected * confidence_permille(row.kind, resale_rate) // PERMILLE
    return _drop(session, row, beyond_cover(_waiting(session, row.id), cover), now)


def _drop(
    session: Session, row: SupplyRow, holds: list[Waiting], now: datetime
) -> list[SupplyNews]:
    news = []
    for hold in holds:
        held = session.get(SupplyHoldRow, hold.hold_id)
        assert held is not None
        row.allocated -= held.qty
        held.status, held.updated_at = "dropped", now
        news.append(SupplyNews(order_id=held.order_id, kind="dropped", units=held.qty))
    return news


def _serve(session: Session, row: SupplyRow, held: SupplyHoldRow, now: datetime) -> None:
    """The pre-order's future units become a stock hold of the order, under its round."""
    session.add(
        ReservationRow(
            id=held.id,
            order_id=held.order_id,
            line_id=held.line_id,
            sku=held.sku,
            node_id=held.node_id,
            qty=held.qty,
            status="held",
            created_at=now,
            updated_at=now,
        )
    )
    ledger.change_stock(session, held.sku, held.node_id, 0, held.qty, now)
    ledger.record_movement(
        session,
        held.sku,
        held.node_id,
        "reservation",
        0,
        held.qty,
        f"serve:{held.id}",
        held.order_id,
        now,
    )
    row.allocated -= held.qty
    held.status, held.updated_at = "served", now


def _into_stock(session: Session, row: SupplyRow, units: int, event_id: str, now: datetime) -> None:
    # The first units of this SKU at this node open its stock record (once, whoever is
    # first: a concurrent first receipt waits, then finds it).
    insert_if_absent(
        session,
        StockRow,
        dict(
            sku=row.sku, node_id=row.node_id, on_hand=0, reserved=0, safety_stock=0, updated_at=now
        ),
    )
    stock = session.get(
        StockRow, (row.sku, row.node_id), with_for_update=True, populate_existing=True
    )
    ledger.within_bounds(row.sku, row.node_id, (stock.on_hand if stock else 0) + units)
    ledger.change_stock(session, row.sku, row.node_id, units, 0, now)
    ledger.record_movement(
        session, row.sku, row.node_id, "supply_receipt", units, 0, event_id, None, now
    )
    session.flush()


def _waiting(session: Session, supply_id: str) -> list[Waiting]:
    return [
        Waiting(hold_id=row.id, order_id=row.order_id, qty=row.qty, since=row.created_at)
        for row in _holds(session, supply_id=supply_id, status="held")
    ]


def _holds(
    session: Session,
    order_id: str | None = None,
    supply_id: str | None = None,
    status: str = "",
    fresh: bool = False,
) -> list[SupplyHoldRow]:
    query = select(SupplyHoldRow)
    if fresh:  # as committed now, not as this session read them before
        query = query.execution_options(populate_existing=True)
    if order_id is not None:
        query = query.where(SupplyHoldRow.order_id == order_id)
    if supply_id is not None:
        query = query.where(SupplyHoldRow.supply_id == supply_id)
    if status:
        query = query.where(SupplyHoldRow.status == status)
    return list(session.exec(query.order_by(col(SupplyHoldRow.created_at), col(SupplyHoldRow.id))))


def _line(row: SupplyRow, resale_rate: float) -> SupplyLine:
    permille = confidence_permille(row.kind, resale_rate)
    return SupplyLine(
        supply_id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        sku=row.sku,
        node_id=row.node_id,
        eta=row.eta,
        expected=row.expected,
        allocatable=allocatable(row.expected, row.allocated, permille)
        if row.status == "open"
        else 0,
        allocated=row.allocated,
    )
