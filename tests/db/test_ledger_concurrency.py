"""Many reservers at once: a reservation never makes ATP negative, under any concurrency.

On PostgreSQL each reserver runs its own unit of work on one shared engine, started
together through a barrier, so the conditional UPDATE really races. SQLite (the embedded
default) serialises writers; the same race states that it holds there too.
"""

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db import ledger
from db.engine import make_engine, unit_of_work
from db.ledger import ReservationRequest
from db.network import load_network
from db.tables import MovementRow, ProcessedEventRow, ReservationRow, StockRow
from domain.errors import InsufficientStock, InventoryConflict
from domain.inventory import InventoryEvent
from domain.network import NetworkDocument
from tests.networks import small_network

SKU, NODE = "SKU-1", "DC-PARIS"
RACERS = 50


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    """One engine shared by every racer, as the API and worker share theirs."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


# --- helpers ------------------------------------------------------------------------


def stock_up(engine: Engine, levels: dict[tuple[str, str], int], safety_stock: int = 0) -> None:
    doc = small_network(levels)
    for row in doc["stock"]:
        row["safety_stock"] = safety_stock
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(doc))


def hold(order_id: str, qty: int, sku: str = SKU, node_id: str = NODE) -> ReservationRequest:
    return ReservationRequest(
        reservation_id=f"{order_id}:1:{node_id}:r1",
        order_id=order_id,
        line_id="1",
        sku=sku,
        node_id=node_id,
        qty=qty,
    )


def reserve_job(*requests: ReservationRequest) -> Callable[[Session], object]:
    return lambda session: ledger.reserve(session, list(requests), datetime.now(UTC))


def sale_job(event_id: str, qty: int) -> Callable[[Session], object]:
    sale = InventoryEvent(event_id=event_id, type="sale", sku=SKU, node_id=NODE, qty=qty)
    return lambda session: ledger.apply_inventory_event(
        session, sale, f"print-{event_id}", datetime.now(UTC)
    )


def race(engine: Engine, jobs: list[Callable[[Session], object]]) -> list[Exception | None]:
    """Run every job in its own unit of work, all released at once; None means it committed."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[Session], object]) -> Exception | None:
        barrier.wait(timeout=60)
        try:
            with unit_of_work(engine) as session:
                job(session)
        except Exception as exc:  # the test inspects every outcome
            return exc
        return None

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def kinds(outcomes: list[Exception | None]) -> Counter[str]:
    return Counter("ok" if o is None else type(o).__name__ for o in outcomes)


def stock_row(engine: Engine, sku: str = SKU, node_id: str = NODE) -> StockRow:
    with unit_of_work(engine) as session:
        row = session.get(StockRow, (sku, node_id))
    assert row is not None
    return row


