"""Loading and reading the retailer's network."""

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from db import future_stock, ledger
from db.tables import CalendarRow, CarrierRow, NodeRow, SkuRow, StockRow
from domain.errors import InvalidNetwork
from domain.network import Calendar, Carrier, NetworkDocument, Node


class LoadSummary(BaseModel):
    nodes: int
    carriers: int
    skus: int
    stock: int
    supply: int


class Network(BaseModel):
    """What sourcing needs of the network, read in one go."""

    nodes: dict[str, Node]
    carriers: list[Carrier]
    calendar: Calendar


def load_network(session: Session, doc: NetworkDocument) -> LoadSummary:
    """Merge a network document into the database, in the caller's transaction.

    Nodes, carriers, SKUs and supply are upserted; stock levels are set, with the
    difference logged as a movement; the calendar is replaced. Nothing is deleted.
    """
    doc.check_references()
    now = datetime.now(UTC)
    known_nodes = set(session.exec(select(NodeRow.id)))
    known_skus = set(session.exec(select(SkuRow.sku)))
    for node in doc.nodes:
        session.merge(NodeRow(id=node.id, type=node.type, spec=node.model_dump(mode="json")))
    for carrier in doc.carriers:
        session.merge(CarrierRow(id=carrier.id, spec=carrier.model_dump(mode="json")))
    for sku in doc.skus:
        session.merge(SkuRow(sku=sku.sku, name=sku.name, weight_kg=sku.weight_kg))
    session.flush()
    node_ids = known_nodes | {n.id for n in doc.nodes}
    sku_ids = known_skus | {s.sku for s in doc.skus}
    load_id = uuid.uuid4().hex[:12]
    existing = set(session.exec(select(StockRow.sku, StockRow.node_id)))
    fresh = []
    for row in doc.stock:
        _check_known(row.sku, row.node_id, sku_ids, node_ids)
        if (row.sku, row.node_id) in existing:
            ledger.set_stock(
                session,
                row.sku,
                row.node_id,
                row.on_hand,
                row.safety_stock,
                f"load:{load_id}:{row.sku}:{row.node_id}",
                now,
            )
        else:
            fresh.append(row)
    # A new network has hundreds of thousands of stock rows: insert them in bulk.
    ledger.add_stock(
        session,
        [(r.sku, r.node_id, r.on_hand, r.safety_stock) for r in fresh],
        f"load:{load_id}",
        now,
    )
    for supply in doc.supply:
        _check_known(supply.sku, supply.node_id, sku_ids, node_ids)
        future_stock.load_line(session, supply, now)
    session.merge(CalendarRow(id=1, spec=doc.calendar.model_dump(mode="json", by_alias=True)))
    session.flush()
    return LoadSummary(
        nodes=len(doc.nodes),
        carriers=len(doc.carriers),
        skus=len(doc.skus),
        stock=len(doc.stock),
        supply=len(doc.supply),
    )


def _check_known(sku: str, node_id: str, skus: set[str], nodes: set[str]) -> None:
    if sku not in skus:
        raise InvalidNetwork(f"unknown sku {sku}")
    if node_id not in nodes:
        raise InvalidNetwork(f"unknown node {node_id}")


def read_network(session: Session) -> Network:
    nodes = {row.id: Node.model_validate(row.spec) for row in session.exec(select(NodeRow))}
    carriers = [Carrier.model_validate(row.spec) for row in session.exec(select(CarrierRow))]
    return Network(nodes=nodes, carriers=carriers, calendar=read_calendar(session))


def read_calendar(session: Session) -> Calendar:
    row = session.get(CalendarRow, 1)
    return Calendar.model_validate(row.spec) if row else Calendar()


def is_empty(session: Session) -> bool:
    return session.exec(select(NodeRow.id).limit(1)).first() is None


def known_skus(session: Session, skus: list[str]) -> set[str]:
    return set(session.exec(select(SkuRow.sku).where(col(SkuRow.sku).in_(skus))))


def node_exists(session: Session, node_id: str) -> bool:
    return session.exec(select(NodeRow.id).where(NodeRow.id == node_id)).first() is not None


def read_node(session: Session, node_id: str) -> Node | None:
    row = session.get(NodeRow, node_id)
    return Node.model_validate(row.spec) if row else None
