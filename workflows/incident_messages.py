"""What goes in and out of the incident workflow (what it tells the orders is in
workflows/order_messages.py)."""

from pydantic import BaseModel

from domain.incidents import Incident, IncidentOutcome
from domain.order import TimelineEntry


class IncidentInput(BaseModel):
    incident: Incident


class IncidentReport(BaseModel):
    incident: Incident
    touched: list[str]
    outcomes: list[IncidentOutcome]
    timeline: list[TimelineEntry]
