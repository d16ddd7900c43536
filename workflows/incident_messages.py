"""What goes in and out of the incident workflow (what it tells the orders is in
workflows/order_messages.py)."""

from datetime import datetime

from pydantic import BaseModel

from domain.incidents import Incident, IncidentOutcome
from domain.order import TimelineEntry


class IncidentProgress(BaseModel):
    """Where a run of a large incident stopped, for the run it continues as: what the next
    one needs and nothing that grows with the number of orders touched."""

    after: str | None = None  # the last order told; the next page starts after it
    touched: int = 0  # orders the incident touches in all
    told: int = 0
    answered: int = 0  # orders whose outcome is saved
    answer_by: datetime | None = None  # set once every order is told
    runs: int = 1
    timeline: list[TimelineEntry] = []  # a few lines per run, never one per order


class IncidentInput(BaseModel):
    incident: Incident
    # Orders told per page, and the history length past which a run continues as new
    # (Temporal stops a workflow at 50,000 events). Tests make them small.
    page_size: int = 500
    events_per_run: int = 10_000
    progress: IncidentProgress | None = None  # None: the first run


class IncidentReport(BaseModel):
    incident: Incident
    touched: list[str]
    outcomes: list[IncidentOutcome]
    timeline: list[TimelineEntry]
    # An incident told a page at a time keeps its orders and their outcomes in the
    # database (db.incidents.touched_orders): then `touched` and `outcomes` hold only what
    # this run told and heard, and the counts cover every run.
    in_database: bool = False
    touched_count: int = 0
    answered_count: int = 0
