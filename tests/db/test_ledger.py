"""The inventory ledger, on the embedded default (SQLite) and on PostgreSQL.

Every scenario ends with `balance_problems() == []`: the stock figures equal the sum of
the movement log, and nothing is negative.
"""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col, select

from db import ledger
from db.engine import make_engine, unit_of_work
from db.events import event_key
from db.ledger import ReservationRequest
from db.network import load_network, read_node
from db.tables import MovementRow, ProcessedEventRow, ReservationRow, StockRow
from domain.errors import (
    DuplicateEventConflict,
    InsufficientStock,
    InventoryConflict,
    UnknownReference,
)
from domain.inventory import InventoryEvent, InventoryEventResult, StockPosition
from domain.network import NetworkDocument
from tests.networks import small_network

# The small network: SKU-1 50 @ DC-PARIS and 30 @ DC-LYON, SKU-2 10 @ DC-LYON,
# SKU-3 8 @ STORE-LILLE (a store with protection_qty 1); no safety stock.


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The small network loaded in SQLite (fixture `engine`) or in a fresh PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("engine")
        return
    engine = make_engine(request.getfixturevalue("pg_url"))
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(small_network()))
    yield engine
    engine.dispose()


@pytest.fixture
def order_id() -> str:
    return f"A-{uuid.uuid4().hex[:8]}"


# --- helpers ------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def req(
    order_id: str,
    sku: str,
    node_id: str,
    qty: int,
    line_id: str = "1",
    round_: int = 1,
    protection_qty: int = 0,
) -> ReservationRequest:
    return ReservationRequest(
        reservation_id=f"{order_id}:{line_id}:{node_id}:r{round_}",
        order_id=order_id,
        line_id=line_id,
        sku=sku,
        node_id=node_id,
        qty=qty,
        protection_qty=protection_qty,
    )


def reserve(engine: Engine, *requests: ReservationRequest) -> None:
    with unit_of_work(engine) as session:
        ledger.reserve(session, list(requests), now())


def position(engine: Engine, sku: str, node_id: str) -> StockPosition:
    with unit_of_work(engine) as session:
        found = [p for p in ledger.positions(session, sku) if p.node_id == node_id]
    assert len(found) == 1, f"no stock row for {sku} at {node_id}"
    return found[0]


def figures(engine: Engine, sku: str, node_id: str) -> tuple[int, int]:
    """(on_hand, reserved)."""
    p = position(engine, sku, node_id)
    return p.on_hand, p.reserved


def all_stock(engine: Engine) -> dict[tuple[str, str], tuple[int, int, int]]:
    with unit_of_work(engine) as session:
        rows = session.exec(select(StockRow))
        return {(r.sku, r.node_id): (r.on_hand, r.reserved, r.safety_stock) for r in rows}


def movements(engine: Engine, *kinds: str) -> list[MovementRow]:
    query = select(MovementRow).order_by(col(MovementRow.id))
    if kinds:
        query = query.where(col(MovementRow.kind).in_(kinds))
    with unit_of_work(engine) as session:
        return list(session.exec(query))


def holds(engine: Engine, order_id: str) -> list[ReservationRow]:
    with unit_of_work(engine) as session:
        return ledger.reservations(session, order_id)


def set_level(engine: Engine, sku: str, node_id: str, on_hand: int, safety_stock: int) -> None:
    with unit_of_work(engine) as session:
        ledger.set_stock(
            session, sku, node_id, on_hand, safety_stock, f"test:{uuid.uuid4().hex}", now()
        )


