"""The order workflow's writes to the orders read model."""

from pydantic import BaseModel
from sqlalchemy import Engine

from activities import defn
from db import orders, performance
from db.engine import unit_of_work
from domain.order import OrderView, TimelineEntry


class RecordOrderInput(BaseModel):
    view: OrderView
    timeline: list[TimelineEntry]
    revision: int


class RecordOrderResult(BaseModel):
    written: bool


class OrderActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @defn
    def record_order(self, input: RecordOrderInput) -> RecordOrderResult:
        """Store the order's latest view for listings; stale revisions are ignored."""
        values = orders.order_values(input.view, input.timeline, input.revision)
        outcomes = performance.outcome_values(input.view)
        with unit_of_work(self.engine) as session:
            written = orders.record_order(session, input.view, values, input.revision)
            if written:  # the field's record learns from the newest view only
                performance.record_outcomes(session, outcomes)
        return RecordOrderResult(written=written)
