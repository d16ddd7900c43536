"""Cut-offs, open days, holidays, carrier pickups and transit (domain/shipping_calendar.py).

Week of reference, 2026: Wed 25 Nov, Fri 27, Sat 28, Sun 29, Mon 30; Christmas is Fri 25 Dec.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.network import CarrierService, Node
from domain.routing import ship_day as ship_date
from domain.shipping_calendar import delivery_date

WEEKDAYS_ONLY = ["mon", "tue", "wed", "thu", "fri"]
CHRISTMAS = date(2026, 12, 25)


def paris_dc(**extra: Any) -> Node:
    fields: dict[str, Any] = {
        "id": "DC-PARIS",
        "type": "warehouse",
        "name": "Paris DC",
        "lat": 48.9,
        "lon": 2.4,
        "timezone": "Europe/Paris",
        "pick_capacity_per_day": 1000,
        "cutoff": "15:00",
        "open_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
    }
    return Node(**(fields | extra))


def standard(days: int = 1, **extra: Any) -> CarrierService:
    fields: dict[str, Any] = {
        "id": "DPD-STD",
        "bands": [{"max_km": 1200, "days": days}],
        "cost": 6.5,
        "pickup_days": WEEKDAYS_ONLY,
    }
    return CarrierService(**(fields | extra))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- when the node can ship ---------------------------------------------------------


def test_order_before_the_cut_off_ships_the_same_day():
    # 13:30 UTC is 14:30 in Paris in November.
    assert ship_date(paris_dc(), utc(2026, 11, 25, 13, 30), []) == date(2026, 11, 25)


def test_a_16h_order_misses_the_15h_cut_off():
    # 15:30 UTC is 16:30 in Paris: before 15:00 in UTC terms would wrongly ship today.
    assert ship_date(paris_dc(), utc(2026, 11, 25, 15, 30), []) == date(2026, 11, 26)


def test_an_order_exactly_at_the_cut_off_is_too_late():
    assert ship_date(paris_dc(), utc(2026, 11, 25, 14, 0), []) == date(2026, 11, 26)


def test_cut_off_follows_summer_time():
    # 13:30 UTC is 15:30 in Paris in July (UTC+2).
    assert ship_date(paris_dc(), utc(2026, 7, 1, 13, 30), []) == date(2026, 7, 2)
    assert ship_date(paris_dc(), utc(2026, 7, 1, 12, 30), []) == date(2026, 7, 1)


def test_cut_off_is_read_in_the_nodes_own_time_zone():
    london = paris_dc(id="DC-LONDON", timezone="Europe/London")
    # 14:30 UTC: 14:30 in London (in time), 15:30 in Paris (too late).
    assert ship_date(london, utc(2026, 11, 25, 14, 30), []) == date(2026, 11, 25)
    assert ship_date(paris_dc(), utc(2026, 11, 25, 14, 30), []) == date(2026, 11, 26)


def test_a_late_evening_utc_order_is_already_tomorrow_morning_in_paris():
    # 23:30 UTC Wednesday is 00:30 Thursday in Paris: well before Thursday's cut-off.
    assert ship_date(paris_dc(), utc(2026, 11, 25, 23, 30), []) == date(2026, 11, 26)


def test_friday_evening_order_ships_saturday_when_the_node_works_saturdays():
    assert ship_date(paris_dc(), utc(2026, 11, 27, 16, 0), []) == date(2026, 11, 28)


def test_weekend_skips_to_monday_for_a_node_closed_saturday_and_sunday():
    node = paris_dc(open_days=WEEKDAYS_ONLY)
    assert ship_date(node, utc(2026, 11, 27, 16, 0), []) == date(2026, 11, 30)  # Fri evening
    assert ship_date(node, utc(2026, 11, 28, 9, 0), []) == date(2026, 11, 30)  # Sat morning
    assert ship_date(node, utc(2026, 11, 29, 9, 0), []) == date(2026, 11, 30)  # Sun morning


def test_holiday_skips_to_the_next_open_day():
    christmas_eve_evening = utc(2026, 12, 24, 15, 30)
    assert ship_date(paris_dc(), christmas_eve_evening, [CHRISTMAS]) == date(2026, 12, 26)
    weekdays_only = paris_dc(open_days=WEEKDAYS_ONLY)
    assert ship_date(weekdays_only, christmas_eve_evening, [CHRISTMAS]) == date(2026, 12, 28)


def test_an_order_placed_on_a_holiday_morning_waits_for_the_next_open_day():
    assert ship_date(paris_dc(), utc(2026, 12, 25, 8, 0), [CHRISTMAS]) == date(2026, 12, 26)


def test_a_node_closed_beyond_the_lookahead_cannot_ship():
    start = date(2026, 11, 25)
    closed = [start + timedelta(days=n) for n in range(90)]
    assert ship_date(paris_dc(), utc(2026, 11, 25, 8, 0), closed) is None


# --- when the carrier delivers ------------------------------------------------------


def test_parcel_handed_over_on_a_pickup_day_travels_its_transit_days():
    assert delivery_date(date(2026, 11, 25), standard(days=1), 250, []) == date(2026, 11, 26)
    assert delivery_date(date(2026, 11, 25), standard(days=2), 250, []) == date(2026, 11, 27)


def test_zero_transit_days_delivers_on_the_pickup_day():
    assert delivery_date(date(2026, 11, 25), standard(days=0), 10, []) == date(2026, 11, 25)


def test_parcel_ready_on_saturday_waits_for_mondays_pickup():
    assert delivery_date(date(2026, 11, 28), standard(days=1), 250, []) == date(2026, 12, 1)
    assert delivery_date(date(2026, 11, 28), standard(days=0), 250, []) == date(2026, 11, 30)


def test_a_carrier_picking_up_on_saturday_takes_it_the_same_day():
    saturday_pickup = standard(days=1, pickup_days=[*WEEKDAYS_ONLY, "sat"])
    # Picked up Saturday, Sunday is no delivery day: delivered Monday.
    assert delivery_date(date(2026, 11, 28), saturday_pickup, 250, []) == date(2026, 11, 30)


def test_transit_days_skip_sundays():
    # Friday pickup, 2 days: Saturday counts, Sunday does not, Monday does.
    assert delivery_date(date(2026, 11, 27), standard(days=2), 250, []) == date(2026, 11, 30)


def test_transit_days_skip_holidays():
    # Thursday 24 Dec pickup, 1 day: Christmas does not count, Saturday 26 does.
    assert delivery_date(date(2026, 12, 24), standard(days=1), 250, [CHRISTMAS]) == date(
        2026, 12, 26
    )
    assert delivery_date(date(2026, 12, 24), standard(days=2), 250, [CHRISTMAS]) == date(
        2026, 12, 28
    )


def test_no_pickup_on_a_holiday():
    assert delivery_date(CHRISTMAS, standard(days=1), 250, [CHRISTMAS]) == date(2026, 12, 29)


def test_the_tightest_band_that_reaches_the_distance_sets_the_transit():
    banded = standard(bands=[{"max_km": 1200, "days": 2}, {"max_km": 300, "days": 1}])
    wednesday = date(2026, 11, 25)
    assert delivery_date(wednesday, banded, 300, []) == date(2026, 11, 26)
    assert delivery_date(wednesday, banded, 300.1, []) == date(2026, 11, 27)
    assert delivery_date(wednesday, banded, 1200, []) == date(2026, 11, 27)


def test_distance_beyond_every_band_is_out_of_reach():
    banded = standard(bands=[{"max_km": 300, "days": 1}, {"max_km": 1200, "days": 2}])
    assert banded.transit_days(1200.5) is None
    assert delivery_date(date(2026, 11, 25), banded, 1200.5, []) is None