def assert_balanced(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        assert ledger.balance_problems(session) == []


def event(event_id: str, type_: str, qty: int, sku: str = "SKU-1", node_id: str = "DC-PARIS"):
    return InventoryEvent(event_id=event_id, type=type_, sku=sku, node_id=node_id, qty=qty)


def fingerprint(ev: InventoryEvent) -> str:
    """As the API computes it: a hash of the event's canonical JSON."""
    return hashlib.sha256(ev.model_dump_json().encode()).hexdigest()


def apply(engine: Engine, ev: InventoryEvent, print_: str | None = None) -> InventoryEventResult:
    with unit_of_work(engine) as session:
        return ledger.apply_inventory_event(session, ev, print_ or fingerprint(ev), now())


def processed(engine: Engine, ev: InventoryEvent) -> ProcessedEventRow | None:
    """The record that an event applied: its id within its node's."""
    with unit_of_work(engine) as session:
        return session.get(ProcessedEventRow, event_key("inventory", ev.node_id, ev.event_id))


# --- the starting point -------------------------------------------------------------


def test_a_loaded_network_is_balanced_and_its_load_is_logged(db: Engine) -> None:
    assert all_stock(db) == {
        ("SKU-1", "DC-PARIS"): (50, 0, 0),
        ("SKU-1", "DC-LYON"): (30, 0, 0),
        ("SKU-2", "DC-LYON"): (10, 0, 0),
        ("SKU-3", "STORE-LILLE"): (8, 0, 0),
    }
    loads = movements(db, "network_load")
    assert sorted((m.sku, m.node_id, m.on_hand_delta) for m in loads) == [
        ("SKU-1", "DC-LYON", 30),
        ("SKU-1", "DC-PARIS", 50),
        ("SKU-2", "DC-LYON", 10),
        ("SKU-3", "STORE-LILLE", 8),
    ]
    assert_balanced(db)


@pytest.mark.unbalanced  # it breaks the ledger to see the check find it
def test_balance_problems_reports_stock_changed_behind_the_ledger(db: Engine) -> None:
    # The check every scenario relies on must be able to fail.
    with unit_of_work(db) as session:
        session.exec(
            update(StockRow)
            .where(col(StockRow.sku) == "SKU-1", col(StockRow.node_id) == "DC-PARIS")
            .values(on_hand=49)
        )
    with unit_of_work(db) as session:
        problems = ledger.balance_problems(session)
    assert problems == ["SKU-1@DC-PARIS: stock 49/0, movements 50/0"]


# --- reserve ------------------------------------------------------------------------


def test_reserve_holds_units_and_logs_a_movement(db: Engine, order_id: str) -> None:
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 5))

    assert figures(db, "SKU-1", "DC-PARIS") == (50, 5)
    assert position(db, "SKU-1", "DC-PARIS").atp == 45
    [hold] = holds(db, order_id)
    assert (hold.id, hold.line_id, hold.sku, hold.node_id, hold.qty, hold.status) == (
        f"{order_id}:1:DC-PARIS:r1",
        "1",
        "SKU-1",
        "DC-PARIS",
        5,
        "held",
    )
    [move] = movements(db, "reservation")
    assert (move.sku, move.node_id, move.on_hand_delta, move.reserved_delta) == (
        "SKU-1",
        "DC-PARIS",
        0,
        5,
    )
    assert (move.source_id, move.order_id) == (f"reserve:{hold.id}", order_id)
    assert_balanced(db)


def test_reserve_holds_several_lines_at_several_nodes_in_one_go(db: Engine, order_id: str) -> None:
    reserve(
        db,
        req(order_id, "SKU-1", "DC-PARIS", 4, line_id="1"),
        req(order_id, "SKU-1", "DC-LYON", 6, line_id="1"),
        req(order_id, "SKU-2", "DC-LYON", 10, line_id="2"),
    )
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 4)
    assert figures(db, "SKU-1", "DC-LYON") == (30, 6)
    assert figures(db, "SKU-2", "DC-LYON") == (10, 10)
    assert position(db, "SKU-2", "DC-LYON").atp == 0
    assert sorted((h.sku, h.node_id, h.qty) for h in holds(db, order_id)) == [
        ("SKU-1", "DC-LYON", 6),
        ("SKU-1", "DC-PARIS", 4),
        ("SKU-2", "DC-LYON", 10),
    ]
    assert len(movements(db, "reservation")) == 3
    assert_balanced(db)


