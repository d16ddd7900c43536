"""The inventory ledger: the single source of truth for stock.

Every change goes through here, in the caller's transaction, and leaves a movement with a
unique source id, so that an event or activity retried by the field or by Temporal applies
once. A reservation never makes ATP negative: it is one conditional UPDATE, which
PostgreSQL re-checks after any concurrent writer commits (and SQLite serialises).
"""

from datetime import datetime

from pydantic import BaseModel, NonNegativeInt, PositiveInt
from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from db.engine import insert_if_absent
from db.events import claim_scoped_event, record_event_result
from db.tables import MovementRow, ReservationRow, StockRow
from domain.errors import (
    InsufficientStock,
    InventoryConflict,
    StockOutOfBounds,
    UnknownReference,
)
from domain.inventory import MAX_ON_HAND, InventoryEvent, InventoryEventResult, StockPosition


class ReservationRequest(BaseModel):
    reservation_id: str  # {order_id}:{line_id}:{node_id}:{sourcing round}
    order_id: str
    line_id: str
    sku: str
    node_id: str
    qty: PositiveInt
    protection_qty: NonNegativeInt = 0  # store shelves an online order may not take


class HeldUnits(BaseModel):
    reservation_id: str
    line_id: str
    sku: str
    node_id: str
    qty: int


def reserve(session: Session, requests: list[ReservationRequest], now: datetime) -> None:
    """Hold stock for every request, or for none (InsufficientStock names what is short)."""
    # A fixed lock order keeps two multi-line orders from deadlocking on PostgreSQL.
    for req in sorted(requests, key=lambda r: (r.sku, r.node_id, r.reservation_id)):
        # The hold's row first: a retried activity racing the first attempt waits for it
        # here and then finds the hold made, instead of seeing the stock already taken.
        fresh = insert_if_absent(
            session,
            ReservationRow,
            dict(
                id=req.reservation_id,
                order_id=req.order_id,
                line_id=req.line_id,
                sku=req.sku,
                node_id=req.node_id,
                qty=req.qty,
                status="held",
                created_at=now,
                updated_at=now,
            ),
        )
        if not fresh:
            continue  # this activity already ran: the hold stands
        held_back = StockRow.safety_stock + req.protection_qty
        result = session.exec(
            update(StockRow)
            .where(
                col(StockRow.sku) == req.sku,
                col(StockRow.node_id) == req.node_id,
                col(StockRow.on_hand) - col(StockRow.reserved) - held_back >= req.qty,
            )
            .values(reserved=StockRow.reserved + req.qty, updated_at=now)
        )
        if result.rowcount != 1:  # the caller's rollback removes the rows added above
            raise InsufficientStock(
                f"{req.node_id} cannot hold {req.qty} x {req.sku} for line {req.line_id}"
            )
        record_movement(
            session,
            req.sku,
            req.node_id,
            "reservation",
            0,
            req.qty,
            f"reserve:{req.reservation_id}",
            req.order_id,
            now,
        )
    session.flush()


def release(
    session: Session,
    order_id: str,
    now: datetime,
    node_id: str | None = None,
    round: int | None = None,
) -> list[HeldUnits]:
    """Give back every unit still held for an order (at one node, or everywhere; of one
    sourcing round, the one a shipment was planned in, or of all)."""
    return _settle(session, order_id, node_id, now, "released", leave_stock=False, round=round)


def commit(
    session: Session, order_id: str, node_id: str, now: datetime, round: int | None = None
) -> list[HeldUnits]:
    """The node shipped: held units leave its stock (on hand and reserved both drop). With
    `round`, only the shipment's own holds: another shipment of the order at the node
    keeps its."""
    return _settle(session, order_id, node_id, now, "committed", leave_stock=True, round=round)


def _settle(
    session: Session,
    order_id: str,
    node_id: str | None,
    now: datetime,
    status: str,
    leave_stock: bool,
    round: int | None = None,
) -> list[HeldUnits]:
    kind, prefix = ("shipment", "commit") if leave_stock else ("release", "release")
    settled = []
    for row in _held(session, order_id, node_id, round):
        on_hand = -row.qty if leave_stock else 0
        change_stock(session, row.sku, row.node_id, on_hand, -row.qty, now)
        row.status, row.updated_at = status, now
        record_movement(
            session,
            row.sku,
            row.node_id,
            kind,
            on_hand,
            -row.qty,
            f"{prefix}:{row.id}",
            order_id,
            now,
        )
        settled.append(_units(row))
    session.flush()
    return settled


