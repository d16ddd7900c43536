"""When a node can ship and when a carrier delivers: cut-offs, open days, holidays."""

from collections.abc import Collection
from datetime import date, timedelta
from functools import lru_cache

from domain.ids import WEEKDAYS
from domain.network import CarrierService

MAX_LOOKAHEAD_DAYS = 60  # a node closed longer than this cannot ship at all


def weekday(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def delivery_date(
    ship_on: date, service: CarrierService, km: float, holidays: Collection[date]
) -> date | None:
    """Day the carrier delivers a parcel handed over on `ship_on`, or None if out of reach.

    The parcel leaves on the carrier's next pickup day; transit counts delivery days
    (Monday to Saturday, holidays excluded).
    """
    transit = service.transit_days(km)
    if transit is None:
        return None
    holidays = holidays if isinstance(holidays, frozenset) else frozenset(holidays)
    return _carried(ship_on, service._pickup_days, transit, holidays)


def collection_day(
    handed_over: date, service: CarrierService, holidays: Collection[date]
) -> date | None:
    """The carrier's first pickup day on or after the day a parcel is handed over: until
    then the parcel waits at the node, out of the carrier's hands (and of its outages)."""
    holidays = holidays if isinstance(holidays, frozenset) else frozenset(holidays)
    return _first_pickup(handed_over, service._pickup_days, holidays)


@lru_cache(maxsize=65_536)
def _first_pickup(day: date, pickup_days: frozenset[str], holidays: frozenset[date]) -> date | None:
    for _ in range(MAX_LOOKAHEAD_DAYS):
        if weekday(day) in pickup_days and day not in holidays:
            return day
        day += timedelta(days=1)
    return None


@lru_cache(maxsize=65_536)
def _carried(
    ship_on: date, pickup_days: frozenset[str], transit: int, holidays: frozenset[date]
) -> date | None:
    # The promise asks this for every node of every cart: the answers repeat, remember them.
    day = _first_pickup(ship_on, pickup_days, holidays)
    if day is None:
        return None
    remaining = transit
    while remaining > 0:
        day += timedelta(days=1)
        if is_delivery_day(day, holidays):
            remaining -= 1
    return day


def is_delivery_day(day: date, holidays: Collection[date]) -> bool:
    """Carriers deliver Monday to Saturday, holidays excluded."""
    return weekday(day) != "sun" and day not in holidays


def add_delivery_days(day: date, days: int, holidays: Collection[date]) -> date:
    """The delivery day `days` delivery days after `day` (a late lane's extra days)."""
    while days > 0:
        day += timedelta(days=1)
        if is_delivery_day(day, holidays):
            days -= 1
    return day


def delivery_days_between(expected: date, actual: date, holidays: Collection[date]) -> int:
    """How many delivery days `actual` came after `expected` (negative: before)."""
    if actual == expected:
        return 0
    sign, low, high = (1, expected, actual) if actual > expected else (-1, actual, expected)
    count, day = 0, low
    while day < high:
        day += timedelta(days=1)
        count += is_delivery_day(day, holidays)
    return sign * count