def test_reserving_exactly_atp_succeeds_and_one_unit_more_fails(db: Engine) -> None:
    reserve(db, req("A-1", "SKU-2", "DC-LYON", 10))
    with pytest.raises(InsufficientStock, match="DC-LYON cannot hold 1 x SKU-2 for line 1"):
        reserve(db, req("A-2", "SKU-2", "DC-LYON", 1))
    assert figures(db, "SKU-2", "DC-LYON") == (10, 10)
    assert holds(db, "A-2") == []
    assert_balanced(db)


def test_reserving_more_than_atp_changes_nothing_across_all_requests(
    db: Engine, order_id: str
) -> None:
    before = all_stock(db)
    moves_before = len(movements(db))
    # Requests are applied in (sku, node) order, so the two good holds are written to the
    # database before SKU-2 turns out short: all of them must be undone.
    with pytest.raises(InsufficientStock, match="DC-LYON cannot hold 11 x SKU-2 for line 2"):
        reserve(
            db,
            req(order_id, "SKU-2", "DC-LYON", 11, line_id="2"),
            req(order_id, "SKU-1", "DC-PARIS", 10, line_id="1"),
            req(order_id, "SKU-1", "DC-LYON", 5, line_id="1"),
        )
    assert all_stock(db) == before
    assert holds(db, order_id) == []
    assert len(movements(db)) == moves_before
    # And the same order can then hold what there is.
    reserve(
        db,
        req(order_id, "SKU-2", "DC-LYON", 10, line_id="2"),
        req(order_id, "SKU-1", "DC-PARIS", 10, line_id="1"),
    )
    assert figures(db, "SKU-2", "DC-LYON") == (10, 10)
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 10)
    assert_balanced(db)


def test_reserving_at_a_node_without_stock_of_the_sku_is_insufficient(db: Engine) -> None:
    with pytest.raises(InsufficientStock):
        reserve(db, req("A-1", "SKU-2", "DC-PARIS", 1))
    assert holds(db, "A-1") == []
    assert_balanced(db)


def test_safety_stock_is_never_reserved(db: Engine) -> None:
    set_level(db, "SKU-1", "DC-PARIS", on_hand=50, safety_stock=5)
    assert position(db, "SKU-1", "DC-PARIS").atp == 45

    with pytest.raises(InsufficientStock):
        reserve(db, req("A-1", "SKU-1", "DC-PARIS", 46))
    reserve(db, req("A-1", "SKU-1", "DC-PARIS", 45))
    with pytest.raises(InsufficientStock):
        reserve(db, req("A-2", "SKU-1", "DC-PARIS", 1))

    p = position(db, "SKU-1", "DC-PARIS")
    assert (p.on_hand, p.reserved, p.safety_stock, p.atp) == (50, 45, 5, 0)
    assert_balanced(db)


def test_store_protection_qty_is_kept_for_walk_in_customers(db: Engine) -> None:
    with unit_of_work(db) as session:
        store = read_node(session, "STORE-LILLE")
    assert store is not None and store.protection_qty == 1
    protect = store.protection_qty

    # 8 on the shelf, 1 protected: an online order may take 7.
    with pytest.raises(InsufficientStock):
        reserve(db, req("A-1", "SKU-3", "STORE-LILLE", 8, protection_qty=protect))
    reserve(db, req("A-1", "SKU-3", "STORE-LILLE", 7, protection_qty=protect))
    with pytest.raises(InsufficientStock):
        reserve(db, req("A-2", "SKU-3", "STORE-LILLE", 1, protection_qty=protect))
    assert figures(db, "SKU-3", "STORE-LILLE") == (8, 7)
    assert position(db, "SKU-3", "STORE-LILLE").online_atp(protect) == 0
    assert_balanced(db)


