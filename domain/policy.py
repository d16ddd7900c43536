"""The sourcing policy: the retailer's rules, configured without code (JSON or YAML).

Hard constraints remove candidates; the weighted score ranks what is left. Each saved
policy gets a version, and every plan names the version that chose it.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import Id


class Weights(BaseModel):
    """How much one unit of each measure costs in the score (lower score wins)."""

    model_config = ConfigDict(extra="forbid")

    cost: Annotated[float, Field(ge=0)] = 1.0  # per euro of shipping + picking
    lead_time: Annotated[float, Field(ge=0)] = 3.0  # per day until the order is complete
    distance: Annotated[float, Field(ge=0)] = 0.005  # per km travelled by all parcels
    splits: Annotated[float, Field(ge=0)] = 4.0  # per shipment beyond the first
    store_share: Annotated[float, Field(ge=0)] = 2.0  # x share of units taken from stores


class SourcingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] = "balanced"
    version: int = 0  # given by the OMS when the policy is saved
    max_splits: Annotated[int, Field(ge=0, le=10)] = 2  # shipments beyond the first
    split_lines: bool = True  # may one line come from several nodes
    use_stores: bool = True  # may stores ship online orders (ship-from-store)
    # Ship-from-store is for customers near the store: farther ones get a warehouse.
    max_store_distance_km: Annotated[float, Field(gt=0)] = 150.0
    excluded_nodes: Annotated[list[Id], Field(max_length=5000)] = []
    # Move work off a node or carrier that fails (short pick, missed SLA, incident); off,
    # the order waits for the node and ships what it has, as a plain nearest-node OMS does.
    reroute: bool = True
    # The chance a promised date is kept: dates come from what the field has shown (each
    # node's lead times, each carrier lane's delays) at this level. Higher is safer and
    # later; lower is faster and missed more often.
    promise_confidence: Annotated[float, Field(ge=0.5, le=0.999)] = 0.97
    # "learned": plan with the lead times the field shows; "published": with the cut-offs
    # and transit bands as configured, as a plain OMS does.
    lead_times: Literal["learned", "published"] = "learned"
    # The share of customer returns that come back fit to sell again: a return on its way
    # is promised to pre-orders up to this share of its units (domain/future_stock.py).
    return_resale_rate: Annotated[float, Field(ge=0, le=1)] = 0.7
    picking_cost: dict[str, Annotated[float, Field(ge=0)]] = {"warehouse": 1.0, "store": 2.5}
    weights: Weights = Weights()


DEFAULT_POLICY = SourcingPolicy()

# The first rule of the OMS, kept as a policy to compare against: nearest node wins.
NEAREST_NODE_POLICY = SourcingPolicy(
    name="nearest-node",
    weights=Weights(cost=0, lead_time=0, distance=1.0, splits=10_000, store_share=0),
)

# Policies known by name (the simulator compares them).
PRESETS = {
    DEFAULT_POLICY.name: DEFAULT_POLICY,
    NEAREST_NODE_POLICY.name: NEAREST_NODE_POLICY,
    # A plain OMS: nearest node, no reroute, static promise from published cut-offs and bands.
    "nearest-node-no-reroute": NEAREST_NODE_POLICY.model_copy(
        update={"name": "nearest-node-no-reroute", "reroute": False, "lead_times": "published"}
    ),
}
