"""OTIF: was every unit delivered no later than the promised date?"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.order import Otif


def judge_otif(
    promised_by: date | None, ordered_units: int, deliveries: list[tuple[date, int]]
) -> Otif:
    """Judge an order from its deliveries: (local delivery date, units) per shipment."""
    delivered_units = sum(units for _, units in deliveries)
    last = max((day for day, _ in deliveries), default=None)
    on_time = last is not None and (promised_by is None or last <= promised_by)
    return Otif(
        on_time=on_time,
        in_full=delivered_units >= ordered_units,
        delivered_units=delivered_units,
        ordered_units=ordered_units,
        delivered_on=last,
    )


def promise_deadline(promised_by: date, timezone: str) -> datetime:
    """The instant a promise is missed: midnight after the promised day, local time."""
    return datetime.combine(promised_by + timedelta(days=1), time(0), ZoneInfo(timezone))


def local_day(at: datetime, timezone: str) -> date:
    """The day an event happened for the customer (OTIF counts local days)."""
    return at.astimezone(ZoneInfo(timezone)).date()
