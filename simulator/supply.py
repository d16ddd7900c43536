"""Simulated suppliers and returning customers. Purchase orders arrive late or short,
returns come back partly damaged, as the scenario's supply behaviour draws them; the
buying and returns systems tell the OMS through `POST /v1/supply/events` when a line is
opened, when a supplier announces a new date (not always), and when units are received.
The OMS learns nothing else: not the draw, not the real date before it is told."""

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulator.oms_client import OmsClient
from simulator.scenario import Scenario, SupplyBehaviour

Schedule = Callable[[datetime, str, Callable[[], Awaitable[None]]], None]
PATH = "/v1/supply/events"
ANNOUNCED_BEFORE = timedelta(days=2)  # a supplier that warns does so two days ahead


@dataclass
class SupplyStats:
    lines: int = 0
    late: int = 0
    announced_late: int = 0
    short: int = 0
    units_expected: int = 0
    units_received: int = 0
    units_sellable: int = 0
    events_refused: int = 0


class SupplyField:
    def __init__(self, scenario: Scenario, oms: OmsClient, schedule: Schedule):
        self.scenario = scenario
        self.behaviour = scenario.field.supply or SupplyBehaviour()
        self.simulated = scenario.field.supply is not None
        self.oms = oms
        self.schedule = schedule
        # Its own draws: adding supply to a scenario leaves the rest of the field as it was.
        self.rng = random.Random(scenario.demand.seed + 2)
        self.zones = {node.id: ZoneInfo(node.timezone) for node in scenario.network.nodes}
        self.node_of: dict[str, str] = {}  # supply line -> its node, whose system reports it
        self.stats = SupplyStats()

    def plan(self, start: datetime) -> None:
        """Draw how every supply line will really arrive, and schedule what the buying and
        returns systems will say: the network's lines (open from the start), then the lines
        opened during the run. A scenario without supply behaviour sends nothing."""
        if not self.simulated:
            return
        for loaded in self.scenario.network.supply:
            self._line(start, loaded.id, loaded.kind, loaded.node_id, loaded.qty, loaded.eta)
        for line in self.scenario.supply:
            opened = {
                "type": "po_created" if line.kind == "purchase_order" else "return_authorised",
                "sku": line.sku,
                "node_id": line.node_id,
                "qty": line.qty,
                "eta": line.eta.isoformat(),
            }
            self._send_at(line.at, line.supply_id, "opened", opened)
            self._line(line.at, line.supply_id, line.kind, line.node_id, line.qty, line.eta)

    def _line(
        self, opened: datetime, supply_id: str, kind: str, node_id: str, qty: int, eta: date
    ) -> None:
        behaviour = self.behaviour
        self.node_of[supply_id] = node_id
        self.stats.lines += 1
        self.stats.units_expected += qty
        late = 0
        if kind != "customer_return" and self.rng.random() < behaviour.late_probability:
            late = self.rng.randint(1, behaviour.late_days)
            self.stats.late += 1
        arrives_on = eta + timedelta(days=late)
        tz = self.zones[node_id]
        if late and self.rng.random() < behaviour.announced_share:
            self.stats.announced_late += 1
            warned = max(
                datetime.combine(eta, behaviour.arrival_time, tz) - ANNOUNCED_BEFORE, opened
            )
            self._send_at(
                warned, supply_id, "eta", {"type": "po_updated", "eta": arrives_on.isoformat()}
            )
        arrives = max(datetime.combine(arrives_on, behaviour.arrival_time, tz), opened)
        if kind == "customer_return":
            sellable = sum(self.rng.random() < behaviour.return_sellable_rate for _ in range(qty))
            self._received(arrives, supply_id, qty, sellable, returned=True)
            return
        received = qty
        if self.rng.random() < behaviour.short_probability:
            self.stats.short += 1
            received = int(qty * behaviour.short_share)
        self._received(arrives, supply_id, received, received, returned=False)

    def _received(
        self, at: datetime, supply_id: str, qty: int, sellable: int, returned: bool
    ) -> None:
        self.stats.units_received += qty
        self.stats.units_sellable += sellable
        if not returned:
            self._send_at(at, supply_id, "received", {"type": "received", "qty": qty})
            return
        damaged = qty - sellable
        if sellable:
            body = {"type": "return_received", "qty": sellable, "grade": "sellable"}
            self._send_at(at, supply_id, "sellable", body | {"final": not damaged})
        if damaged or not sellable:
            body = {"type": "return_received", "qty": damaged, "grade": "damaged"}
            self._send_at(at, supply_id, "damaged", body)

    def _send_at(self, at: datetime, supply_id: str, step: str, body: dict[str, Any]) -> None:
        event = {"event_id": f"{supply_id}-{step}", "supply_id": supply_id, **body}

        async def send() -> None:
            speaker = ("node", self.node_of[supply_id])
            status, _ = await self.oms.field(PATH, event, speaker)
            self.stats.events_refused += status >= 400

        # One key per line: its events go in the order they were drawn.
        self.schedule(at, f"supply:{supply_id}", send)
