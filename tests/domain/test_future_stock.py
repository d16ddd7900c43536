"""Future stock by the business rules: what a supply line may still promise, who gets the
units first when they arrive, and which supply events make sense."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.future_stock import (
    InvalidSupplyEvent,
    SupplyEvent,
    Waiting,
    allocatable,
    beyond_cover,
    confidence_permille,
    serve_oldest_first,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def waiting(hold_id: str, qty: int, minutes: int) -> Waiting:
    return Waiting(hold_id, f"O-{hold_id}", qty, NOW + timedelta(minutes=minutes))


def test_a_purchase_order_promises_every_unit_it_brings():
    permille = confidence_permille("purchase_order", 0.7)
    assert allocatable(100, 0, permille) == 100
    assert allocatable(100, 99, permille) == 1
    assert allocatable(100, 100, permille) == 0


def test_a_return_authorised_for_10_with_a_70_percent_resale_rate_promises_7():
    permille = confidence_permille("customer_return", 0.7)
    assert allocatable(10, 0, permille) == 7
    assert allocatable(10, 7, permille) == 0


def test_a_line_holding_more_than_it_now_covers_promises_nothing_not_a_negative():
    assert allocatable(5, 8, 1000) == 0


def test_received_units_serve_the_oldest_pre_orders_first():
    holds = [waiting("young", 5, 30), waiting("old", 5, 0), waiting("middle", 5, 10)]
    served, left = serve_oldest_first(holds, 10)
    assert [h.hold_id for h in served] == ["old", "middle"]
    assert left == 0


def test_a_short_receipt_serves_whole_holds_and_the_rest_serves_smaller_younger_ones():
    holds = [waiting("old", 6, 0), waiting("middle", 8, 10), waiting("young", 3, 20)]
    served, left = serve_oldest_first(holds, 10)
    # 6 to the oldest; 4 left cannot fill the 8 of the next, but fill the young 3.
    assert [h.hold_id for h in served] == ["old", "young"]
    assert left == 1


def test_fewer_units_expected_take_the_place_of_the_youngest_holds():
    holds = [waiting("old", 5, 0), waiting("middle", 5, 10), waiting("young", 5, 20)]
    assert [h.hold_id for h in beyond_cover(holds, 10)] == ["young"]
    assert [h.hold_id for h in beyond_cover(holds, 9)] == ["young", "middle"]
    assert beyond_cover(holds, 15) == []


def event(**fields) -> SupplyEvent:
    return SupplyEvent.model_validate({"event_id": "E-1", "supply_id": "PO-1", **fields})


def test_a_purchase_order_needs_what_where_how_many_and_when():
    with pytest.raises(ValidationError, match="needs node_id, eta"):
        event(type="po_created", sku="SKU-1", qty=5)
    assert event(type="po_created", sku="SKU-1", node_id="DC", qty=5, eta="2026-12-10").qty == 5


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"type": "po_updated"}, "needs qty and/or eta"),
        ({"type": "received"}, "needs qty"),
        ({"type": "received", "qty": 5, "sku": "SKU-1"}, "does not take sku"),
        ({"type": "return_received", "qty": 2}, "needs grade"),
        ({"type": "po_cancelled", "qty": 2}, "does not take qty"),
        (
            {"type": "po_created", "sku": "S", "node_id": "N", "qty": 0, "eta": "2026-12-10"},
            "positive qty",
        ),
        ({"type": "received", "qty": -1}, "greater than or equal to 0"),
        ({"type": "received", "qty": 100_000_001}, "less than or equal to"),
    ],
)
def test_a_supply_event_that_does_not_fit_its_type_is_refused_naming_the_problem(fields, words):
    with pytest.raises(ValidationError, match=words):
        event(**fields)


def test_an_eta_more_than_a_day_past_is_refused():
    event(type="po_updated", eta=(NOW - timedelta(days=1)).date().isoformat()).check_eta(NOW)
    with pytest.raises(InvalidSupplyEvent, match="more than a day in the past"):
        event(type="po_updated", eta=date(2026, 11, 29).isoformat()).check_eta(NOW)


def test_a_receipt_closes_its_line_unless_more_is_coming():
    assert event(type="received", qty=5).closes
    assert not event(type="received", qty=5, final=False).closes
    assert not event(type="asn", qty=5).closes