def write_off_short_pick(
    session: Session,
    order_id: str,
    node_id: str,
    line_id: str,
    missing: int,
    source_id: str,
    now: datetime,
    round: int | None = None,
) -> int:
    """Units the picker could not find: they leave the stock and the order's hold (the
    shipment's own, with `round`).

    Returns how many units were written off (0 when this pick was already recorded).
    """
    return _cut(session, order_id, node_id, line_id, missing, source_id, now, round, True)


def release_part(
    session: Session,
    holder: str,
    node_id: str,
    line_id: str,
    units: int,
    source_id: str,
    now: datetime,
) -> int:
    """Give back part of a line's hold (units picked but not sent): they stay in the
    node's stock, free again. Once per source id; the units given back."""
    return _cut(session, holder, node_id, line_id, units, source_id, now, None, False)


def _cut(
    session: Session,
    order_id: str,
    node_id: str,
    line_id: str,
    units: int,
    source_id: str,
    now: datetime,
    round: int | None,
    written_off: bool,
) -> int:
    if session.exec(select(MovementRow.id).where(MovementRow.source_id == source_id)).first():
        return 0
    rows = [r for r in _held(session, order_id, node_id, round) if r.line_id == line_id]
    done = 0
    for number, row in enumerate(rows):
        take = min(row.qty, units - done)
        if take <= 0:
            break
        on_hand = -take if written_off else 0
        change_stock(session, row.sku, node_id, on_hand, -take, now)
        row.qty -= take
        row.status = "held" if row.qty else "released"
        row.updated_at = now
        record_movement(
            session,
            row.sku,
            node_id,
            "short_pick" if written_off else "release",
            on_hand,
            -take,
            f"{source_id}:{number}" if number else source_id,
            order_id,
            now,
        )
        done += take
    session.flush()
    return done


class ShippedUnheld(BaseModel):
    """Units a node shipped that the order no longer held there: taken from its free stock
    (`from_stock`), and what even its free stock did not have (`short`: a count is due)."""

    line_id: str
    from_stock: int
    short: int


def ship_unheld(
    session: Session,
    order_id: str,
    node_id: str,
    lines: list[tuple[str, str, int]],
    source_id: str,
    now: datetime,
) -> list[ShippedUnheld]:
    """A node shipped units after the OMS took them back from it (its notice came too
    late): the field's reality wins. Each line's units leave the node's free stock, with
    a movement and a committed hold that say so; never another order's reserved units.
    Applied once per `source_id`."""
    shipped = []
    for line_id, sku, qty in lines:
        hold_id = f"{order_id}:{line_id}:{node_id}:{source_id}"
        done = session.get(ReservationRow, hold_id)
        if done is not None:
            shipped.append(
                ShippedUnheld(line_id=line_id, from_stock=done.qty, short=qty - done.qty)
            )
            continue
        stock = session.get(StockRow, (sku, node_id), with_for_update=True)
        free = max(stock.on_hand - stock.reserved, 0) if stock is not None else 0
        take = min(qty, free)
        if take:
            change_stock(session, sku, node_id, -take, 0, now)
            record_movement(
                session,
                sku,
                node_id,
                "shipped_unheld",
                -take,
                0,
                f"unheld:{hold_id}",
                order_id,
                now,
            )
        session.add(
            ReservationRow(
                id=hold_id,
                order_id=order_id,
                line_id=line_id,
                sku=sku,
                node_id=node_id,
                qty=take,
                status="committed",
                created_at=now,
                updated_at=now,
            )
        )
        shipped.append(ShippedUnheld(line_id=line_id, from_stock=take, short=qty - take))
    session.flush()
    return shipped


class CutHold(BaseModel):
    order_id: str
    line_id: str
    node_id: str
    qty: int


def count_below_holds(
    session: Session, node_id: str, sku: str, counted: int, source_id: str, now: datetime
) -> list[CutHold]:
    """A count (stock discrepancy) is the truth: on hand becomes `counted`; holds it no
    longer covers are cut, newest first, and returned so their orders can be rerouted.
    Applied once per source id; a replay returns the same cuts."""
    query = select(MovementRow).where(col(MovementRow.source_id).startswith(source_id))
    done = list(session.exec(query))
    if done:
        return [_cut_of(session, m, source_id) for m in done if m.kind == "count_cut"]
    stock = session.get(StockRow, (sku, node_id), with_for_update=True)
    if stock is None:
        raise UnknownReference(f"no stock record for sku {sku} at node {node_id}")
    cuts = []
    excess = stock.reserved - counted
    if excess > 0:
        holds = [r for r in _held(session, None, node_id) if r.sku == sku]
        for row in sorted(holds, key=lambda r: (r.created_at, r.id), reverse=True):
            take = min(row.qty, excess)
            if take <= 0:
                break
            change_stock(session, sku, node_id, 0, -take, now)
            row.qty -= take
            row.status = "held" if row.qty else "released"
            row.updated_at = now
            record_movement(
                session,
                sku,
                node_id,
                "count_cut",
                0,
                -take,
                f"{source_id}:{row.id}",
                row.order_id,
                now,
            )
            cuts.append(
                CutHold(order_id=row.order_id, line_id=row.line_id, node_id=node_id, qty=take)
            )
            excess -= take
        session.flush()
        session.refresh(stock)
    delta = counted - stock.on_hand
    change_stock(session, sku, node_id, delta, 0, now)
    record_movement(session, sku, node_id, "count", delta, 0, source_id, None, now)
    session.flush()
    return cuts


