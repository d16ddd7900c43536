"""The supply chain as the promise and the sourcing engine see it, in memory.

Nodes, carriers, calendar, online ATP per SKU and node (after safety stock and, at
stores, shelf protection), future supply, and picking capacity already booked. The API
keeps one refreshed copy so that the promise, which runs on every cart change, does no
I/O; the sourcing activity builds one for the order's SKUs from the ledger itself.
"""

from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time

from domain.future_stock import SupplyLine
from domain.incidents import Incident, without_outages
from domain.inventory import available_to_promise
from domain.lead_times import COLLECT, SHIP, FieldPerformance, Handover
from domain.network import Calendar, Carrier, Node
from domain.policy import SourcingPolicy
from domain.routing import PUBLISHED, FieldOutlook, ship_day, work_starts
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
    supply: dict[str, list[SupplyLine]] = field(default_factory=dict)  # open lines, soonest first
    # node -> the local time it usually receives supply (absent: DEFAULT_RECEIPT_TIME).
    receipt_times: dict[str, time] = field(default_factory=dict)
    # Replace, don't mutate: a new value is what tells the ship days to be worked out again.
    capacity_used: dict[str, dict[date, int]] = field(default_factory=dict)
    outages: list[Incident] = field(default_factory=list)  # carrier outages in force
    # What the field has shown (lead times, lane delays); None: nothing learned yet.
    # Replace, don't mutate, as for capacity_used.
    performance: FieldPerformance | None = None
    # Counts the changes of capacity_used and performance: what the cached days key on.
    _capacity_version: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.index = {node.id: n for n, node in enumerate(self.nodes)}
        self.by_id = {node.id: node for node in self.nodes}
        self.holidays = frozenset(self.calendar.holidays)
        self._ship_days: dict[str, date | None] = {}
        self._ship_days_key: tuple | None = None
        self._handovers: dict[str, tuple[Handover | None, Handover | None]] = {}
        self._handovers_key: tuple | None = None

    def __setattr__(self, name: str, value) -> None:
        if name in ("capacity_used", "performance"):
            object.__setattr__(self, "_capacity_version", self._version() + 1)
        object.__setattr__(self, name, value)

    def _version(self) -> int:
        return self.__dict__.get("_capacity_version", 0)  # not set yet while __init__ runs

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

    def outlook(self, policy: SourcingPolicy) -> FieldOutlook:
        """What plans expect of the field under `policy`: what it has shown and the outages
        announced, or (a plain OMS) the published calendar alone."""
        if policy.lead_times == "published":
            return PUBLISHED
        return FieldOutlook(self.performance, policy.promise_confidence, tuple(self.outages))

    def offers(
        self,
        skus: list[str],
        always: str | set[str] | None = None,
        now: datetime | None = None,
        learned: bool = False,
    ) -> list[NodeOffer]:
        """Nodes holding any of these SKUs (and those in `always`, e.g. collection stores).

        Given `now`, each offer carries the node's ship day (and, `learned`, when its
        parcels leave), worked out once a minute."""
        rows = [(sku, self.atp[sku]) for sku in dict.fromkeys(skus) if sku in self.atp]
        days = self.ship_days(now, learned) if now is not None else {}
        handovers = self.handovers(now) if now is not None and learned else {}
        keep = {always} if isinstance(always, str) else (always or set())
        out = []
        for position, node in enumerate(self.nodes):
            atp = {sku: row[position] for sku, row in rows if row[position] > 0}
            if atp or node.id in keep:
                used = self.capacity_used.get(node.id, {})
                ship, ready = handovers.get(node.id, (None, None))
                out.append(NodeOffer(node, atp, used, days.get(node.id), ship, ready))
        return out

    def ship_days(self, now: datetime, learned: bool = False) -> dict[str, date | None]:
        """Every node's next picking day at `now` (cut-off, calendar, capacity, and,
        `learned`, a backlog the node cannot clear today)."""
        key = (now.replace(second=0, microsecond=0), self._capacity_version, learned)
        if self._ship_days_key != key:
            outlook = FieldOutlook(self.performance) if learned else PUBLISHED
            self._ship_days = {
                node.id: ship_day(
                    node,
                    now,
                    self.holidays,
                    self.capacity_used.get(node.id),
                    outlook.not_before(node, now),
                )
                for node in self.nodes
            }
            self._ship_days_key = key
        return self._ship_days

    def handovers(self, now: datetime) -> dict[str, tuple[Handover | None, Handover | None]]:
        """Every node's handover days for work released at `now`, to a carrier and to its
        own counter, as learned (worked out once a minute)."""
        key = (now.replace(second=0, microsecond=0), self._capacity_version)
        if self._handovers_key != key:
            days = self.ship_days(now, learned=True)
            performance = self.performance
            self._handovers = {}
            for node in self.nodes:
                pick_on = days.get(node.id)
                if pick_on is None or performance is None:
                    continue
                start = work_starts(node, now, pick_on)
                self._handovers[node.id] = (
                    performance.handover(node, SHIP, start),
                    performance.handover(node, COLLECT, start),
                )
            self._handovers_key = key
        return self._handovers
