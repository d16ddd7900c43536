"""Sourcing and stock activities: read the ledger, hold, commit and release units."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError

from activities import defn
from db import capacity, future_stock, ledger
from db.engine import read_only, unit_of_work
from db.network import read_calendar, read_node
from db.performance import PerformanceCache
from db.policies import active_policy
from db.supply_chain import load_supply_chain
from domain.errors import InsufficientStock, Refusal
from domain.order import Delivery, OrderLine
from domain.preorder import plan_preorder
from domain.sourcing import Destination, SourcingPlan, Unsourceable, source_order
from domain.supply_chain import SupplyChain, protection


class SourceOrderInput(BaseModel):
    order_id: str
    lines: list[OrderLine]
    delivery: Delivery
    now: datetime  # the workflow's clock: cut-offs are judged on it
    exclude_nodes: list[str] = []
    preorder: bool = False  # say whether incoming supply would serve what is missing


class SourceOrderResult(BaseModel):
    plan: SourcingPlan


class BookCapacityInput(BaseModel):
    shipment_id: str
    node_id: str
    not_before: date


class BookCapacityResult(BaseModel):
    day: date
    pick_by: datetime | None = None  # the node's SLA: picked by the end of its picking day


class ReleaseCapacityInput(BaseModel):
    shipment_id: str


class ReleaseCapacityResult(BaseModel):
    day: date | None


class ReserveStockInput(BaseModel):
    order_id: str
    round: int  # sourcing round: a new round may hold at a node again
    plan: SourcingPlan


class ReserveStockResult(BaseModel):
    reservation_ids: list[str]


class ReleaseStockInput(BaseModel):
    order_id: str
    node_id: str | None = None  # None: everywhere
    round: int | None = None  # the shipment's sourcing round: its own holds only


class StockMovedResult(BaseModel):
    units: int


class CommitStockInput(BaseModel):
    order_id: str
    node_id: str
    round: int | None = None  # the shipment's sourcing round: its own holds only


class WriteOffShortPickInput(BaseModel):
    order_id: str
    node_id: str
    line_id: str
    missing: int
    event_id: str
    round: int | None = None  # the shipment's sourcing round: its own holds only


class ShipUnheldInput(BaseModel):
    order_id: str
    node_id: str
    lines: list[tuple[str, str, int]]  # line id, sku, units
    event_id: str


class ShipUnheldResult(BaseModel):
    lines: list[ledger.ShippedUnheld]

    @property
    def from_stock(self) -> int:
        return sum(line.from_stock for line in self.lines)

    @property
    def short(self) -> int:
        return sum(line.short for line in self.lines)


class InventoryActivities:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.performance = PerformanceCache()

    @defn
    def source_order(self, input: SourceOrderInput) -> SourceOrderResult:
        """Plan the order under the policy in force, on fresh ledger and capacity figures."""
        with read_only(self.engine) as session:
            chain = load_supply_chain(session, [line.sku for line in input.lines])
            policy = active_policy(session)
            if policy.lead_times == "learned":
                chain.performance = self.performance.get(session, chain, input.now)
        delivery = input.delivery
        destination = destination_of(chain, delivery)
        pickup = destination.pickup_node_id
        if input.exclude_nodes:
            policy = policy.model_copy(
                update={"excluded_nodes": [*policy.excluded_nodes, *input.exclude_nodes]}
            )
        kinds = ("express",) if delivery.service == "express" else ("standard", "express")
        try:
            plan = source_order(
                input.lines,
                destination,
                chain.offers([x.sku for x in input.lines], pickup),
                chain.carriers_on(input.now.date()),
                chain.holidays,
                input.now,
                delivery.promised_by,
                policy,
                kinds,
                outlook=chain.outlook(policy),
            )
        except Unsourceable as exc:
            # Units nobody has on hand: incoming supply may still serve them (a pre-order).
            preorder = (
                exc.missing
                and input.preorder
                and plan_preorder(input.lines, exc.missing, destination, chain, input.now, policy)
            )
            raise ApplicationError(
                str(exc),
                {"missing": exc.missing, "preorder": bool(preorder)},
                type=Refusal.UNSOURCEABLE,
                non_retryable=True,
            ) from exc
        return SourceOrderResult(plan=plan)

    @defn
    def book_capacity(self, input: BookCapacityInput) -> BookCapacityResult:
        """Take a picking slot for the shipment at its node (idempotent per shipment)."""
        with read_only(self.engine) as session:  # the network, read before queueing to write
            node = read_node(session, input.node_id)
            holidays = set(read_calendar(session).holidays)
        assert node is not None, f"unknown node {input.node_id}"  # it was just sourced
        with unit_of_work(self.engine) as session:
            day = capacity.book(session, input.shipment_id, node, input.not_before, holidays)
        if day is None:
            raise ApplicationError(
                f"{input.node_id} has no picking capacity left in the coming weeks",
                type=Refusal.NO_CAPACITY,
                non_retryable=True,
            )
        pick_by = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(node.timezone))
        return BookCapacityResult(day=day, pick_by=pick_by)

    @defn
    def release_capacity(self, input: ReleaseCapacityInput) -> ReleaseCapacityResult:
        with unit_of_work(self.engine) as session:
            day = capacity.release(session, input.shipment_id)
        return ReleaseCapacityResult(day=day)

    @defn
    def reserve_stock(self, input: ReserveStockInput) -> ReserveStockResult:
        """Hold every planned unit in one transaction, or none."""
        requests = reservation_requests(self.engine, input.order_id, input.plan, input.round)
        with unit_of_work(self.engine) as session:
            try:
                ledger.reserve(session, requests, datetime.now(UTC))
            except InsufficientStock as exc:
                raise ApplicationError(
                    str(exc), type=Refusal.INSUFFICIENT_STOCK, non_retryable=True
                ) from exc
        return ReserveStockResult(reservation_ids=[r.reservation_id for r in requests])

    @defn
    def release_stock(self, input: ReleaseStockInput) -> StockMovedResult:
        now = datetime.now(UTC)
        with unit_of_work(self.engine) as session:
            future = 0
            if input.node_id is None and input.round is None:
                # Its pre-order's future units first: a receipt serving them at this moment
                # ends first, and its stock holds are released below.
                future = future_stock.release(session, input.order_id, now)
            units = ledger.release(session, input.order_id, now, input.node_id, input.round)
        return StockMovedResult(units=sum(u.qty for u in units) + future)

    @defn
    def commit_stock(self, input: CommitStockInput) -> StockMovedResult:
        with unit_of_work(self.engine) as session:
            units = ledger.commit(
                session, input.order_id, input.node_id, datetime.now(UTC), input.round
            )
        return StockMovedResult(units=sum(u.qty for u in units))

    @defn
    def ship_unheld(self, input: ShipUnheldInput) -> ShipUnheldResult:
        """A node shipped what the OMS had taken back from it: its free stock pays."""
        with unit_of_work(self.engine) as session:
            lines = ledger.ship_unheld(
                session,
                input.order_id,
                input.node_id,
                input.lines,
                f"late:{input.event_id}",
                datetime.now(UTC),
            )
        return ShipUnheldResult(lines=lines)

    @defn
    def write_off_short_pick(self, input: WriteOffShortPickInput) -> StockMovedResult:
        with unit_of_work(self.engine) as session:
            units = ledger.write_off_short_pick(
                session,
                input.order_id,
                input.node_id,
                input.line_id,
                input.missing,
                f"shortpick:{input.event_id}:{input.line_id}",
                datetime.now(UTC),
                input.round,
            )
        return StockMovedResult(units=units)


def reservation_requests(
    engine: Engine, order_id: str, plan: SourcingPlan, round: int, tag: str = ""
) -> list[ledger.ReservationRequest]:
    """A hold for each planned line, its id ending with the sourcing round (`tag` tells a
    later hold of the same round from the first)."""
    requests = []
    with read_only(engine) as session:  # the network, read before queueing to write
        for shipment in plan.shipments:
            # Only the plan's nodes: the reservation is the hot path of every order.
            node = read_node(session, shipment.node_id)
            protected = protection(node) if node is not None else 0
            for line in shipment.lines:
                requests.append(
                    ledger.ReservationRequest(
                        reservation_id=(
                            f"{order_id}:{line.line_id}:{shipment.node_id}{tag}:r{round}"
                        ),
                        order_id=order_id,
                        line_id=line.line_id,
                        sku=line.sku,
                        node_id=shipment.node_id,
                        qty=line.qty,
                        protection_qty=protected,
                    )
                )
    return requests


def destination_of(chain: SupplyChain, delivery: Delivery) -> Destination:
    """Where the order goes: the customer's address, or the store that hands it over."""
    if delivery.method == "click_and_collect":
        store = chain.by_id.get(delivery.store_id or "")
        if store is None:
            raise ApplicationError(
                f"unknown store {delivery.store_id}",
                type=Refusal.UNKNOWN_STORE,
                non_retryable=True,
            )
        return Destination(lat=store.lat, lon=store.lon, pickup_node_id=store.id)
    assert delivery.address is not None  # validated at the edge
    return Destination(lat=delivery.address.lat, lon=delivery.address.lon)