def test_protection_qty_adds_to_safety_stock(db: Engine) -> None:
    set_level(db, "SKU-3", "STORE-LILLE", on_hand=8, safety_stock=2)
    with pytest.raises(InsufficientStock):
        reserve(db, req("A-1", "SKU-3", "STORE-LILLE", 6, protection_qty=1))
    reserve(db, req("A-1", "SKU-3", "STORE-LILLE", 5, protection_qty=1))
    assert figures(db, "SKU-3", "STORE-LILLE") == (8, 5)
    assert_balanced(db)


def test_the_same_reservation_reserved_twice_holds_once(db: Engine, order_id: str) -> None:
    # Temporal runs activities at least once: a retried reserve must not hold again.
    request = req(order_id, "SKU-1", "DC-PARIS", 5)
    reserve(db, request)
    reserve(db, request)

    assert figures(db, "SKU-1", "DC-PARIS") == (50, 5)
    assert len(holds(db, order_id)) == 1
    assert len(movements(db, "reservation")) == 1
    assert_balanced(db)


def test_a_retried_reserve_holds_once_even_when_stock_is_gone(db: Engine, order_id: str) -> None:
    # The first attempt committed but its reply was lost; meanwhile others took the rest.
    request = req(order_id, "SKU-2", "DC-LYON", 6)
    reserve(db, request)
    reserve(db, req("B-1", "SKU-2", "DC-LYON", 4))
    reserve(db, request)  # no InsufficientStock: the hold stands
    assert figures(db, "SKU-2", "DC-LYON") == (10, 10)
    assert_balanced(db)


def test_the_same_reservation_twice_in_one_call_holds_once(db: Engine, order_id: str) -> None:
    request = req(order_id, "SKU-1", "DC-PARIS", 5)
    reserve(db, request, request)
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 5)
    assert len(holds(db, order_id)) == 1
    assert_balanced(db)


def test_a_reservation_of_negative_units_is_refused(db: Engine) -> None:
    # The ledger is the last line of defence: a negative hold would silently hand another
    # order's units back to ATP (reserved 10 -> 6 while A-1 still holds 10).
    reserve(db, req("A-1", "SKU-1", "DC-PARIS", 10))
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        reserve(db, req("B-1", "SKU-1", "DC-PARIS", -4))
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 10)
    assert holds(db, "B-1") == []
    assert_balanced(db)


# --- release ------------------------------------------------------------------------


def test_release_gives_units_back_and_is_idempotent(db: Engine, order_id: str) -> None:
    reserve(
        db,
        req(order_id, "SKU-1", "DC-PARIS", 4, line_id="1"),
        req(order_id, "SKU-2", "DC-LYON", 3, line_id="2"),
    )
    with unit_of_work(db) as session:
        released = ledger.release(session, order_id, now())
    assert sorted((u.sku, u.node_id, u.qty) for u in released) == [
        ("SKU-1", "DC-PARIS", 4),
        ("SKU-2", "DC-LYON", 3),
    ]
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 0)
    assert figures(db, "SKU-2", "DC-LYON") == (10, 0)
    assert {h.status for h in holds(db, order_id)} == {"released"}
    moves = movements(db, "release")
    assert sorted((m.sku, m.on_hand_delta, m.reserved_delta) for m in moves) == [
        ("SKU-1", 0, -4),
        ("SKU-2", 0, -3),
    ]
    assert all(m.order_id == order_id for m in moves)

    with unit_of_work(db) as session:
        assert ledger.release(session, order_id, now()) == []
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 0)
    assert len(movements(db, "release")) == 2
    assert_balanced(db)


def test_release_at_one_node_keeps_the_other_holds(db: Engine, order_id: str) -> None:
    reserve(
        db,
        req(order_id, "SKU-1", "DC-PARIS", 4),
        req(order_id, "SKU-1", "DC-LYON", 2),
    )
    with unit_of_work(db) as session:
        released = ledger.release(session, order_id, now(), node_id="DC-PARIS")
    assert [(u.node_id, u.qty) for u in released] == [("DC-PARIS", 4)]
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 0)
    assert figures(db, "SKU-1", "DC-LYON") == (30, 2)
    assert {h.node_id: h.status for h in holds(db, order_id)} == {
        "DC-PARIS": "released",
        "DC-LYON": "held",
    }
    assert_balanced(db)


