"""A zone's offsets from UTC over the life of an order, read once from the zone database
when the order is placed.

The order workflow judges OTIF on the customer's local days and keeps the promise until
local midnight. Were it to read the worker's zone database instead, a tzdata update on a
worker would change what a replayed order computes, and break it.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

SPAN_DAYS = 400  # longer than any order lives; beyond it, the last offset holds


class LocalTime(BaseModel):
    zone: str
    # From each instant on (UTC, ascending), the zone's offset from UTC in minutes.
    offsets: list[tuple[datetime, int]]

    @classmethod
    def of(cls, zone: str, start: datetime, days: int = SPAN_DAYS) -> "LocalTime":
        tz = ZoneInfo(zone)

        def minutes(at: datetime) -> int:
            offset = at.astimezone(tz).utcoffset() or timedelta(0)
            return int(offset.total_seconds() // 60)

        at = start.astimezone(UTC) - timedelta(days=1)
        offsets = [(at, minutes(at))]
        for _ in range(days + 1):
            later = at + timedelta(days=1)
            if minutes(later) != offsets[-1][1]:
                low, high = at, later  # the change is in this day: find its second
                while high - low > timedelta(seconds=1):
                    middle = low + (high - low) / 2
                    low, high = (middle, high) if minutes(middle) == minutes(low) else (low, middle)
                whole = high.replace(microsecond=0)
                changed = whole if minutes(whole) == minutes(high) else high
                offsets.append((changed, minutes(changed)))
            at = later
        return cls(zone=zone, offsets=offsets)

    def offset_at(self, at: datetime) -> timedelta:
        current = self.offsets[0][1]
        for since, minutes in self.offsets:
            if since > at:
                break
            current = minutes
        return timedelta(minutes=current)

    def day_of(self, at: datetime) -> date:
        """The local day of an instant (OTIF counts local days)."""
        return (at.astimezone(UTC) + self.offset_at(at)).date()

    def midnight_after(self, day: date) -> datetime:
        """The instant the local day `day` ends (a promise is missed after it)."""
        local = datetime.combine(day + timedelta(days=1), time(0), UTC)
        guess = local - self.offset_at(local)
        return local - self.offset_at(guess)
