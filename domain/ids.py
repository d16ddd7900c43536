"""Identifier shapes shared by every document the OMS accepts."""

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# Ids travel in URLs, workflow ids and log lines: keep them short and plain.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Weekday = Annotated[str, StringConstraints(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A business day the OMS plans with: far enough from the calendar's ends that adding
# transit, cut-offs and look-ahead days never overflows.
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]


def within_planning_years(value: datetime) -> datetime:
    """An instant the OMS can plan with (the years of `Day`): far-off ones are refused at
    the edge instead of overflowing date arithmetic deep in a plan or a workflow."""
    if not date(2000, 1, 1) <= value.date() <= date(2100, 12, 31):
        raise ValueError("must be between the years 2000 and 2100")
    return value


# An aware instant within the years the OMS plans with.
Instant = Annotated[AwareDatetime, AfterValidator(within_planning_years)]