def test_release_leaves_other_orders_alone(db: Engine) -> None:
    reserve(db, req("A-1", "SKU-1", "DC-PARIS", 4), req("A-2", "SKU-1", "DC-PARIS", 6))
    with unit_of_work(db) as session:
        ledger.release(session, "A-1", now())
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 6)
    assert [h.status for h in holds(db, "A-2")] == ["held"]
    assert_balanced(db)


def test_a_released_reservation_retried_late_stays_released(db: Engine, order_id: str) -> None:
    # A reserve retried after the order gave its units back must not hold them again;
    # a new sourcing round uses a new reservation id.
    request = req(order_id, "SKU-1", "DC-PARIS", 5)
    reserve(db, request)
    with unit_of_work(db) as session:
        ledger.release(session, order_id, now())
    reserve(db, request)
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 0)
    assert [h.status for h in holds(db, order_id)] == ["released"]

    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 5, round_=2))
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 5)
    assert_balanced(db)


# --- commit -------------------------------------------------------------------------


def test_commit_lowers_on_hand_and_reserved(db: Engine, order_id: str) -> None:
    reserve(
        db,
        req(order_id, "SKU-1", "DC-PARIS", 3, line_id="1"),
        req(order_id, "SKU-2", "DC-LYON", 2, line_id="2"),
    )
    with unit_of_work(db) as session:
        committed = ledger.commit(session, order_id, "DC-PARIS", now())
    assert [(u.sku, u.node_id, u.qty) for u in committed] == [("SKU-1", "DC-PARIS", 3)]
    assert figures(db, "SKU-1", "DC-PARIS") == (47, 0)
    assert figures(db, "SKU-2", "DC-LYON") == (10, 2)  # another node: still held
    assert {h.node_id: h.status for h in holds(db, order_id)} == {
        "DC-PARIS": "committed",
        "DC-LYON": "held",
    }
    [move] = movements(db, "shipment")
    assert (move.on_hand_delta, move.reserved_delta, move.order_id) == (-3, -3, order_id)

    # Committing again (a retried activity) changes nothing, and a later release of the
    # order gives back only what is still held.
    with unit_of_work(db) as session:
        assert ledger.commit(session, order_id, "DC-PARIS", now()) == []
        released = ledger.release(session, order_id, now())
    assert [(u.node_id, u.qty) for u in released] == [("DC-LYON", 2)]
    assert figures(db, "SKU-1", "DC-PARIS") == (47, 0)
    assert figures(db, "SKU-2", "DC-LYON") == (10, 0)
    assert_balanced(db)


# --- short picks --------------------------------------------------------------------


def test_write_off_short_pick_lowers_both_and_applies_once(db: Engine, order_id: str) -> None:
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 5))
    source = f"shortpick:E-1:{order_id}:1"
    with unit_of_work(db) as session:
        written = ledger.write_off_short_pick(session, order_id, "DC-PARIS", "1", 2, source, now())
    assert written == 2
    assert figures(db, "SKU-1", "DC-PARIS") == (48, 3)
    [hold] = holds(db, order_id)
    assert (hold.qty, hold.status) == (3, "held")
    [move] = movements(db, "short_pick")
    assert (move.on_hand_delta, move.reserved_delta, move.source_id) == (-2, -2, source)

    with unit_of_work(db) as session:
        again = ledger.write_off_short_pick(session, order_id, "DC-PARIS", "1", 2, source, now())
    assert again == 0
    assert figures(db, "SKU-1", "DC-PARIS") == (48, 3)
    assert len(movements(db, "short_pick")) == 1
    assert_balanced(db)