def assert_balanced(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        assert ledger.balance_problems(session) == []


def held_units(engine: Engine) -> dict[str, int]:
    with unit_of_work(engine) as session:
        rows = session.exec(select(ReservationRow).where(ReservationRow.status == "held"))
        return {row.order_id: row.qty for row in rows}


@contextmanager
def watching(engine: Engine) -> Iterator[list[tuple[int, int, int]]]:
    """Sample (on_hand, reserved, safety_stock) of the raced row while the race runs."""
    samples: list[tuple[int, int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        with engine.connect() as conn:
            while not stop.is_set():
                row = conn.execute(
                    text(
                        "SELECT on_hand, reserved, safety_stock FROM stock "
                        "WHERE sku = :sku AND node_id = :node"
                    ),
                    {"sku": SKU, "node": NODE},
                ).one()
                conn.rollback()
                samples.append(tuple(row))
                time.sleep(0.002)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        yield samples
    finally:
        stop.set()
        watcher.join(timeout=10)


# --- PostgreSQL ---------------------------------------------------------------------


@pytest.mark.postgres
def test_fifty_reservers_share_twenty_units_on_postgresql(pg: Engine) -> None:
    stock_up(pg, {(SKU, NODE): 20})
    jobs = [reserve_job(hold(f"A-{n:02d}", 1)) for n in range(RACERS)]

    with watching(pg) as samples:
        outcomes = race(pg, jobs)

    assert kinds(outcomes) == {"ok": 20, "InsufficientStock": 30}
    row = stock_row(pg)
    assert (row.on_hand, row.reserved) == (20, 20)
    assert samples, "the watcher saw the row at least once"
    assert all(0 <= reserved <= on_hand - safety for on_hand, reserved, safety in samples)
    winners = {f"A-{n:02d}" for n, o in enumerate(outcomes) if o is None}
    assert held_units(pg) == dict.fromkeys(winners, 1)
    assert_balanced(pg)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reservations_and_sales_racing_never_oversell_on_postgresql(pg: Engine, seed: int) -> None:
    # Safety stock makes the reservation's own condition, not only the table's CHECK
    # (reserved <= on_hand), the guard under test.
    start, safety = 40, 3
    stock_up(pg, {(SKU, NODE): start}, safety_stock=safety)
    rng = random.Random(seed)
    plan: list[tuple[str, str, int]] = []  # (kind, id, qty)
    for n in range(RACERS):
        kind = "sale" if rng.random() < 0.3 else "hold"
        plan.append((kind, f"{kind.upper()}-{n:02d}", rng.randint(1, 3)))
    jobs = [
        reserve_job(hold(id_, qty)) if kind == "hold" else sale_job(id_, qty)
        for kind, id_, qty in plan
    ]

    with watching(pg) as samples:
        outcomes = race(pg, jobs)

    for (kind, id_, _), outcome in zip(plan, outcomes, strict=True):
        expected = InsufficientStock if kind == "hold" else InventoryConflict
        assert outcome is None or isinstance(outcome, expected), f"{id_}: {outcome!r}"
    won = [job for job, outcome in zip(plan, outcomes, strict=True) if outcome is None]
    reserved = sum(qty for kind, _, qty in won if kind == "hold")
    sold = sum(qty for kind, _, qty in won if kind == "sale")
    assert 0 < reserved and reserved + sold <= start
    assert reserved <= start - safety  # holds never took the safety stock
    row = stock_row(pg)
    assert (row.on_hand, row.reserved) == (start - sold, reserved)
    assert 0 <= row.reserved <= row.on_hand
    assert all(0 <= r <= on_hand for on_hand, r, _ in samples)
    with unit_of_work(pg) as session:
        sales = session.exec(select(ProcessedEventRow.event_id)).all()
    assert len(sales) == sum(1 for kind, _, _ in won if kind == "sale")
    assert sum(held_units(pg).values()) == reserved
    assert_balanced(pg)


@pytest.mark.postgres
def test_multi_line_orders_racing_over_two_nodes_neither_deadlock_nor_split(pg: Engine) -> None:
    # Each order holds one unit at both DCs, listing them in a random order: the ledger's
    # fixed lock order must prevent deadlocks, and each order holds both units or none.
    stock_up(pg, {(SKU, "DC-PARIS"): 15, (SKU, "DC-LYON"): 25})
    rng = random.Random(7)
    jobs = []
    for n in range(RACERS):
        pair = [hold(f"M-{n:02d}", 1, node_id="DC-PARIS"), hold(f"M-{n:02d}", 1, node_id="DC-LYON")]
        rng.shuffle(pair)
        jobs.append(reserve_job(*pair))

    outcomes = race(pg, jobs)

    assert kinds(outcomes) == {"ok": 15, "InsufficientStock": 35}
    assert stock_row(pg, node_id="DC-PARIS").reserved == 15
    assert stock_row(pg, node_id="DC-LYON").reserved == 15
    with unit_of_work(pg) as session:
        rows = session.exec(select(ReservationRow.order_id, ReservationRow.node_id)).all()
    per_order = Counter(order_id for order_id, _ in rows)
    assert set(per_order.values()) == {2}
    assert_balanced(pg)


@pytest.mark.postgres
def test_a_duplicate_reserve_racing_the_first_does_not_hold_twice(pg: Engine) -> None:
    # Temporal may start a second attempt while the first is still running (the first
    # overran its start-to-close timeout). Both carry the same reservation id.
    stock_up(pg, {(SKU, NODE): 20})
    request = hold("A-1", 4)
    outcomes = race(pg, [reserve_job(request) for _ in range(10)])

    # Each attempt either committed (the first, or a later one that saw the hold) or
    # collided on the reservation's primary key: a retryable error, never a second hold.
    assert set(kinds(outcomes)) <= {"ok", "IntegrityError"}
    assert all(o is None or isinstance(o, IntegrityError) for o in outcomes)
    row = stock_row(pg)
    assert (row.on_hand, row.reserved) == (20, 4)
    with unit_of_work(pg) as session:
        moves = session.exec(select(MovementRow).where(MovementRow.kind == "reservation")).all()
    assert len(moves) == 1
    assert_balanced(pg)


@pytest.mark.postgres
def test_a_duplicate_reserve_waiting_on_the_first_is_not_told_stock_is_short(
    pg: Engine,
) -> None:
    # The same race made deterministic, with stock tight: attempt 1 holds 15 of 20 and has
    # not committed yet; attempt 2 (same reservation id) has already looked for the hold,
    # found none, and waits on the stock row. When attempt 1 commits, attempt 2 must not
    # answer InsufficientStock: that failure is non-retryable, so the workflow would source
    # and reserve again under a new id while attempt 1's hold stands (the order holds
    # twice). Holding once, or a retryable error, is right.
    stock_up(pg, {(SKU, NODE): 20})
    request = hold("A-1", 15)
    second: list[Exception | None] = []

    def attempt_two() -> None:
        try:
            with unit_of_work(pg) as session:
                ledger.reserve(session, [request], datetime.now(UTC))
        except Exception as exc:  # inspected below
            second.append(exc)
        else:
            second.append(None)

    with unit_of_work(pg) as session:
        ledger.reserve(session, [request], datetime.now(UTC))
        thread = threading.Thread(target=attempt_two)
        thread.start()
        _wait_until_blocked_on_a_lock(pg)
    thread.join(timeout=30)

    assert len(second) == 1
    assert not isinstance(second[0], InsufficientStock), (
        "a retried reserve of a hold that stands was told the stock is short"
    )
    row = stock_row(pg)
    assert (row.on_hand, row.reserved) == (20, 15)
    assert_balanced(pg)


def _wait_until_blocked_on_a_lock(engine: Engine, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second attempt never waited on the stock row")


# --- SQLite, the embedded default ---------------------------------------------------


def test_fifty_reservers_share_twenty_units_on_sqlite(engine: Engine) -> None:
    stock_up(engine, {(SKU, NODE): 20})
    jobs = [reserve_job(hold(f"A-{n:02d}", 1)) for n in range(RACERS)]

    outcomes = race(engine, jobs)

    assert kinds(outcomes) == {"ok": 20, "InsufficientStock": 30}
    row = stock_row(engine)
    assert (row.on_hand, row.reserved) == (20, 20)
    assert len(held_units(engine)) == 20
    assert_balanced(engine)
