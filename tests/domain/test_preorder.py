"""A pre-order's plan: the same for the promise and the order."""

from datetime import UTC, date, datetime, time

from domain.future_stock import DEFAULT_RECEIPT_TIME, usual_receipt_time
from domain.order import OrderLine
from domain.policy import DEFAULT_POLICY
from domain.preorder import plan_preorder
from domain.sourcing import Destination
from tests.domain.test_promise import DC_LYON_AT, LYON, node, purchase_order, supply_chain

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOME = Destination(lat=LYON[0], lon=LYON[1])


def two_lines_of_one_sku() -> list[OrderLine]:
    return [OrderLine(line_id="1", sku="SKU-9", qty=3), OrderLine(line_id="2", sku="SKU-9", qty=3)]


def test_two_lines_of_one_sku_never_count_the_same_future_units_twice():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    chain.supply["SKU-9"] = [purchase_order("PO-1", "SKU-9", "DC-LYON", 5, date(2026, 12, 8))]
    missing = {"1": 3, "2": 3}
    assert plan_preorder(two_lines_of_one_sku(), missing, HOME, chain, NOW, DEFAULT_POLICY) is None

    chain.supply["SKU-9"] = [purchase_order("PO-1", "SKU-9", "DC-LYON", 6, date(2026, 12, 8))]
    plan = plan_preorder(two_lines_of_one_sku(), missing, HOME, chain, NOW, DEFAULT_POLICY)
    assert plan is not None
    assert [(p.supply.supply_id, p.qty) for p in plan.from_supply] == [("PO-1", 3), ("PO-1", 3)]


def test_supply_due_and_not_received_is_promised_from_tomorrow_at_the_soonest():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))
    line = [OrderLine(line_id="1", sku="SKU-9", qty=1)]
    chain.supply["SKU-9"] = [purchase_order("PO-1", "SKU-9", "DC-LYON", 5, date(2026, 11, 20))]
    overdue = plan_preorder(line, {"1": 1}, HOME, chain, NOW, DEFAULT_POLICY)
    chain.supply["SKU-9"] = [purchase_order("PO-1", "SKU-9", "DC-LYON", 5, date(2026, 12, 2))]
    tomorrow = plan_preorder(line, {"1": 1}, HOME, chain, NOW, DEFAULT_POLICY)
    assert overdue is not None and tomorrow is not None
    assert overdue.deliver_by == tomorrow.deliver_by


def test_units_a_node_receives_after_its_cut_off_leave_the_next_day():
    chain = supply_chain(node("DC-LYON", DC_LYON_AT))  # cut-off 15:00
    line = [OrderLine(line_id="1", sku="SKU-9", qty=1)]
    chain.supply["SKU-9"] = [purchase_order("PO-1", "SKU-9", "DC-LYON", 5, date(2026, 12, 8))]
    chain.receipt_times["DC-LYON"] = time(9)
    morning = plan_preorder(line, {"1": 1}, HOME, chain, NOW, DEFAULT_POLICY)
    chain.receipt_times["DC-LYON"] = time(16)
    evening = plan_preorder(line, {"1": 1}, HOME, chain, NOW, DEFAULT_POLICY)
    assert morning is not None and evening is not None
    assert evening.deliver_by > morning.deliver_by


def test_a_node_usually_receives_at_the_median_of_its_recent_receipts():
    assert usual_receipt_time([]) == DEFAULT_RECEIPT_TIME
    assert usual_receipt_time([time(10), time(7), time(16)]) == time(10)
    assert usual_receipt_time([time(10), time(7)]) == time(10)  # the later middle
