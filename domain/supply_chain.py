"""The supply chain as the promise and the sourcing engine see it, in memory.

Nodes, carriers, calendar, online ATP per SKU and node (after safety stock and, at
stores, shelf protection), future supply, and picking capacity already booked. The API
keeps one refreshed copy so that the promise, which runs on every cart change, does no
I/O; the sourcing activity builds one for the order's SKUs from the ledger itself.
"""

from array import array
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.incidents import Incident, without_outages
from domain.inventory import available_to_promise
from domain.network import Calendar, Carrier, Node, Supply
from domain.routing import ship_day
from domain.sourcing import NodeOffer


def protection(node: Node) -> int:
    """Store shelves kept for walk-in customers; warehouses keep none."""
    return node.protection_qty if node.type == "store" else 0


def online_atp(node: Node, on_hand: int, reserved: int, safety_stock: int) -> int:
    """What an online order may take at this node (stores keep their protected units)."""
    return available_to_promise(on_hand, reserved, safety_stock + protection(node))


@dataclass
class SupplyChain:
    nodes: list[Node]
    carriers: dict[str, Carrier]
    calendar: Calendar
    # sku -> online ATP per node, in the order of `nodes` (compact: 200 nodes x 10,000
    # SKUs is 8 MB, not the 200 MB of nested dicts).
    atp: dict[str, array] = field(default_factory=dict)
    supply: dict[str, list[Supply]] = field(default_factory=dict)
    # Replace, don't mutate: a new value is what tells the ship days to be worked out again.
    capacity_used: dict[str, dict[date, int]] = field(default_factory=dict)
    outages: list[Incident] = field(default_factory=list)  # carrier outages in force

    def __post_init__(self) -> None:
        self.index = {node.id: n for n, node in enumerate(self.nodes)}
        self.by_id = {node.id: node for node in self.nodes}
        self.holidays = frozenset(self.calendar.holidays)
        self._ship_days: dict[str, date | None] = {}
        self._ship_days_key: tuple | None = None

    def __setattr__(self, name: str, value) -> None:
        if name == "capacity_used":
            object.__setattr__(self, "_capacity_version", getattr(self, "_capacity_version", 0) + 1)
        object.__setattr__(self, name, value)

    def set_atp(self, sku: str, node_id: str, qty: int) -> None:
        position = self.index.get(node_id)
        if position is None:
            return
        row = self.atp.get(sku)
        if row is None:
            row = self.atp[sku] = array("i", bytes(4 * len(self.nodes)))
        row[position] = max(0, qty)

    def carriers_on(self, day: date) -> dict[str, Carrier]:
        """The carriers as they serve on `day` (outages taken out)."""
        if not self.outages:
            return self.carriers
        return without_outages(self.carriers, self.outages, day)

    def offers(
        self, skus: list[str], always: str | set[str] | None = None, now: datetime | None = None
    ) -> list[NodeOffer]:
        """Nodes holding any of these SKUs (and those in `always`, e.g. collection stores).

        Given `now`, each offer carries the node's ship day, worked out once a minute."""
        rows = [(sku, self.atp[sku]) for sku in dict.fromkeys(skus) if sku in self.atp]
        days = self.ship_days(now) if now is not None else {}
        keep = {always} if isinstance(always, str) else (always or set())
        out = []
        for position, node in enumerate(self.nodes):
            atp = {sku: row[position] for sku, row in rows if row[position] > 0}
            if atp or node.id in keep:
                used = self.capacity_used.get(node.id, {})
                out.append(NodeOffer(node, atp, used, days.get(node.id)))
        return out

    def ship_days(self, now: datetime) -> dict[str, date | None]:
        """Every node's next picking day at `now` (cut-off, calendar, capacity)."""
        key = (now.replace(second=0, microsecond=0), self._capacity_version)
        if self._ship_days_key != key:
            self._ship_days = {
                node.id: ship_day(node, now, self.holidays, self.capacity_used.get(node.id))
                for node in self.nodes
            }
            self._ship_days_key = key
        return self._ship_days