def test_a_short_pick_of_every_unit_ends_the_hold(db: Engine, order_id: str) -> None:
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 3))
    with unit_of_work(db) as session:
        # More missing than held: only the held units can leave the hold.
        written = ledger.write_off_short_pick(
            session, order_id, "DC-PARIS", "1", 5, "shortpick:E-2:1", now()
        )
    assert written == 3
    assert figures(db, "SKU-1", "DC-PARIS") == (47, 0)
    [hold] = holds(db, order_id)
    assert (hold.qty, hold.status) == (0, "released")
    with unit_of_work(db) as session:
        assert ledger.release(session, order_id, now()) == []
    assert figures(db, "SKU-1", "DC-PARIS") == (47, 0)
    assert_balanced(db)


def test_a_short_pick_touches_only_its_line_and_node(db: Engine, order_id: str) -> None:
    reserve(
        db,
        req(order_id, "SKU-1", "DC-PARIS", 3, line_id="1"),
        req(order_id, "SKU-1", "DC-LYON", 3, line_id="1"),
        req(order_id, "SKU-2", "DC-LYON", 3, line_id="2"),
    )
    with unit_of_work(db) as session:
        written = ledger.write_off_short_pick(
            session, order_id, "DC-LYON", "2", 1, "shortpick:E-3:2", now()
        )
    assert written == 1
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 3)
    assert figures(db, "SKU-1", "DC-LYON") == (30, 3)
    assert figures(db, "SKU-2", "DC-LYON") == (9, 2)
    assert_balanced(db)


def test_a_short_pick_spanning_two_holds_of_a_line_applies_once(db: Engine, order_id: str) -> None:
    # Two sourcing rounds both hold the line at the node: the write-off spans both.
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 2, round_=1))
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 2, round_=2))
    source = "shortpick:E-4:1"
    for _ in range(2):
        with unit_of_work(db) as session:
            ledger.write_off_short_pick(session, order_id, "DC-PARIS", "1", 3, source, now())
    assert figures(db, "SKU-1", "DC-PARIS") == (47, 1)
    assert [(h.qty, h.status) for h in holds(db, order_id)] == [(0, "released"), (1, "held")]
    assert sorted(m.on_hand_delta for m in movements(db, "short_pick")) == [-2, -1]
    assert_balanced(db)


def test_a_short_pick_spanning_two_holds_fits_the_longest_valid_ids(db: Engine) -> None:
    # Order, line, node and event ids may each have 64 characters (domain.ids.Id). The
    # second hold's movement gets the source id "{source_id}:{reservation id}", which
    # must still fit movements.source_id (250 characters) on PostgreSQL.
    order_id, line_id, event_id = "O" * 64, "L" * 64, "E" * 64
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 2, line_id=line_id, round_=1))
    reserve(db, req(order_id, "SKU-1", "DC-PARIS", 2, line_id=line_id, round_=2))
    source = f"shortpick:{event_id}:{line_id}"  # as activities.inventory builds it
    with unit_of_work(db) as session:
        written = ledger.write_off_short_pick(
            session, order_id, "DC-PARIS", line_id, 3, source, now()
        )
    assert written == 3
    assert figures(db, "SKU-1", "DC-PARIS") == (47, 1)
    assert_balanced(db)


def test_a_short_pick_for_an_order_without_holds_writes_off_nothing(db: Engine) -> None:
    with unit_of_work(db) as session:
        written = ledger.write_off_short_pick(
            session, "NOBODY", "DC-PARIS", "1", 2, "shortpick:E-5:1", now()
        )
    assert written == 0
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 0)
    assert_balanced(db)


