"""Available to promise (ATP), stock positions and the stock events of the field."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.ids import Id


class StockPosition(BaseModel):
    """The ledger's figures for one SKU at one node."""

    sku: str
    node_id: str
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def atp(self) -> int:
        return available_to_promise(self.on_hand, self.reserved, self.safety_stock)

    def online_atp(self, protection_qty: int) -> int:
        """What an online order may take: a store also keeps its protected shelf units."""
        return available_to_promise(self.on_hand, self.reserved, self.safety_stock + protection_qty)


def available_to_promise(on_hand: int, reserved: int, held_back: int) -> int:
    """ATP = on hand - reserved - held back, never below zero.

    The ledger's conditional reservation (db/ledger.py) applies the same rule in SQL.
    """
    return max(0, on_hand - reserved - held_back)


# The most units of one SKU a node's books may hold: a billion is beyond any shelf or
# warehouse, and well within the database's integer counters (2^31 - 1 on PostgreSQL).
MAX_ON_HAND = 1_000_000_000


class InventoryEvent(BaseModel):
    """A stock fact from a store or warehouse system; `event_id` makes it apply once."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id
    type: Literal["sale", "receipt", "adjustment", "count"]
    sku: Id
    node_id: Id
    qty: Annotated[int, Field(ge=-100_000_000, le=100_000_000)]  # as network stock rows

    @model_validator(mode="after")
    def _qty_fits_type(self) -> "InventoryEvent":
        if self.type in ("sale", "receipt") and self.qty <= 0:
            raise ValueError(f"a {self.type} needs a positive qty")
        if self.type == "count" and self.qty < 0:
            raise ValueError("a count cannot be negative")
        if self.type == "adjustment" and self.qty == 0:
            raise ValueError("an adjustment of 0 changes nothing")
        return self

    def on_hand_delta(self, on_hand: int) -> int:
        """How much this event changes the on-hand quantity of `on_hand`."""
        match self.type:
            case "sale":
                return -self.qty
            case "receipt" | "adjustment":
                return self.qty
            case _:  # count
                return self.qty - on_hand


class InventoryEventResult(BaseModel):
    event_id: str
    applied: bool  # False: the same event was already applied
    position: StockPosition