def _cut_of(session: Session, movement: MovementRow, prefix: str) -> CutHold:
    reservation = session.get(ReservationRow, movement.source_id[len(prefix) + 1 :])
    return CutHold(
        order_id=movement.order_id or "",
        line_id=reservation.line_id if reservation else "",
        node_id=movement.node_id,
        qty=-movement.reserved_delta,
    )


def apply_inventory_event(
    session: Session, event: InventoryEvent, fingerprint: str, now: datetime
) -> InventoryEventResult:
    """Apply a sale, receipt, adjustment or count once; a replay returns the first result."""
    # Ids are the node's own: another node's system cannot use one up.
    key, previous = claim_scoped_event(
        session, "inventory", event.node_id, event.event_id, fingerprint
    )
    if previous is not None:
        return InventoryEventResult.model_validate({**previous, "applied": False})
    stock = session.exec(
        select(StockRow)
        .where(StockRow.sku == event.sku, StockRow.node_id == event.node_id)
        .with_for_update()
    ).first()
    if stock is None:
        if event.on_hand_delta(0) <= 0:
            raise UnknownReference(f"no stock of sku {event.sku} at node {event.node_id}")
        # The first receipt (or count) of a SKU at a node opens its stock record.
        stock = StockRow(sku=event.sku, node_id=event.node_id, updated_at=now)
        session.add(stock)
        session.flush()
    delta = event.on_hand_delta(stock.on_hand)
    new_on_hand = stock.on_hand + delta
    within_bounds(event.sku, event.node_id, new_on_hand)
    if new_on_hand < stock.reserved:
        # Those units are promised to orders: the field must report a short pick or a
        # stock discrepancy, which reroutes the orders, rather than silently oversell.
        raise InventoryConflict(
            f"{event.type} would leave {new_on_hand} on hand at {event.node_id} for "
            f"{event.sku}, below the {stock.reserved} units reserved for orders"
        )
    if delta:
        stock.on_hand, stock.updated_at = new_on_hand, now
        # The movement names its event within its node: ids are each node's own.
        source = f"{event.node_id}/{event.event_id}"
        record_movement(session, event.sku, event.node_id, event.type, delta, 0, source, None, now)
    result = InventoryEventResult(event_id=event.event_id, applied=True, position=_position(stock))
    record_event_result(session, key, result.model_dump(mode="json"))
    session.flush()
    return result


def set_stock(
    session: Session,
    sku: str,
    node_id: str,
    on_hand: int,
    safety_stock: int,
    source_id: str,
    now: datetime,
) -> None:
    """Set a stock level from a network load, logging the difference as a movement."""
    stock = session.get(StockRow, (sku, node_id), with_for_update=True)
    if stock is None:
        stock = StockRow(sku=sku, node_id=node_id, on_hand=0, reserved=0, updated_at=now)
        session.add(stock)
    if on_hand < stock.reserved:
        raise InventoryConflict(
            f"{sku} at {node_id}: on hand {on_hand} is below the {stock.reserved} units reserved"
        )
    delta = on_hand - stock.on_hand
    stock.on_hand, stock.safety_stock, stock.updated_at = on_hand, safety_stock, now
    if delta:
        record_movement(session, sku, node_id, "network_load", delta, 0, source_id, None, now)