# --- inventory events from the field ------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "qty", "on_hand_after", "delta"),
    [
        ("sale", 5, 45, -5),
        ("receipt", 12, 62, 12),
        ("adjustment", -3, 47, -3),
        ("adjustment", 4, 54, 4),
        ("count", 42, 42, -8),
        ("count", 61, 61, 11),
    ],
)
def test_an_inventory_event_moves_on_hand_and_logs_it(
    db: Engine, type_: str, qty: int, on_hand_after: int, delta: int
) -> None:
    ev = event(f"EV-{type_}-{qty}", type_, qty)
    result = apply(db, ev)

    assert result.applied is True
    assert result.event_id == ev.event_id
    assert result.position == StockPosition(
        sku="SKU-1", node_id="DC-PARIS", on_hand=on_hand_after, reserved=0, safety_stock=0
    )
    assert figures(db, "SKU-1", "DC-PARIS") == (on_hand_after, 0)
    [move] = movements(db, type_)
    # The movement names its event within its node.
    assert (move.on_hand_delta, move.reserved_delta) == (delta, 0)
    assert move.source_id == f"DC-PARIS/{ev.event_id}"
    assert move.order_id is None
    assert_balanced(db)


@pytest.mark.parametrize(
    ("type_", "qty"), [("sale", 5), ("receipt", 12), ("adjustment", -3), ("count", 42)]
)
def test_an_inventory_event_applies_once(db: Engine, type_: str, qty: int) -> None:
    ev = event("EV-1", type_, qty)
    first = apply(db, ev)
    after_first = figures(db, "SKU-1", "DC-PARIS")
    # Stock moves on before the field system retries its call.
    apply(db, event("EV-2", "receipt", 7))

    replay = apply(db, ev)
    assert replay.applied is False
    assert replay.position == first.position  # the first result, not today's figures
    assert replay.event_id == ev.event_id
    assert figures(db, "SKU-1", "DC-PARIS") == (after_first[0] + 7, 0)
    sources = [m.source_id for m in movements(db, type_) if m.source_id != "DC-PARIS/EV-2"]
    assert sources == ["DC-PARIS/EV-1"]
    assert_balanced(db)


def test_a_count_equal_to_on_hand_is_applied_without_a_movement(db: Engine) -> None:
    first = apply(db, event("EV-C", "count", 50))
    assert first.applied is True
    assert first.position.on_hand == 50
    assert movements(db, "count") == []
    assert apply(db, event("EV-C", "count", 50)).applied is False
    assert_balanced(db)


def test_a_reused_event_id_with_another_body_is_refused(db: Engine) -> None:
    apply(db, event("EV-1", "sale", 5))
    with pytest.raises(DuplicateEventConflict):
        apply(db, event("EV-1", "sale", 6))
    with pytest.raises(DuplicateEventConflict):
        apply(db, event("EV-1", "receipt", 5))
    assert figures(db, "SKU-1", "DC-PARIS") == (45, 0)
    assert len(movements(db, "sale", "receipt")) == 1
    assert_balanced(db)


def test_the_fingerprint_alone_decides_a_conflict(db: Engine) -> None:
    ev = event("EV-1", "receipt", 5)
    apply(db, ev, "print-a")
    with pytest.raises(DuplicateEventConflict):
        apply(db, ev, "print-b")
    assert figures(db, "SKU-1", "DC-PARIS") == (55, 0)
    assert_balanced(db)


@pytest.mark.parametrize(("type_", "qty"), [("sale", 6), ("count", 44), ("adjustment", -6)])
def test_an_event_that_would_sell_reserved_units_changes_nothing(
    db: Engine, type_: str, qty: int
) -> None:
    reserve(db, req("A-1", "SKU-1", "DC-PARIS", 45))
    moves_before = len(movements(db))
    ev = event("EV-1", type_, qty)

    with pytest.raises(InventoryConflict, match="below the 45 units reserved"):
        apply(db, ev)
    assert figures(db, "SKU-1", "DC-PARIS") == (50, 45)
    assert len(movements(db)) == moves_before
    # The refused event was not recorded: once the field reports the short pick or the
    # order releases its units, the same event can be sent again and applies.
    assert processed(db, ev) is None
    with unit_of_work(db) as session:
        ledger.release(session, "A-1", now())
    assert apply(db, ev).applied is True
    assert_balanced(db)


