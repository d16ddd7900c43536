"""Simulated stores and shuttles: shoppers buying off the shelves (the till reports each
hour's sales to `POST /v1/inventory/events`; what the shelf does not have is a lost sale),
and transfers moved between nodes as the OMS asks (picked, shipped, received through
`POST /v1/nodes/{node}/events`), with the field's own transit days and losses. The OMS
is told what the tills and the nodes report, nothing else."""

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from db.tables import StockRow, TransferRow
from domain.network import Node
from domain.shipping_calendar import weekday
from simulator.demand import orders_per_hour, popularity_of
from simulator.oms_client import OmsClient
from simulator.scenario import Demand, Scenario

Schedule = Callable[[datetime, str, Callable[[], Awaitable[None]]], None]
SHIP_AFTER_PICK = timedelta(minutes=30)


@dataclass
class StoreStats:
    wanted: int = 0  # units shoppers came for
    sold: int = 0
    lost: int = 0  # the shelf was empty (or held for online orders)
    stockout_hours: int = 0  # (store, SKU) open hours at zero free units, SKUs the store sells
    collect_wanted: int = 0  # carts whose customer wanted click & collect
    collect_offered: int = 0  # of them, offered click & collect
    transfers_picked: int = 0
    transfers_short: int = 0
    transfers_lost: int = 0


