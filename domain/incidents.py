"""Incidents: facts from the field that break plans, each with an id that applies it once."""

from collections.abc import Collection
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.ids import Day, Id
from domain.network import Carrier, CarrierService
from domain.shipping_calendar import collection_day

MAX_DAYS = 60  # an incident longer than this is reported again when it goes on


class Incident(BaseModel):
    """`node_capacity` (node_id, capacity_per_day, from, to), `node_closed` (node_id, from,
    to), `carrier_outage` (carrier_id, optional service_id, from, to), `stock_discrepancy`
    (node_id, sku, counted). Days are the node's (or carrier's) local days, inclusive."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    incident_id: Id
    type: Literal["node_capacity", "node_closed", "carrier_outage", "stock_discrepancy"]
    node_id: Id | None = None
    carrier_id: Id | None = None
    service_id: Id | None = None
    sku: Id | None = None
    capacity_per_day: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    counted: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None
    note: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> "Incident":
        needs = {
            "node_capacity": ("node_id", "capacity_per_day", "from_", "to"),
            "node_closed": ("node_id", "from_", "to"),
            "carrier_outage": ("carrier_id", "from_", "to"),
            "stock_discrepancy": ("node_id", "sku", "counted"),
        }[self.type]
        missing = [name.rstrip("_") for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.type} incident needs {', '.join(missing)}")
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError("the incident ends before it starts")
        if self.from_ and self.to and (self.to - self.from_).days + 1 > MAX_DAYS:
            raise ValueError(
                f"an incident lasts at most {MAX_DAYS} days: report a longer one again later"
            )
        return self

    def out_of_date(self, today: date) -> str | None:
        """Why the incident is too old to report (it ended before yesterday), if it is."""
        if self.to is not None and self.to < today - timedelta(days=1):
            return f"the incident ended on {self.to}, before yesterday: nothing left to plan around"
        return None

    def covers(self, day: date) -> bool:
        return self.from_ is not None and self.to is not None and self.from_ <= day <= self.to

    def stops_collection(
        self, service: CarrierService, handed_over: date, holidays: Collection[date]
    ) -> bool:
        """Does this carrier outage stop the carrier collecting a parcel of `service` handed
        over on `handed_over`? (A parcel waiting for a pickup day after the outage is not
        held up by it.)"""
        if self.type != "carrier_outage" or self.service_id not in (None, service.id):
            return False
        collected = collection_day(handed_over, service, holidays)
        return collected is not None and self.covers(collected)

    @property
    def words(self) -> str:
        span = f" from {self.from_} to {self.to}" if self.from_ else ""
        match self.type:
            case "node_closed":
                return f"{self.node_id} closed{span}"
            case "node_capacity":
                return f"{self.node_id} down to {self.capacity_per_day} picks a day{span}"
            case "carrier_outage":
                return f"{self.service_id or self.carrier_id} out of service{span}"
            case _:
                return f"count of {self.counted} x {self.sku} at {self.node_id}"


class IncidentOutcome(BaseModel):
    """What became of one order an incident touched."""

    order_id: str
    outcome: Literal["rerouted", "repromised", "exception", "unaffected", "rebooked", "kept"]
    detail: str = ""


def without_outages(
    carriers: dict[str, Carrier], outages: list[Incident], day: date
) -> dict[str, Carrier]:
    """The carriers as they serve on `day`: services (or whole carriers) out are removed."""
    out = dict(carriers)
    for outage in outages:
        if not outage.covers(day) or outage.carrier_id not in out:
            continue
        carrier = out[outage.carrier_id]
        if outage.service_id is None:
            del out[outage.carrier_id]
            continue
        services = [s for s in carrier.services if s.id != outage.service_id]
        if services:
            out[outage.carrier_id] = carrier.model_copy(update={"services": services})
        else:
            del out[outage.carrier_id]
    return out
