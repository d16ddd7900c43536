"""Identifier shapes shared by every document the OMS accepts."""

from typing import Annotated

from pydantic import StringConstraints

# Ids travel in URLs, workflow ids and log lines: keep them short and plain.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Weekday = Annotated[str, StringConstraints(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