class Stores:
    def __init__(
        self,
        scenario: Scenario,
        oms: OmsClient,
        engine: Engine,
        schedule: Schedule,
        clock: Callable[[], datetime],
    ):
        self.scenario = scenario
        self.clock = clock
        self.sales = scenario.store_sales
        self.behaviour = scenario.field.transfers
        self.oms = oms
        self.engine = engine
        self.schedule = schedule
        self.nodes: dict[str, Node] = {n.id: n for n in scenario.network.nodes}
        self.rng = random.Random((self.sales.seed if self.sales else 11) + 3)
        self.pick_rng = random.Random(scenario.demand.seed + 5)
        self.stats = StoreStats()
        self.selling: set[tuple[str, str]] = set()  # (store, sku) shoppers ask for
        self._events = 0

    # --- Shoppers ---------------------------------------------------------------------

    def plan(self) -> None:
        """Draw every hour's shoppers of the period and schedule the tills' reports."""
        if self.sales is None:
            return
        period = self.scenario.period
        stocked: dict[str, list[str]] = {}
        for row in self.scenario.network.stock:
            stocked.setdefault(row.node_id, []).append(row.sku)
        for store_id, rate in sorted(self.sales.units_per_hour.items()):
            skus = sorted(stocked.get(store_id, []))
            if not skus or rate <= 0:
                continue
            weights = popularity_of(self.sales.sku_popularity, self.sales.zipf_exponent, skus)
            self.selling.update((store_id, sku) for sku in skus)
            tz = ZoneInfo(self.nodes[store_id].timezone)
            hour = period.start
            while hour < period.end:
                expected = rate * self._shape(hour, tz) if self._open_at(store_id, hour) else 0.0
                units = _poisson(self.rng, expected)
                if units:
                    wanted: dict[str, int] = {}
                    for sku in self.rng.choices(skus, weights, k=units):
                        wanted[sku] = wanted.get(sku, 0) + 1
                    at = hour + timedelta(minutes=59)  # the till reports the hour at its end
                    self.schedule(at, f"till:{store_id}", self._till(store_id, wanted))
                hour += timedelta(hours=1)

    def _shape(self, hour: datetime, tz: ZoneInfo) -> float:
        """This hour's share of a normal mean open hour: the store's day profile, and the
        demand's peaks (shoppers rush in as the web does)."""
        assert self.sales is not None
        profile = self.sales.hour_profile
        open_hours = [h for h in profile if h > 0]
        mean = sum(open_hours) / len(open_hours) if open_hours else 1.0
        peak = orders_per_hour(_flat(self.scenario.demand), hour, tz)
        return profile[hour.astimezone(tz).hour] / mean * peak

    def _till(self, store_id: str, wanted: dict[str, int]) -> Callable[[], Awaitable[None]]:
        async def report() -> None:
            for sku, units in sorted(wanted.items()):
                self.stats.wanted += units
                sold = await self._sell(store_id, sku, units)
                self.stats.sold += sold
                self.stats.lost += units - sold

        return report

    async def _sell(self, store_id: str, sku: str, units: int) -> int:
        """The shoppers take what the shelf has: the whole hour's units, or fewer, one by
        one, until the OMS says the shelf is empty (a sale beyond it is refused)."""
        if await self._sale(store_id, sku, units):
            return units
        sold = 0
        while sold < units - 1 and await self._sale(store_id, sku, 1):
            sold += 1
        return sold

    async def _sale(self, store_id: str, sku: str, qty: int) -> bool:
        self._events += 1
        body = {
            "event_id": f"TILL-{store_id}-{self._events}",
            "type": "sale",
            "sku": sku,
            "node_id": store_id,
            "qty": qty,
        }
        status, _ = await self.oms.field("/v1/inventory/events", body, ("node", store_id))
        return status < 300

    def sample_stockouts(self, hour: datetime) -> None:
        """For the hour starting at `hour`, within the period: the SKUs shoppers ask for
        that a store open then has none of, free. Closed hours and the drain after the
        period do not count (no shopper comes)."""
        if not self.selling or self.sales is None or hour >= self.scenario.period.end:
            return
        open_now = {store_id for store_id, _ in self.selling if self._open_at(store_id, hour)}
        if not open_now:
            return
        with Session(self.engine) as session:
            rows = session.exec(
                select(StockRow.node_id, StockRow.sku, StockRow.on_hand, StockRow.reserved)
            )
            free = {(node, sku): on_hand - reserved for node, sku, on_hand, reserved in rows}
        self.stats.stockout_hours += sum(
            1 for pair in self.selling if pair[0] in open_now and free.get(pair, 0) <= 0
        )

    def _open_at(self, store_id: str, hour: datetime) -> bool:
        assert self.sales is not None
        store = self.nodes[store_id]
        local = hour.astimezone(ZoneInfo(store.timezone))
        holidays = self.scenario.network.calendar.holidays
        return (
            self.sales.hour_profile[local.hour] > 0
            and weekday(local.date()) in store.open_days
            and local.date() not in holidays
        )

    def checkout(self, wanted_collect: bool, offered_collect: bool) -> None:
        if wanted_collect:
            self.stats.collect_wanted += 1
            self.stats.collect_offered += offered_collect

    # --- Transfers --------------------------------------------------------------------

    def transfer_released(self, payload: dict[str, Any], now: datetime) -> None:
        """The source heard it must pick a transfer: it does on its picking day."""
        source = self.nodes[payload["source_node_id"]]
        tz = ZoneInfo(source.timezone)
        day = date.fromisoformat(payload["pick_day"]) if payload.get("pick_day") else now.date()
        begin = max(now, datetime.combine(day, self.scenario.field.picking_starts, tz))
        when = begin + timedelta(hours=self.pick_rng.uniform(1, 4))
        key = f"transfer:{payload['transfer_id']}"
        self.schedule(when, key, lambda: self._pick(payload))

    async def _pick(self, payload: dict[str, Any]) -> None:
        transfer_id, source = payload["transfer_id"], payload["source_node_id"]
        lines = []
        for line in payload["lines"]:
            qty = line["qty"]
            if self.pick_rng.random() < self.scenario.field.pick_error_rate:
                qty = self.pick_rng.randint(0, qty - 1)
                self.stats.transfers_short += 1
            lines.append({"sku": line["sku"], "qty": qty})
        status, _ = await self._event(source, transfer_id, "picked", lines)
        if status >= 300:
            return  # called off meanwhile
        self.stats.transfers_picked += 1
        shipped = self.clock() + SHIP_AFTER_PICK
        self.schedule(shipped, f"transfer:{transfer_id}", lambda: self._ship(payload))

    async def _ship(self, payload: dict[str, Any]) -> None:
        transfer_id, source = payload["transfer_id"], payload["source_node_id"]
        status, _ = await self._event(source, transfer_id, "shipped", [])
        if status >= 300:
            return
        if self.pick_rng.random() < self.behaviour.loss_probability:
            self.stats.transfers_lost += 1
            return  # the shuttle never gets there: the OMS finds out by itself
        store = self.nodes[payload["destination_node_id"]]
        tz = ZoneInfo(store.timezone)
        day = self.clock().astimezone(tz).date() + timedelta(days=self.behaviour.transit_days)
        arrives = max(
            datetime.combine(day, self.behaviour.receive_time, tz),
            self.clock() + timedelta(hours=1),
        )
        self.schedule(arrives, f"transfer:{transfer_id}", lambda: self._receive(payload))

    async def _receive(self, payload: dict[str, Any]) -> None:
        await self._event(payload["destination_node_id"], payload["transfer_id"], "received", [])

    async def _event(
        self, node_id: str, transfer_id: str, kind: str, lines: list[dict[str, Any]]
    ) -> tuple[int, Any]:
        self._events += 1
        body = {
            "event_id": f"TR-{transfer_id}-{kind}",
            "type": kind,
            "transfer_id": transfer_id,
            "lines": lines,
        }
        return await self.oms.field(f"/v1/nodes/{node_id}/events", body, ("node", node_id))

    def figures(self) -> dict[str, Any]:
        """What the stores and the shuttles did, for the report."""
        stats = self.stats
        with Session(self.engine) as session:
            rows = list(session.exec(select(TransferRow)))
        views = [row.view for row in rows]
        received = sum(line.get("received", 0) for v in views for line in v["lines"])
        return {
            "units_wanted_in_store": stats.wanted,
            "units_sold_in_store": stats.sold,
            "units_lost_in_store": stats.lost,
            "stockout_hours": stats.stockout_hours,
            "click_and_collect_wanted": stats.collect_wanted,
            "click_and_collect_offered": stats.collect_offered,
            "click_and_collect_availability": (
                stats.collect_offered / stats.collect_wanted if stats.collect_wanted else None
            ),
            "transfers": len(views),
            "transfers_received": sum(1 for v in views if v["status"] == "received"),
            "units_transferred": received,
            "transfer_cost": round(
                sum(v.get("cost", 0.0) for v in views if v["status"] != "refused"), 2
            ),
            "transfer_units_lost": sum(line.get("lost", 0) for v in views for line in v["lines"]),
            "transfer_units_written_off": sum(
                line.get("written_off", 0) for v in views for line in v["lines"]
            ),
            "transfers_lost_by_the_field": stats.transfers_lost,
        }


def _flat(demand: Demand) -> Demand:
    """The demand's peaks over a flat day: the factor an hour's store traffic is scaled by."""
    return demand.model_copy(update={"orders_per_hour": 1.0, "hour_profile": [1.0] * 24})


def _poisson(rng: random.Random, mean: float) -> int:
    """Shoppers in an hour: Poisson with this mean (Knuth's method, fine for small means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
