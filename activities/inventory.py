"""Sourcing and stock activities: read the ledger, hold, commit and release units."""

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import ledger
from db.engine import unit_of_work
from db.network import read_network
from domain.errors import InsufficientStock
from domain.network import Node
from domain.order import Delivery, OrderLine
from domain.sourcing import Destination, NodeOffer, SourcingPlan, Unsourceable, source_order


class SourceOrderInput(BaseModel):
    order_id: str
    lines: list[OrderLine]
    delivery: Delivery
    now: datetime  # the workflow's clock: cut-offs are judged on it
    exclude_nodes: list[str] = []


class SourceOrderResult(BaseModel):
    plan: SourcingPlan


class ReserveStockInput(BaseModel):
    order_id: str
    round: int  # sourcing round: a new round may hold at a node again
    plan: SourcingPlan


class ReserveStockResult(BaseModel):
    reservation_ids: list[str]


class ReleaseStockInput(BaseModel):
    order_id: str
    node_id: str | None = None  # None: everywhere


class StockMovedResult(BaseModel):
    units: int


class CommitStockInput(BaseModel):
    order_id: str
    node_id: str


class WriteOffShortPickInput(BaseModel):
    order_id: str
    node_id: str
    line_id: str
    missing: int
    event_id: str


class InventoryActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn
    def source_order(self, input: SourceOrderInput) -> SourceOrderResult:
        """Plan the order on a fresh read of the ledger (ATP after safety and protection)."""
        with unit_of_work(self.engine) as session:
            network = read_network(session)
            positions = ledger.atp_by_node(session, [line.sku for line in input.lines])
        pickup = None
        if input.delivery.method == "click_and_collect":
            store = network.nodes.get(input.delivery.store_id or "")
            if store is None:
                raise ApplicationError(
                    f"unknown store {input.delivery.store_id}", type="UnknownStore",
                    non_retryable=True,
                )  # fmt: skip
            destination = Destination(lat=store.lat, lon=store.lon, pickup_node_id=store.id)
            pickup = store.id
        else:
            address = input.delivery.address
            assert address is not None  # validated at the edge
            destination = Destination(lat=address.lat, lon=address.lon)
        offers = []
        for node_id, node in network.nodes.items():
            if node_id in input.exclude_nodes:
                continue
            if not (node.ships_online_orders or node_id == pickup):
                continue
            protection = _protection(node)
            atp = {sku: p.online_atp(protection) for sku, p in positions.get(node_id, {}).items()}
            offers.append(NodeOffer(node=node, atp=atp))
        try:
            plan = source_order(
                input.lines, destination, offers, network.carriers,
                set(network.calendar.holidays), input.now, input.delivery.promised_by,
            )  # fmt: skip
        except Unsourceable as exc:
            raise ApplicationError(
                str(exc), {"missing": exc.missing}, type="Unsourceable", non_retryable=True
            ) from exc
        return SourceOrderResult(plan=plan)

    @activity.defn
    def reserve_stock(self, input: ReserveStockInput) -> ReserveStockResult:
        """Hold every planned unit in one transaction, or none."""
        with unit_of_work(self.engine) as session:
            network = read_network(session)
            requests = []
            for shipment in input.plan.shipments:
                protection = _protection(network.nodes[shipment.node_id])
                for line in shipment.lines:
                    requests.append(
                        ledger.ReservationRequest(
                            reservation_id=(
                                f"{input.order_id}:{line.line_id}:{shipment.node_id}:r{input.round}"
                            ),
                            order_id=input.order_id,
                            line_id=line.line_id,
                            sku=line.sku,
                            node_id=shipment.node_id,
                            qty=line.qty,
                            protection_qty=protection,
                        )
                    )
            try:
                ledger.reserve(session, requests, datetime.now(UTC))
            except InsufficientStock as exc:
                raise ApplicationError(
                    str(exc), type="InsufficientStock", non_retryable=True
                ) from exc
        return ReserveStockResult(reservation_ids=[r.reservation_id for r in requests])

    @activity.defn
    def release_stock(self, input: ReleaseStockInput) -> StockMovedResult:
        with unit_of_work(self.engine) as session:
            units = ledger.release(session, input.order_id, datetime.now(UTC), input.node_id)
        return StockMovedResult(units=sum(u.qty for u in units))

    @activity.defn
    def commit_stock(self, input: CommitStockInput) -> StockMovedResult:
        with unit_of_work(self.engine) as session:
            units = ledger.commit(session, input.order_id, input.node_id, datetime.now(UTC))
        return StockMovedResult(units=sum(u.qty for u in units))

    @activity.defn
    def write_off_short_pick(self, input: WriteOffShortPickInput) -> StockMovedResult:
        with unit_of_work(self.engine) as session:
            units = ledger.write_off_short_pick(
                session, input.order_id, input.node_id, input.line_id, input.missing,
                f"shortpick:{input.event_id}:{input.line_id}", datetime.now(UTC),
            )  # fmt: skip
        return StockMovedResult(units=units)


def _protection(node: Node) -> int:
    """Store shelves kept for walk-in customers; warehouses keep none."""
    return node.protection_qty if node.type == "store" else 0