def test_an_event_may_take_on_hand_down_to_reserved_exactly(db: Engine) -> None:
    reserve(db, req("A-1", "SKU-1", "DC-PARIS", 45))
    result = apply(db, event("EV-1", "sale", 5))
    assert (result.position.on_hand, result.position.reserved) == (45, 45)
    assert position(db, "SKU-1", "DC-PARIS").atp == 0
    assert_balanced(db)


def test_a_sale_of_stock_the_node_never_held_is_refused(db: Engine) -> None:
    ev = event("EV-1", "sale", 1, sku="SKU-2", node_id="DC-PARIS")
    with pytest.raises(UnknownReference):
        apply(db, ev)
    assert processed(db, ev) is None
    assert_balanced(db)


def test_the_first_receipt_of_a_sku_at_a_node_opens_its_stock(db: Engine) -> None:
    result = apply(db, event("EV-1", "receipt", 5, sku="SKU-2", node_id="DC-PARIS"))
    assert (result.position.on_hand, result.position.reserved) == (5, 0)
    assert position(db, "SKU-2", "DC-PARIS").atp == 5
    assert_balanced(db)


# --- a day at a node ----------------------------------------------------------------


def test_a_day_of_mixed_activity_keeps_the_ledger_balanced(db: Engine) -> None:
    reserve(db, req("A-1", "SKU-1", "DC-PARIS", 10), req("A-1", "SKU-2", "DC-LYON", 4, "2"))
    reserve(db, req("A-2", "SKU-1", "DC-PARIS", 20))
    apply(db, event("EV-1", "sale", 15))
    apply(db, event("EV-2", "receipt", 30))
    with unit_of_work(db) as session:
        ledger.write_off_short_pick(session, "A-2", "DC-PARIS", "1", 4, "sp:1", now())
        ledger.commit(session, "A-2", "DC-PARIS", now())
        ledger.release(session, "A-1", now(), node_id="DC-LYON")
    apply(db, event("EV-3", "count", 40))
    apply(db, event("EV-4", "adjustment", -2, sku="SKU-2", node_id="DC-LYON"))
    with unit_of_work(db) as session:
        ledger.commit(session, "A-1", "DC-PARIS", now())

    # 50 - 15 sold + 30 received - 4 missing - 16 shipped = 45, counted 40, 10 shipped.
    assert figures(db, "SKU-1", "DC-PARIS") == (30, 0)
    assert figures(db, "SKU-2", "DC-LYON") == (8, 0)
    assert_balanced(db)


def test_an_event_id_is_its_nodes_own(db: Engine) -> None:
    # Two nodes' systems number their events alike: neither uses up the other's ids.
    paris = apply(db, event("EV-1", "receipt", 5, node_id="DC-PARIS"))
    lyon = apply(db, event("EV-1", "receipt", 3, node_id="DC-LYON"))
    again = apply(db, event("EV-1", "receipt", 3, node_id="DC-LYON"))

    assert (paris.applied, lyon.applied, again.applied) == (True, True, False)
    assert processed(db, event("EV-1", "receipt", 3, node_id="DC-LYON")) is not None
    assert_balanced(db)


def test_an_event_applied_under_its_bare_id_still_replays(db: Engine) -> None:
    # Applied before ids were scoped by node: a retry after the upgrade must not apply twice.
    ev = event("EV-OLD", "receipt", 5)
    first = apply(db, ev)
    with unit_of_work(db) as session:
        row = session.get(ProcessedEventRow, event_key("inventory", ev.node_id, ev.event_id))
        assert row is not None
        session.delete(row)
        session.add(
            ProcessedEventRow(
                event_id=ev.event_id,
                source=row.source,
                fingerprint=row.fingerprint,
                result=row.result,
                at=row.at,
            )
        )
    retried = apply(db, ev)

    assert retried.applied is False
    assert retried.position.on_hand == first.position.on_hand
    assert_balanced(db)
