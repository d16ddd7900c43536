"""The ledger of future stock: pre-orders hold units of supply lines without ever taking
more than a line brings, receipts serve them first, and supply that moves tells them."""

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db import future_stock, ledger
from db.engine import make_engine, read_only, unit_of_work
from db.future_stock import InsufficientSupply, SupplyHoldRequest
from db.ledger import ReservationRequest
from db.ledger_check import ledger_problems
from db.network import load_network
from db.tables import ReservationRow, StockRow, SupplyRow
from domain.errors import InsufficientStock, InventoryConflict, NotFound
from domain.future_stock import InvalidSupplyEvent, SupplyEvent
from domain.network import NetworkDocument
from tests.networks import small_network

NOW = datetime.now(UTC)
ETA = (NOW + timedelta(days=8)).date()
RESALE = 0.7


def supply_event(event_id: str, type: str, supply_id: str = "PO-1", **fields) -> SupplyEvent:
    return SupplyEvent.model_validate(
        {"event_id": event_id, "type": type, "supply_id": supply_id, **fields}
    )


def apply(engine: Engine, event: SupplyEvent, at: datetime | None = None):
    with unit_of_work(engine) as session:
        return future_stock.apply_event(
            session,
            event,
            hashlib.sha256(event.model_dump_json().encode()).hexdigest(),
            RESALE,
            at or datetime.now(UTC),
        )


def open_po(engine: Engine, qty: int = 100, supply_id: str = "PO-1", sku: str = "SKU-2"):
    return apply(
        engine,
        supply_event(
            f"open-{supply_id}",
            "po_created",
            supply_id,
            sku=sku,
            node_id="DC-LYON",
            qty=qty,
            eta=ETA.isoformat(),
        ),
    )


def authorise_return(engine: Engine, qty: int, supply_id: str = "RET-1"):
    return apply(
        engine,
        supply_event(
            f"open-{supply_id}",
            "return_authorised",
            supply_id,
            sku="SKU-2",
            node_id="DC-LYON",
            qty=qty,
            eta=ETA.isoformat(),
        ),
    )


def preorder(engine: Engine, order_id: str, qty: int, supply_id: str = "PO-1") -> None:
    with unit_of_work(engine) as session:
        future_stock.hold(
            session,
            [
                SupplyHoldRequest(
                    order_id=order_id,
                    line_id="1",
                    sku="SKU-2",
                    supply_id=supply_id,
                    qty=qty,
                    round=1,
                )
            ],
            RESALE,
            datetime.now(UTC),
        )


def line(engine: Engine, supply_id: str = "PO-1") -> SupplyRow:
    with read_only(engine) as session:
        row = session.get(SupplyRow, supply_id)
        assert row is not None
        return row


def stock(engine: Engine, sku: str = "SKU-2", node_id: str = "DC-LYON") -> tuple[int, int]:
    with read_only(engine) as session:
        row = session.get(StockRow, (sku, node_id))
        assert row is not None
        return row.on_hand, row.reserved


def holds(engine: Engine, order_id: str) -> list[str]:
    with read_only(engine) as session:
        return [h.status for h in future_stock.holds_of(session, order_id)]


# --- Allocation -----------------------------------------------------------------------


def test_a_po_of_100_sells_100_pre_order_units_and_not_one_more(engine: Engine):
    open_po(engine, 100)
    for n in range(10):
        preorder(engine, f"O-{n}", 10)
    with pytest.raises(InsufficientSupply, match="PO-1 cannot hold 1 x SKU-2"):
        preorder(engine, "O-101st", 1)
    assert (line(engine).allocated, line(engine).expected) == (100, 100)
    with read_only(engine) as session:
        [open_line] = future_stock.open_lines(session, RESALE)["SKU-2"]
    assert (open_line.allocatable, open_line.allocated) == (0, 100)


def test_a_return_authorised_for_10_at_a_70_percent_resale_rate_sells_7(engine: Engine):
    authorise_return(engine, 10)
    preorder(engine, "O-1", 7, "RET-1")
    with pytest.raises(InsufficientSupply):
        preorder(engine, "O-2", 1, "RET-1")


def test_an_order_that_cancels_gives_its_future_units_back(engine: Engine):
    open_po(engine, 10)
    preorder(engine, "O-1", 10)
    with unit_of_work(engine) as session:
        assert future_stock.release(session, "O-1", datetime.now(UTC)) == 10
    preorder(engine, "O-2", 10)
    assert holds(engine, "O-1") == ["released"]


# --- Receipts -------------------------------------------------------------------------


