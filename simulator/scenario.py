"""A peak scenario: the network, the period, the demand, how the field behaves, and the
incidents that will hit it. One JSON document (format in the README)."""

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from domain.incidents import Incident
from domain.network import NetworkDocument
from domain.policy import PRESETS
from domain.replenishment import ReplenishmentPolicy

Share = Annotated[float, Field(ge=0, le=1)]

# Web orders through a day: quiet at night, busy at lunch and in the evening (mean 1).
RETAIL_DAY = [
    0.2,
    0.1,
    0.1,
    0.1,
    0.1,
    0.2,
    0.4,
    0.7,
    1.0,
    1.2,
    1.3,
    1.4,
    1.5,
    1.4,
    1.3,
    1.3,
    1.3,
    1.4,
    1.6,
    1.9,
    2.1,
    1.9,
    1.3,
    0.7,
]


# Shoppers in a store through a day: none before opening or after closing (mean 1 over
# the open hours, 9:00 to 20:00).
STORE_DAY = [0.0] * 9 + [0.5, 0.8, 1.0, 1.3, 1.3, 1.0, 1.0, 1.1, 1.3, 1.4, 1.3] + [0.0] * 4


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Period(Strict):
    start: AwareDatetime  # the first order can arrive then
    days: Annotated[int, Field(ge=1, le=31)]
    # After the last order, the clock runs on until every order is closed, at most this long.
    drain_days: Annotated[int, Field(ge=1, le=30)] = 10
    step_minutes: Annotated[int, Field(ge=1, le=240)] = 15  # the virtual clock's step

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


class Peak(Strict):
    """Demand times `multiplier` between `from` and `to` (e.g. Black Friday at 10x)."""

    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    multiplier: Annotated[float, Field(gt=0, le=100)]


class Destination(Strict):
    name: str
    postal_code: str
    country: str = "FR"
    lat: float
    lon: float
    weight: Annotated[float, Field(gt=0)] = 1.0


class Demand(Strict):
    orders_per_hour: Annotated[float, Field(gt=0, le=100_000)]  # normal volume, mean hour
    hour_profile: Annotated[list[float], Field(min_length=24, max_length=24)] = RETAIL_DAY
    peaks: list[Peak] = []
    # SKU popularity: "zipf" (a few bestsellers), "uniform", or a weight per SKU.
    sku_popularity: str | dict[str, float] = "zipf"
    zipf_exponent: Annotated[float, Field(ge=0, le=5)] = 1.0
    destinations: Annotated[list[Destination], Field(min_length=1)]
    lines_per_cart: dict[int, float] = {1: 0.6, 2: 0.3, 3: 0.1}
    units_per_line: dict[int, float] = {1: 0.85, 2: 0.15}
    click_and_collect_share: Share = 0.2  # of carts whose customer picks collection if offered
    express_share: Share = 0.1  # of home deliveries paid express if offered
    cancel_share: Share = 0.0  # of customers who cancel within a few hours
    seed: int = 7


class Delay(Strict):
    """Hours from a shipment's release (or the start of its picking day) to its pick:
    a triangular distribution."""

    min_hours: Annotated[float, Field(ge=0)] = 0.5
    mode_hours: Annotated[float, Field(ge=0)] = 2.0
    max_hours: Annotated[float, Field(ge=0)] = 6.0

    @model_validator(mode="after")
    def _ordered(self) -> "Delay":
        if not self.min_hours <= self.mode_hours <= self.max_hours:
            raise ValueError("a delay needs min_hours <= mode_hours <= max_hours")
        return self


class StoreSales(Strict):
    """Shoppers buying off the shelves of each store (what its till reports to the OMS as
    `sale` events): units an hour, on a normal day's mean open hour, times the demand's
    peaks. A shopper who finds the shelf empty leaves: a lost sale."""

    units_per_hour: dict[str, Annotated[float, Field(ge=0, le=100_000)]]  # store -> units
    hour_profile: Annotated[list[float], Field(min_length=24, max_length=24)] = STORE_DAY
    # SKU popularity in the shops: "zipf", "uniform", or a weight per SKU.
    sku_popularity: str | dict[str, float] = "zipf"
    zipf_exponent: Annotated[float, Field(ge=0, le=5)] = 1.0
    seed: int = 11


