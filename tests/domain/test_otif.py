"""OTIF: every unit delivered no later than the promised day (domain/otif.py)."""

from datetime import UTC, date, datetime

from domain.local_time import LocalTime
from domain.otif import judge_otif

PROMISED = date(2026, 12, 24)


def test_delivered_before_the_promise_with_every_unit_is_on_time_in_full():
    otif = judge_otif(PROMISED, 3, [(date(2026, 12, 22), 3)])

    assert (otif.on_time, otif.in_full, otif.otif) == (True, True, True)
    assert (otif.delivered_units, otif.ordered_units) == (3, 3)
    assert otif.delivered_on == date(2026, 12, 22)


def test_delivered_on_the_promised_day_is_on_time():
    assert judge_otif(PROMISED, 3, [(PROMISED, 3)]).otif


def test_late_by_one_day_is_not_on_time():
    otif = judge_otif(PROMISED, 3, [(date(2026, 12, 25), 3)])

    assert (otif.on_time, otif.in_full, otif.otif) == (False, True, False)


def test_short_delivered_units_are_not_in_full():
    otif = judge_otif(PROMISED, 3, [(date(2026, 12, 23), 2)])

    assert (otif.on_time, otif.in_full, otif.otif) == (True, False, False)
    assert otif.delivered_units == 2


def test_a_split_order_is_judged_on_its_last_shipment():
    otif = judge_otif(PROMISED, 5, [(date(2026, 12, 21), 2), (date(2026, 12, 26), 3)])

    assert otif.delivered_on == date(2026, 12, 26)
    assert (otif.on_time, otif.in_full) == (False, True)


def test_nothing_delivered_is_neither_on_time_nor_in_full():
    otif = judge_otif(PROMISED, 3, [])

    assert (otif.on_time, otif.in_full, otif.delivered_on) == (False, False, None)


def test_without_a_promised_day_any_delivery_is_on_time():
    assert judge_otif(None, 1, [(date(2027, 1, 31), 1)]).on_time


PARIS = LocalTime.of("Europe/Paris", datetime(2026, 12, 1, tzinfo=UTC))


def test_a_promise_ends_at_local_midnight_after_the_promised_day():
    # Paris is UTC+1 in winter: midnight on the 25th is 23:00 UTC on the 24th.
    assert PARIS.midnight_after(PROMISED) == datetime(2026, 12, 24, 23, 0, tzinfo=UTC)


def test_an_order_placed_in_winter_keeps_summer_time_when_its_promise_falls_in_it():
    # Read once in December: Paris changes to UTC+2 on 28 March 2027, at 01:00 UTC.
    assert PARIS.offsets[1] == (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), 120)
    assert PARIS.midnight_after(date(2027, 7, 14)) == datetime(2027, 7, 14, 22, 0, tzinfo=UTC)
    assert PARIS.day_of(datetime(2027, 7, 14, 22, 30, tzinfo=UTC)) == date(2027, 7, 15)


def test_the_local_day_of_a_delivery_is_the_paris_day():
    assert PARIS.day_of(datetime(2026, 12, 24, 22, 59, tzinfo=UTC)) == PROMISED
    assert PARIS.day_of(datetime(2026, 12, 24, 23, 0, tzinfo=UTC)) == date(2026, 12, 25)


def test_a_parcel_delivered_at_half_past_midnight_paris_time_is_late():
    delivered_at = datetime(2026, 12, 24, 23, 30, tzinfo=UTC)  # 00:30 on the 25th in Paris

    assert delivered_at >= PARIS.midnight_after(PROMISED)
    day = PARIS.day_of(delivered_at)
    assert not judge_otif(PROMISED, 1, [(day, 1)]).on_time


def test_a_zone_without_summer_time_has_one_offset():
    assert LocalTime.of("Asia/Kolkata", datetime(2026, 12, 1, tzinfo=UTC)).offsets == [
        (datetime(2026, 11, 30, tzinfo=UTC), 330)
    ]