def test_on_receipt_the_oldest_pre_orders_are_served_before_a_new_order_can_take_a_unit(
    engine: Engine,
):
    open_po(engine, 20)
    preorder(engine, "O-OLD", 8)
    preorder(engine, "O-YOUNG", 8)
    before = stock(engine)

    result = apply(engine, supply_event("rcv-1", "received", qty=16))

    assert [(n.order_id, n.kind) for n in result.news] == [
        ("O-OLD", "served"),
        ("O-YOUNG", "served"),
    ]
    assert stock(engine) == (before[0] + 16, before[1] + 16)  # on hand, and all held
    assert holds(engine, "O-OLD") == ["served"]
    with read_only(engine) as session:
        served = session.exec(select(ReservationRow).where(ReservationRow.order_id == "O-OLD"))
        [hold] = list(served)
    assert (hold.node_id, hold.qty, hold.status) == ("DC-LYON", 8, "held")
    assert hold.id.endswith(":r1")  # the pre-order's round: its shipment commits it
    # What was on the shelf before the receipt is all a new order can still take.
    with pytest.raises(InsufficientStock), unit_of_work(engine) as session:
        ledger.reserve(
            session,
            [
                ReservationRequest(
                    reservation_id="NEW:1:DC-LYON:r1",
                    order_id="NEW",
                    line_id="1",
                    sku="SKU-2",
                    node_id="DC-LYON",
                    qty=before[0] - before[1] + 1,
                )
            ],
            datetime.now(UTC),
        )


def test_a_short_receipt_serves_the_oldest_and_drops_the_rest_when_the_line_closes(
    engine: Engine,
):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    preorder(engine, "O-2", 10)
    preorder(engine, "O-3", 10)

    result = apply(engine, supply_event("rcv-1", "received", qty=12))

    assert {(n.order_id, n.kind) for n in result.news} == {
        ("O-1", "served"),
        ("O-2", "dropped"),
        ("O-3", "dropped"),
    }
    assert (line(engine).status, line(engine).allocated, line(engine).received) == ("closed", 0, 12)
    assert result.line.allocatable == 0


def test_a_partial_delivery_serves_the_oldest_and_the_others_keep_waiting(engine: Engine):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    preorder(engine, "O-2", 10)

    result = apply(engine, supply_event("rcv-1", "received", qty=10, final=False))

    assert [(n.order_id, n.kind) for n in result.news] == [("O-1", "served")]
    assert holds(engine, "O-2") == ["held"]
    assert (line(engine).expected, line(engine).allocated) == (20, 10)


def test_damaged_returns_serve_nobody_and_never_reach_the_shelf(engine: Engine):
    authorise_return(engine, 10)
    preorder(engine, "O-1", 5, "RET-1")
    before = stock(engine)
    result = apply(
        engine, supply_event("rr-1", "return_received", "RET-1", qty=10, grade="damaged")
    )
    assert [(n.order_id, n.kind) for n in result.news] == [("O-1", "dropped")]
    assert stock(engine) == before


# --- Supply that moves ----------------------------------------------------------------


def test_a_later_eta_tells_every_pre_order_on_the_line(engine: Engine):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    later = (ETA + timedelta(days=5)).isoformat()
    result = apply(engine, supply_event("upd-1", "po_updated", eta=later))
    assert [(n.order_id, n.kind) for n in result.news] == [("O-1", "eta_moved")]
    assert line(engine).eta == date.fromisoformat(later)


def test_fewer_units_coming_drop_the_youngest_pre_orders(engine: Engine):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    preorder(engine, "O-2", 10)
    result = apply(engine, supply_event("asn-1", "asn", qty=15))
    assert [(n.order_id, n.kind) for n in result.news] == [("O-2", "dropped")]
    assert (line(engine).expected, line(engine).allocated) == (15, 10)


def test_a_cancelled_po_drops_every_pre_order_and_promises_nothing_more(engine: Engine):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    result = apply(engine, supply_event("cxl-1", "po_cancelled"))
    assert [(n.order_id, n.kind) for n in result.news] == [("O-1", "dropped")]
    assert (line(engine).status, line(engine).allocated) == ("cancelled", 0)
    with read_only(engine) as session:
        assert "SKU-2" not in future_stock.open_lines(session, RESALE)


# --- Bad input changes nothing --------------------------------------------------------


def test_an_event_applies_once_and_a_replay_returns_its_first_result(engine: Engine):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    first = apply(engine, supply_event("rcv-1", "received", qty=10, final=False))
    again = apply(engine, supply_event("rcv-1", "received", qty=10, final=False))
    assert first.applied and not again.applied
    assert again.news == first.news
    assert line(engine).received == 10


