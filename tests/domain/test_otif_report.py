"""OTIF reports on known orders, counted by hand."""

from datetime import UTC, date, datetime

from domain.order import OrderView
from domain.otif_report import otif_report

TODAY = date(2026, 12, 28)
PLACED = datetime(2026, 12, 1, tzinfo=UTC)


def order(oid: str, status: str, promised: str, *, otif=None, shipments=()) -> OrderView:
    return OrderView.model_validate(
        {
            "order_id": oid,
            "status": status,
            "channel": "web",
            "promised_by": promised,
            "customer": {"id": "C-1", "email": "a@b.c"},
            "delivery": {
                "method": "home",
                "address": {"postal_code": "1", "country": "FR", "lat": 45, "lon": 4},
            },
            "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}],
            "shipments": list(shipments),
            "otif": otif,
            "placed_at": PLACED,
            "updated_at": PLACED,
        }
    )


def shipment(
    node: str,
    carrier: str,
    *,
    short=0,
    status="delivered",
    expected="2026-12-20",
    delivered="2026-12-20T10:00:00+00:00",
    shipped="2026-12-18T10:00:00+00:00",
    pick_by="2026-12-19T00:00:00+00:00",
) -> dict:
    return {
        "shipment_id": f"{node}-{carrier}",
        "node_id": node,
        "carrier_id": carrier,
        "status": status,
        "expected_delivery": expected,
        "delivered_at": delivered,
        "shipped_at": shipped,
        "pick_by": pick_by,
        "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2 - short, "short_qty": short}],
    }


def otif(on_time: bool, in_full: bool) -> dict:
    return {
        "on_time": on_time,
        "in_full": in_full,
        "delivered_units": 2 if in_full else 1,
        "ordered_units": 2,
    }


ORDERS = [
    # 1. on time, in full, from Lyon with DPD
    order(
        "A",
        "delivered",
        "2026-12-24",
        otif=otif(True, True),
        shipments=[shipment("DC-LYON", "DPD")],
    ),
    # 2. short picked at Paris: in full missed
    order(
        "B",
        "delivered",
        "2026-12-24",
        otif=otif(True, False),
        shipments=[shipment("DC-PARIS", "COLISSIMO", short=1)],
    ),
    # 3. shipped in time, carrier two days late
    order(
        "C",
        "delivered",
        "2026-12-20",
        otif=otif(False, True),
        shipments=[shipment("DC-LYON", "COLISSIMO", delivered="2026-12-22T09:00:00+00:00")],
    ),
    # 4. the node shipped after its SLA
    order(
        "D",
        "delivered",
        "2026-12-20",
        otif=otif(False, True),
        shipments=[
            shipment(
                "DC-PARIS",
                "DPD",
                shipped="2026-12-19T12:00:00+00:00",
                delivered="2026-12-21T09:00:00+00:00",
            )
        ],
    ),
    # 5. failed: nobody had the stock
    order("E", "failed", "2026-12-24"),
    # 6. cancelled by the customer: left out
    order("F", "cancelled", "2026-12-24"),
    # 7. still on its way, promised for later: not counted yet
    order("G", "shipped", "2027-01-05"),
]


def test_overall_rates_leave_cancelled_orders_out():
    report = otif_report(ORDERS, TODAY)
    assert (report.orders, report.excluded_cancelled) == (5, 1)
    assert report.otif == 0.2  # only A
    assert report.on_time == 0.4  # A, B
    assert report.in_full == 0.6  # A, C, D


def test_every_miss_has_its_cause():
    rows = {row.key: row.orders for row in otif_report(ORDERS, TODAY, "cause").rows}
    assert rows == {
        "otif": 1,
        "short_pick": 1,
        "carrier_delay": 1,
        "late_pick": 1,
        "not_delivered": 1,
    }


def test_by_node_and_carrier():
    nodes = {row.key: (row.orders, row.otif) for row in otif_report(ORDERS, TODAY, "node").rows}
    assert nodes == {"DC-LYON": (2, 0.5), "DC-PARIS": (2, 0.0), "none": (1, 0.0)}
    carriers = {r.key: r.misses for r in otif_report(ORDERS, TODAY, "carrier").rows}
    assert carriers == {"COLISSIMO": 2, "DPD": 1, "none": 1}


def test_by_promised_day():
    days = {r.key: r.orders for r in otif_report(ORDERS, TODAY, "day").rows}
    assert days == {"2026-12-20": 2, "2026-12-24": 3}
