"""Reading the supply chain (network, ATP, supply, capacity) out of the database."""

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from db import capacity
from db.network import read_network
from db.tables import StockRow, SupplyRow
from domain.network import Supply
from domain.supply_chain import SupplyChain, online_atp

# Rows committed by a transaction that started earlier carry an earlier timestamp:
# re-read a little of the past at each refresh so none is missed.
REFRESH_OVERLAP = timedelta(seconds=5)


def load_supply_chain(session: Session, skus: list[str] | None = None) -> SupplyChain:
    """The whole supply chain, or only what matters for some SKUs (an order's)."""
    network = read_network(session)
    chain = SupplyChain(
        nodes=sorted(network.nodes.values(), key=lambda n: n.id),
        carriers={c.id: c for c in network.carriers},
        calendar=network.calendar,
    )
    stock = select(StockRow)
    supply = select(SupplyRow).order_by(SupplyRow.eta, SupplyRow.id)
    if skus is not None:
        stock = stock.where(StockRow.sku.in_(sorted(set(skus))))
        supply = supply.where(SupplyRow.sku.in_(sorted(set(skus))))
    _apply_stock(chain, session.exec(stock))
    for row in session.exec(supply):
        chain.supply.setdefault(row.sku, []).append(Supply.model_validate(row.model_dump()))
    chain.capacity_used = capacity.usage(session, _earliest_today(chain))
    return chain


def refresh(chain: SupplyChain, session: Session, since: datetime) -> None:
    """Bring a loaded supply chain up to date with what changed since `since`."""
    changed = session.exec(select(StockRow).where(StockRow.updated_at >= since - REFRESH_OVERLAP))
    _apply_stock(chain, changed)
    chain.capacity_used = capacity.usage(session, _earliest_today(chain))


def _apply_stock(chain: SupplyChain, rows) -> None:
    for row in rows:
        node = chain.by_id.get(row.node_id)
        if node is not None:
            atp = online_atp(node, row.on_hand, row.reserved, row.safety_stock)
            chain.set_atp(row.sku, row.node_id, atp)


def _earliest_today(chain: SupplyChain) -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()  # every zone's today is after this