@pytest.mark.parametrize(
    "event, error, words",
    [
        (supply_event("x", "received", "PO-404", qty=1), NotFound, "unknown supply line PO-404"),
        (
            supply_event("x", "return_received", qty=1, grade="sellable"),
            InvalidSupplyEvent,
            "send received",
        ),
        (supply_event("x", "po_updated", eta="2020-01-01"), InvalidSupplyEvent, "in the past"),
        (
            supply_event(
                "x", "po_created", sku="SKU-2", node_id="DC-LYON", qty=1, eta=ETA.isoformat()
            ),
            InventoryConflict,
            "exists already",
        ),
    ],
)
def test_a_supply_event_that_cannot_apply_is_refused_and_changes_nothing(
    engine: Engine, event: SupplyEvent, error: type[Exception], words: str
):
    open_po(engine, 30)
    preorder(engine, "O-1", 10)
    before = line(engine).model_dump()
    with pytest.raises(error, match=words):
        apply(engine, event)
    assert line(engine).model_dump() == before


def test_a_receipt_for_a_cancelled_po_is_refused(engine: Engine):
    open_po(engine, 30)
    apply(engine, supply_event("cxl-1", "po_cancelled"))
    before = stock(engine)
    with pytest.raises(InventoryConflict, match="PO-1 is cancelled"):
        apply(engine, supply_event("rcv-1", "received", qty=30))
    assert stock(engine) == before


# --- Concurrency ----------------------------------------------------------------------

RACERS = 40


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(small_network()))
    yield engine
    with read_only(engine) as session:
        assert ledger_problems(session) == []
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_pre_orders_racing_for_the_last_future_units_never_oversell(pg: Engine):
    open_po(pg, 25)
    preorder(pg, "O-FIRST", 5)  # 20 units left for 40 racers wanting 1 each
    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []

    def racer(n: int) -> None:
        barrier.wait()
        try:
            preorder(pg, f"O-RACE-{n}", 1)
            outcomes.append("held")
        except InsufficientSupply:
            outcomes.append("refused")

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("held") == 20 and outcomes.count("refused") == 20
    assert line(pg).allocated == 25
    with read_only(pg) as session:
        assert future_stock.balance_problems(session) == []


def test_a_hold_asked_twice_holds_once(engine: Engine):
    open_po(engine, 10)
    preorder(engine, "O-1", 4)
    preorder(engine, "O-1", 4)  # the same hold id: a retried call
    assert line(engine).allocated == 4


def test_an_order_cancelled_after_its_units_arrived_gives_back_the_stock_they_became(
    engine: Engine,
):
    open_po(engine, 10)
    preorder(engine, "O-1", 4)
    before = stock(engine)
    apply(engine, supply_event("rcv-1", "received", qty=4, final=False))
    assert stock(engine) == (before[0] + 4, before[1] + 4)

    now = datetime.now(UTC)
    with unit_of_work(engine) as session:  # as the order's release: future units, then stock
        assert future_stock.release(session, "O-1", now) == 0  # nothing left on the way
        released = ledger.release(session, "O-1", now)
    assert [(r.node_id, r.qty) for r in released] == [("DC-LYON", 4)]
    assert stock(engine) == (before[0] + 4, before[1])  # the units are anyone's now
    assert line(engine).allocated == 0


def test_a_network_reload_leaves_a_line_with_pre_orders_to_its_events(engine: Engine):
    open_po(engine, 10)
    preorder(engine, "O-1", 4)
    doc = small_network()
    doc["supply"] = [
        {
            "id": "PO-1",
            "kind": "purchase_order",
            "sku": "SKU-2",
            "node_id": "DC-LYON",
            "qty": 2,
            "eta": ETA.isoformat(),
        }
    ]
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(doc))
    assert (line(engine).expected, line(engine).allocated) == (10, 4)


def test_the_oms_learns_when_a_node_usually_receives_supply(engine: Engine):
    open_po(engine, 30)
    morning = datetime(2026, 12, 9, 8, 30, tzinfo=UTC)  # 09:30 in Lyon
    for n, hours in enumerate((0, 24, 48)):
        apply(
            engine,
            supply_event(f"rcv-{n}", "received", qty=5, final=False),
            at=morning + timedelta(hours=hours, minutes=30 * n),
        )
    with read_only(engine) as session:
        learned = future_stock.receipt_times(session, {"DC-LYON": "Europe/Paris"})
    assert learned == {"DC-LYON": time(10, 0)}  # 09:30, 10:00, 10:30: the median