class TransferBehaviour(Strict):
    """How the field moves transfers between nodes (the OMS plans with its own policy)."""

    transit_days: Annotated[int, Field(ge=0, le=30)] = 1  # the shuttle's real days on the road
    receive_time: time = time(7)  # store-local: the shuttle arrives before opening
    loss_probability: Share = 0.0  # a whole transfer never arrives


class SupplyBehaviour(Strict):
    """How suppliers and returning customers behave: what the OMS is never told ahead."""

    late_probability: Share = 0.2  # chance a purchase order arrives after its ETA
    late_days: Annotated[int, Field(ge=1, le=30)] = 3  # late by 1..this many days
    # Of the late ones, the share whose supplier sends a new ETA two days before the old.
    announced_share: Share = 0.5
    short_probability: Share = 0.1  # chance a purchase order brings fewer units
    short_share: Share = 0.8  # of its units, when it is short
    return_sellable_rate: Share = 0.75  # of returned units fit to sell again
    arrival_time: time = time(10)  # node-local


class FieldBehaviour(Strict):
    pick_error_rate: Share = 0.01  # chance that a line is short at picking
    pick_delay: Delay = Delay()
    node_pick_delay: dict[str, Delay] = {}  # per node, where it differs
    picking_starts: time = time(8)  # node-local; picking runs until the node's cut-off
    carrier_delay_probability: Share = 0.03  # chance a parcel arrives late
    carrier_delay_days: Annotated[int, Field(ge=1, le=10)] = 1  # late by 1..this many days
    carrier_delay_by_carrier: dict[str, Share] = {}
    ready_for_collection_hours: Annotated[float, Field(ge=0, le=48)] = 1.0
    # A support agent looks at an order in the exception queue after this long: first
    # asks to try again, then accepts a partial delivery (or cancels if nothing would come).
    support_after_hours: Annotated[float, Field(gt=0, le=240)] = 4.0
    # Suppliers and returning customers deliver the supply lines (simulator/supply.py);
    # without it none ever arrives, as in the rehearsals before they were simulated.
    supply: SupplyBehaviour | None = None
    transfers: TransferBehaviour = TransferBehaviour()


class ScheduledSupply(Strict):
    """A supply line the buying or returns system opens during the rehearsal, at `at`:
    sent to `POST /v1/supply/events` as `po_created` or `return_authorised`."""

    at: AwareDatetime
    supply_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
    kind: Literal["purchase_order", "customer_return"]
    sku: str
    node_id: str
    qty: Annotated[int, Field(gt=0, le=100_000_000)]
    eta: date


class ScheduledIncident(Strict):
    """An incident sent to `POST /v1/incidents` at `at`: the body as the API takes it
    (without `incident_id`, which the simulator gives). The simulated field obeys it too."""

    at: AwareDatetime
    type: str
    node_id: str | None = None
    carrier_id: str | None = None
    service_id: str | None = None
    sku: str | None = None
    capacity_per_day: int | None = None
    counted: int | None = None
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    def body(self, incident_id: str) -> dict[str, Any]:
        fields = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"at"})
        return {"incident_id": incident_id, **fields}


