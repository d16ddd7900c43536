"""The orders read model keeps the workflow's newest revision of each order, on both backends."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db import orders
from db.engine import make_engine, unit_of_work
from db.tables import ShipmentRow
from domain.order import (
    Customer,
    Delivery,
    OrderLine,
    OrderStatus,
    OrderView,
    Shipment,
    ShipmentLine,
    TimelineEntry,
)

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def view(status: OrderStatus, *shipments: tuple[str, str]) -> OrderView:
    return OrderView(
        order_id="A-1",
        status=status,
        customer=Customer(id="C-1", email="c1@example.com"),
        channel="web",
        delivery=Delivery(method="click_and_collect", store_id="STORE-1"),
        promised_by=None,
        lines=[OrderLine(line_id="1", sku="SKU-1", qty=2)],
        shipments=[
            Shipment(
                shipment_id=sid,
                node_id=node,
                carrier_id="COLLECT",
                lines=[ShipmentLine(line_id="1", sku="SKU-1", qty=2)],
            )
            for sid, node in shipments
        ],
        placed_at=AT,
        updated_at=AT,
    )


def record(engine: Engine, order: OrderView, revision: int) -> bool:
    timeline = [TimelineEntry(at=AT, type="n", summary=f"revision {revision}")]
    values = orders.order_values(order, timeline, revision)
    with unit_of_work(engine) as session:
        return orders.record_order(session, order, values, revision)


def stored(engine: Engine) -> tuple[str | None, int, list[str], list[tuple[str, str]]]:
    with Session(engine) as session:
        row = orders.get_order(session, "A-1")
        assert row is not None
        shipments = session.exec(select(ShipmentRow).order_by(ShipmentRow.shipment_id)).all()
        return (
            orders.order_status(session, "A-1"),
            row.revision,
            [entry["summary"] for entry in row.timeline],
            [(s.shipment_id, s.node_id) for s in shipments],
        )


def test_a_newer_revision_replaces_the_order_and_adds_its_shipments(db):
    assert record(db, view(OrderStatus.PLACED), 1)
    assert record(db, view(OrderStatus.RELEASED, ("A-1-S1", "STORE-1")), 2)
    assert stored(db) == ("released", 2, ["revision 2"], [("A-1-S1", "STORE-1")])

    moved = view(OrderStatus.RELEASED, ("A-1-S1", "STORE-1"), ("A-1-S2", "STORE-2"))
    assert record(db, moved, 3)
    assert stored(db)[3] == [("A-1-S1", "STORE-1"), ("A-1-S2", "STORE-2")]
    with Session(db) as session:
        assert orders.order_view(session, "A-1") == moved


def test_an_older_revision_arriving_late_changes_nothing(db):
    assert record(db, view(OrderStatus.RELEASED, ("A-1-S1", "STORE-1")), 5)
    assert not record(db, view(OrderStatus.PLACED, ("A-1-S9", "STORE-9")), 4)
    assert not record(db, view(OrderStatus.PLACED), 5)  # a rerun of the same revision
    assert stored(db) == ("released", 5, ["revision 5"], [("A-1-S1", "STORE-1")])


def test_an_unknown_order_has_no_view_nor_status(db):
    with Session(db) as session:
        assert orders.order_view(session, "NOPE") is None
        assert orders.order_status(session, "NOPE") is None


def test_listings_page_by_cursor_without_skipping_or_repeating(db):
    # Five orders, two placed at the same instant: the id breaks the tie.
    for n, minutes in enumerate([0, 10, 10, 20, 30], 1):
        order = view(OrderStatus.EXCEPTION).model_copy(
            update={
                "order_id": f"A-{n}",
                "placed_at": AT + timedelta(minutes=minutes),
                "updated_at": AT + timedelta(minutes=60 - minutes),
            }
        )
        record(db, order, 1)

    def pages(read) -> list[list[str]]:
        out, after = [], None
        with Session(db) as session:
            while True:
                rows = read(session, after)
                out.append([row.order_id for row in rows])
                if len(rows) < 2:
                    return out
                after = (rows[-1].placed_at, rows[-1].order_id)

    newest_first = pages(lambda s, after: orders.list_orders(s, limit=2, after=after))
    assert newest_first == [["A-5", "A-4"], ["A-3", "A-2"], ["A-1"]]

    def waiting(session, after):
        rows = orders.exceptions(session, limit=2, after=after)
        return [r.model_copy(update={"placed_at": r.updated_at}) for r in rows]

    # Longest waiting first; two waiting since the same instant: by id.
    assert pages(waiting) == [["A-5", "A-4"], ["A-2", "A-3"], ["A-1"]]
