"""OTIF: every unit delivered no later than the promised day (domain/otif.py)."""

from datetime import UTC, date, datetime

from domain.otif import judge_otif, local_day, promise_deadline

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


def test_promise_deadline_is_local_midnight_after_the_promised_day():
    # Paris is UTC+1 in winter: midnight on the 25th is 23:00 UTC on the 24th.
    deadline = promise_deadline(PROMISED, "Europe/Paris")

    assert deadline == datetime(2026, 12, 24, 23, 0, tzinfo=UTC)
    assert deadline.utcoffset().total_seconds() == 3600


def test_promise_deadline_follows_summer_time():
    assert promise_deadline(date(2026, 7, 14), "Europe/Paris") == datetime(
        2026, 7, 14, 22, 0, tzinfo=UTC
    )


def test_local_day_converts_utc_to_the_paris_day():
    assert local_day(datetime(2026, 12, 24, 22, 59, tzinfo=UTC), "Europe/Paris") == PROMISED
    assert local_day(datetime(2026, 12, 24, 23, 0, tzinfo=UTC), "Europe/Paris") == date(
        2026, 12, 25
    )


def test_a_parcel_delivered_at_half_past_midnight_paris_time_is_late():
    delivered_at = datetime(2026, 12, 24, 23, 30, tzinfo=UTC)  # 00:30 on the 25th in Paris

    assert delivered_at >= promise_deadline(PROMISED, "Europe/Paris")
    day = local_day(delivered_at, "Europe/Paris")
    assert not judge_otif(PROMISED, 1, [(day, 1)]).on_time
