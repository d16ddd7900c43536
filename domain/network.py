"""The retailer's network: nodes, carriers, SKUs, stock, supply and calendar.

`NetworkDocument` is the contract of `POST /v1/admin/network` and `oms network load`.
"""

from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.errors import InvalidNetwork
from domain.ids import Day, Id, Weekday

NodeType = Literal["warehouse", "store"]
ServiceKind = Literal["standard", "express"]
SupplyKind = Literal["purchase_order", "customer_return", "transfer"]

# A big retailer: thousands of stores, a hundred thousand SKUs. Beyond that, split the load.
MAX_NODES = 5_000
MAX_SKUS = 200_000
MAX_ROWS = 1_000_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Node(Strict):
    id: Id
    type: NodeType
    name: Annotated[str, Field(min_length=1, max_length=200)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    timezone: str = "Europe/Paris"
    pick_capacity_per_day: Annotated[int, Field(ge=0, le=10_000_000)]
    cutoff: time = time(15, 0)
    open_days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
    ]
    carriers: Annotated[list[Id], Field(max_length=50)] = []
    ship_from_store: bool = False
    click_and_collect: bool = False
    protection_qty: Annotated[int, Field(ge=0)] = 0
    # Hours from release to handover the node commits to: what the promise plans with
    # until the node's own record (its shipped events) says otherwise.
    preparation_hours: Annotated[float, Field(ge=0, le=72)] = 0.0
    # Units a store can take in from transfers a day (its back room, its staff); none: no limit.
    receiving_capacity_per_day: Annotated[int | None, Field(ge=0, le=10_000_000)] = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def ships_online_orders(self) -> bool:
        return self.type == "warehouse" or self.ship_from_store


class TransitBand(Strict):
    max_km: Annotated[float, Field(gt=0)]
    days: Annotated[int, Field(ge=0, le=60)]


class CarrierService(Strict):
    id: Id
    kind: ServiceKind = "standard"
    bands: Annotated[list[TransitBand], Field(min_length=1, max_length=20)]
    cost: Annotated[float, Field(ge=0)]
    pickup_days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    ]

    def model_post_init(self, _context) -> None:
        # Checked on every route of every promise: sort the bands once.
        self._bands = tuple(sorted((b.max_km, b.days) for b in self.bands))
        self._pickup_days = frozenset(self.pickup_days)

    def band_for(self, km: float) -> float | None:
        """The published band (its max km) that covers a distance."""
        for max_km, _ in self._bands:
            if km <= max_km:
                return max_km
        return None

    def transit_days(self, km: float) -> int | None:
        """Days in transit for a distance, or None when no band reaches it."""
        for max_km, days in self._bands:
            if km <= max_km:
                return days
        return None


class Carrier(Strict):
    id: Id
    name: str = ""
    services: Annotated[list[CarrierService], Field(min_length=1, max_length=50)]


class Sku(Strict):
    sku: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]
    weight_kg: Annotated[float, Field(ge=0, le=10_000)] = 0.0


class StockLevel(Strict):
    sku: Id
    node_id: Id
    on_hand: Annotated[int, Field(ge=0, le=100_000_000)]
    safety_stock: Annotated[int, Field(ge=0, le=100_000_000)] = 0


class Supply(Strict):
    id: Id
    kind: SupplyKind
    sku: Id
    node_id: Id
    qty: Annotated[int, Field(gt=0, le=100_000_000)]
    eta: Day


class Peak(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    from_: Day = Field(alias="from")
    to: Day
    guarantee_by: Day | None = None
    # How many times a normal day's demand the retailer expects on the peak's days: store
    # replenishment fills the shelves ahead of it (domain/replenishment.py).
    demand_factor: Annotated[float, Field(ge=0.1, le=100)] = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> "Peak":
        if self.to < self.from_:
            raise ValueError(f"peak {self.name!r} ends before it starts")
        return self


class Calendar(Strict):
    holidays: Annotated[list[Day], Field(max_length=1000)] = []
    peaks: Annotated[list[Peak], Field(max_length=100)] = []


class NetworkDocument(Strict):
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)]
    carriers: Annotated[list[Carrier], Field(max_length=500)] = []
    skus: Annotated[list[Sku], Field(max_length=MAX_SKUS)] = []
    stock: Annotated[list[StockLevel], Field(max_length=MAX_ROWS)] = []
    supply: Annotated[list[Supply], Field(max_length=MAX_ROWS)] = []
    calendar: Calendar = Calendar()

    def check_references(self) -> None:
        """Raise InvalidNetwork naming every id that is duplicated or unknown."""
        problems: list[str] = []
        node_ids = _unique(problems, "node", (n.id for n in self.nodes))
        carrier_ids = _unique(problems, "carrier", (c.id for c in self.carriers))
        _unique(problems, "service", (s.id for c in self.carriers for s in c.services))
        sku_ids = _unique(problems, "sku", (s.sku for s in self.skus))
        _unique(problems, "stock row", (f"{s.sku}@{s.node_id}" for s in self.stock))
        _unique(problems, "supply", (s.id for s in self.supply))
        for node in self.nodes:
            for carrier_id in node.carriers:
                if carrier_id not in carrier_ids:
                    problems.append(f"node {node.id} uses unknown carrier {carrier_id}")
        rows: list[StockLevel | Supply] = [*self.stock, *self.supply]
        for row in rows:
            if row.sku not in sku_ids:
                problems.append(f"unknown sku {row.sku} in stock or supply")
            if row.node_id not in node_ids:
                problems.append(f"unknown node {row.node_id} in stock or supply")
        if problems:
            shown = problems[:20]
            more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
            raise InvalidNetwork("; ".join(shown) + more)


def _unique(problems: list[str], what: str, ids) -> set[str]:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            problems.append(f"duplicate {what} {value}")
        seen.add(value)
    return seen