def add_stock(
    session: Session, rows: list[tuple[str, str, int, int]], source_prefix: str, now: datetime
) -> None:
    """Insert new stock rows (sku, node_id, on_hand, safety_stock), each with its movement."""
    if not rows:
        return
    connection = session.connection()
    for start in range(0, len(rows), 10_000):
        chunk = rows[start : start + 10_000]
        connection.execute(
            insert(StockRow.__table__),  # type: ignore[attr-defined]
            [
                dict(
                    sku=sku,
                    node_id=node,
                    on_hand=qty,
                    reserved=0,
                    safety_stock=safety,
                    updated_at=now,
                )
                for sku, node, qty, safety in chunk
            ],
        )
        moves = [
            dict(
                at=now,
                sku=sku,
                node_id=node,
                kind="network_load",
                on_hand_delta=qty,
                reserved_delta=0,
                source_id=f"{source_prefix}:{sku}:{node}",
                order_id=None,
            )
            for sku, node, qty, _ in chunk
            if qty
        ]
        if moves:
            connection.execute(insert(MovementRow.__table__), moves)  # type: ignore[attr-defined]


def positions(session: Session, sku: str) -> list[StockPosition]:
    rows = session.exec(select(StockRow).where(StockRow.sku == sku).order_by(StockRow.node_id))
    return [_position(row) for row in rows]


def reservations(session: Session, order_id: str) -> list[ReservationRow]:
    return list(
        session.exec(
            select(ReservationRow)
            .where(ReservationRow.order_id == order_id)
            .order_by(ReservationRow.id)
        )
    )


def held_in_round(session: Session, order_id: str, round: int) -> list[HeldUnits]:
    """The units an order still holds under one sourcing round, everywhere."""
    return [_units(row) for row in _held(session, order_id, None, round)]


def balance_problems(session: Session) -> list[str]:
    """Stock rows whose figures differ from the sum of their movements (should be none)."""
    sums = {
        (sku, node): (on_hand, reserved)
        for sku, node, on_hand, reserved in session.exec(
            select(
                MovementRow.sku,
                MovementRow.node_id,
                func.sum(MovementRow.on_hand_delta),
                func.sum(MovementRow.reserved_delta),
            ).group_by(MovementRow.sku, MovementRow.node_id)
        )
    }
    problems = []
    for row in session.exec(select(StockRow)):
        on_hand, reserved = sums.get((row.sku, row.node_id), (0, 0))
        if (row.on_hand, row.reserved) != (on_hand, reserved):
            problems.append(
                f"{row.sku}@{row.node_id}: stock {row.on_hand}/{row.reserved}, "
                f"movements {on_hand}/{reserved}"
            )
        if row.on_hand - row.reserved < 0 or row.reserved < 0:
            problems.append(f"{row.sku}@{row.node_id}: negative availability")
    return problems


def _held(
    session: Session, order_id: str | None, node_id: str | None, round: int | None = None
) -> list[ReservationRow]:
    query = select(ReservationRow).where(ReservationRow.status == "held")
    if round is not None:  # the ids end with the sourcing round that made them
        query = query.where(col(ReservationRow.id).endswith(f":r{round}"))
    if order_id is not None:
        query = query.where(ReservationRow.order_id == order_id)
    if node_id is not None:
        query = query.where(ReservationRow.node_id == node_id)
    return list(session.exec(query.order_by(ReservationRow.sku, ReservationRow.id)))


def within_bounds(sku: str, node_id: str, on_hand: int) -> None:
    """Refuse (422) what would put more units on the books than a counter holds."""
    if on_hand > MAX_ON_HAND:
        raise StockOutOfBounds(
            f"{sku} at {node_id} would reach {on_hand:,} units on hand, "
            f"beyond the {MAX_ON_HAND:,} a node's books hold"
        )


def change_stock(
    session: Session, sku: str, node_id: str, on_hand: int, reserved: int, now: datetime
) -> None:
    session.exec(
        update(StockRow)
        .where(col(StockRow.sku) == sku, col(StockRow.node_id) == node_id)
        .values(
            on_hand=StockRow.on_hand + on_hand,
            reserved=StockRow.reserved + reserved,
            updated_at=now,
        )
    )


def record_movement(
    session: Session,
    sku: str,
    node_id: str,
    kind: str,
    on_hand: int,
    reserved: int,
    source_id: str,
    order_id: str | None,
    now: datetime,
) -> None:
    session.add(
        MovementRow(
            at=now,
            sku=sku,
            node_id=node_id,
            kind=kind,
            on_hand_delta=on_hand,
            reserved_delta=reserved,
            source_id=source_id,
            order_id=order_id,
        )
    )


def _units(row: ReservationRow) -> HeldUnits:
    return HeldUnits(
        reservation_id=row.id, line_id=row.line_id, sku=row.sku, node_id=row.node_id, qty=row.qty
    )


def _position(row: StockRow) -> StockPosition:
    return StockPosition(
        sku=row.sku,
        node_id=row.node_id,
        on_hand=row.on_hand,
        reserved=row.reserved,
        safety_stock=row.safety_stock,
    )
