"""Transfers in the ledger: what the store may count on while the units are on their way."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from db import future_stock, transfers
from db.engine import unit_of_work
from db.future_stock import SupplyHoldRequest
from db.network import read_calendar, read_node
from db.tables import SupplyRow
from domain.replenishment import arrival_day
from domain.transfer import TransferEvent, TransferPlan, TransferStatus

NOW = datetime.now(UTC)
PLAN = TransferPlan(
    transfer_id="T-DB-1",
    source_node_id="DC-PARIS",
    destination_node_id="STORE-LILLE",
    lines=[("SKU-1", 20)],
    transit_days=1,
)


def start(session, not_before: date):
    source, store = read_node(session, "DC-PARIS"), read_node(session, "STORE-LILLE")
    assert source is not None and store is not None
    holidays = set(read_calendar(session).holidays)
    return transfers.start(session, PLAN, source, store, not_before, holidays, NOW)


def test_the_eta_follows_the_day_the_units_really_left(engine):
    with unit_of_work(engine) as session:
        planned = start(session, not_before=NOW.date() + timedelta(days=5))
    with unit_of_work(engine) as session:
        shipped = transfers.apply_event(
            session,
            "DC-PARIS",
            TransferEvent(event_id="E-1", type="shipped", transfer_id="T-DB-1"),
            "fingerprint",
            0.7,
            NOW,
        )
        store = read_node(session, "STORE-LILLE")
        assert store is not None
        holidays = set(read_calendar(session).holidays)
        line = session.get(SupplyRow, "T-DB-1.0")

    paris_day = NOW.astimezone(ZoneInfo("Europe/Paris")).date()
    expected = arrival_day(paris_day, 1, store.open_days, holidays)
    assert planned.eta is not None and planned.eta > expected  # planned for later
    assert shipped.transfer.status == TransferStatus.SHIPPED
    assert shipped.transfer.eta == expected
    assert line is not None and line.eta == expected  # the promise counts on the real day


def test_units_pre_orders_hold_on_a_transfer_are_not_counted_for_the_shelf(engine):
    with unit_of_work(engine) as session:
        start(session, not_before=NOW.date())
        future_stock.hold(
            session,
            [
                SupplyHoldRequest(
                    order_id="P-1", line_id="1", sku="SKU-1", supply_id="T-DB-1.0", qty=5, round=0
                )
            ],
            0.7,
            NOW,
        )
        assert transfers.inbound(session) == {("STORE-LILLE", "SKU-1"): 15}
