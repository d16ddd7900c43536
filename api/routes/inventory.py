"""Inventory: stock positions per node, and stock events from stores and warehouses."""

import hashlib

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from api.deps import CallerDep, EngineDep, NodeField, NowDep, Reader, SessionDep
from db import ledger
from db.engine import unit_of_work
from db.network import read_node
from db.supply_chain import read_supply
from db.tables import SkuRow
from domain.future_stock import SupplyLine
from domain.ids import Id
from domain.inventory import InventoryEvent, InventoryEventResult

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])


class NodePosition(BaseModel):
    node_id: str
    on_hand: int
    reserved: int
    safety_stock: int
    atp: int


class InventoryView(BaseModel):
    sku: str
    name: str
    atp: int
    nodes: list[NodePosition]
    supply: list[SupplyLine]  # open lines: what is expected, what pre-orders may take


@router.get("/{sku}", response_model=InventoryView, dependencies=[Reader])
def inventory(sku: Id, caller: CallerDep, session: SessionDep) -> InventoryView:
    """On hand, reserved, safety stock and ATP of a SKU at every node, and its future
    supply; a node's system sees its own nodes'."""
    row = session.get(SkuRow, sku)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {sku}")
    nodes = [
        NodePosition(
            node_id=p.node_id,
            on_hand=p.on_hand,
            reserved=p.reserved,
            safety_stock=p.safety_stock,
            atp=p.atp,
        )
        for p in ledger.positions(session, sku)
        if caller.reads("node", p.node_id)
    ]
    return InventoryView(
        sku=sku,
        name=row.name,
        atp=sum(n.atp for n in nodes),
        nodes=nodes,
        supply=[
            line
            for line in read_supply(session, [sku]).get(sku, [])
            if caller.reads("node", line.node_id)
        ],
    )


@router.post("/events", response_model=InventoryEventResult, dependencies=NodeField)
def inventory_event(
    event: InventoryEvent, caller: CallerDep, engine: EngineDep, now: NowDep
) -> InventoryEventResult:
    """Apply a sale, receipt, adjustment (signed delta) or count at the caller's own node;
    each event_id applies once."""
    caller.check("node", event.node_id)
    fingerprint = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
    with unit_of_work(engine) as session:
        if read_node(session, event.node_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown node {event.node_id}")
        if session.get(SkuRow, event.sku) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {event.sku}")
        return ledger.apply_inventory_event(session, event, fingerprint, now)