class Scenario(Strict):
    name: str
    description: str = ""
    network: NetworkDocument
    period: Period
    demand: Demand
    field: FieldBehaviour = FieldBehaviour()
    incidents: list[ScheduledIncident] = []
    supply: list[ScheduledSupply] = []  # lines opened during the run (the network's: at start)
    policies: list[str] = ["balanced"]  # compared side by side; names from domain.policy
    store_sales: StoreSales | None = None  # shoppers in the stores (none: web orders only)
    # Store replenishment as the retailer sets it: each policy is rehearsed with it (the
    # OMS plans every day at `replenishment_at`, as its schedule does) and without it.
    replenishment: ReplenishmentPolicy | None = None
    replenishment_at: time = time(5)  # UTC

    @model_validator(mode="after")
    def _known_references(self) -> "Scenario":
        nodes = {node.id for node in self.network.nodes}
        carriers = {carrier.id for carrier in self.network.carriers}
        skus = {sku.sku for sku in self.network.skus}
        for incident in self.incidents:
            try:  # the same checks as POST /v1/incidents: the field must not obey a refusal
                Incident.model_validate(incident.body("check"))
            except ValidationError as exc:
                raise ValueError(f"incident at {incident.at}: {exc}") from exc
            if incident.node_id and incident.node_id not in nodes:
                raise ValueError(f"incident at {incident.at}: unknown node {incident.node_id}")
            if incident.carrier_id and incident.carrier_id not in carriers:
                raise ValueError(f"incident at {incident.at}: unknown carrier")
            if incident.sku and incident.sku not in skus:
                raise ValueError(f"incident at {incident.at}: unknown sku {incident.sku}")
        known_lines = {line.id for line in self.network.supply}
        for line in self.supply:
            if line.sku not in skus or line.node_id not in nodes:
                raise ValueError(f"supply {line.supply_id}: unknown sku or node")
            if line.supply_id in known_lines:
                raise ValueError(f"supply {line.supply_id} appears twice")
            known_lines.add(line.supply_id)
        if self.store_sales is not None:
            stores = {node.id for node in self.network.nodes if node.type == "store"}
            strangers = sorted(set(self.store_sales.units_per_hour) - stores)
            if strangers:
                raise ValueError(f"store sales name nodes that are not stores: {strangers}")
            popularity = self.store_sales.sku_popularity
            if isinstance(popularity, dict) and set(popularity) - skus:
                raise ValueError(f"store sales name unknown skus: {sorted(set(popularity) - skus)}")
            if isinstance(popularity, str) and popularity not in ("zipf", "uniform"):
                raise ValueError("store sales' sku_popularity is zipf, uniform or a weight per sku")
        unknown = [name for name in self.policies if name not in PRESETS]
        if unknown:
            raise ValueError(f"unknown policy {unknown}; known: {', '.join(PRESETS)}")
        if isinstance(self.demand.sku_popularity, dict):
            missing = set(self.demand.sku_popularity) - skus
            if missing:
                raise ValueError(f"demand names unknown skus: {sorted(missing)}")
        elif self.demand.sku_popularity not in ("zipf", "uniform"):
            raise ValueError("sku_popularity is zipf, uniform or a weight per sku")
        return self

    def shifted(self, days: int) -> "Scenario":
        """The same scenario `days` later (whole weeks keep the weekdays): a rehearsal can
        only run in the future of the virtual clock."""
        if days == 0:
            return self
        doc = json.loads(self.model_dump_json(by_alias=True))
        return Scenario.model_validate(_shift(doc, timedelta(days=days)))


def load_scenario(path: Path) -> Scenario:
    return Scenario.model_validate_json(path.read_text())


def weeks_until(start: datetime, now: datetime) -> int:
    """Days (a multiple of 7) to move a scenario starting at `start` to on or after `now`."""
    if start >= now:
        return 0
    return 7 * ((now - start) // timedelta(weeks=1) + 1)


_DATE_KEYS = {"start", "from", "to", "at", "eta", "guarantee_by"}


def _shift(value: Any, delta: timedelta, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, delta, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "holidays":
            return [(date.fromisoformat(d) + delta).isoformat() for d in value]
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and key in _DATE_KEYS:
        if "T" in value:
            return (datetime.fromisoformat(value) + delta).isoformat()
        return (date.fromisoformat(value) + delta).isoformat()
    return value
