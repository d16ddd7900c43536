"""Reading the supply chain (network, ATP, supply, capacity) out of the database."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from db import capacity, future_stock, incidents
from db.network import read_network
from db.policies import active_policy
from db.tables import StockRow
from domain.future_stock import SupplyLine
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
    stock = _STOCK
    if skus is not None:
        stock = stock.where(col(StockRow.sku).in_(sorted(set(skus))))
    _apply_stock(chain, session.connection().execute(stock))
    chain.supply = read_supply(session, skus)
    chain.receipt_times = read_receipt_times(session, chain)
    chain.capacity_used = capacity.effective_usage(session, chain.by_id, _earliest_today(chain))
    chain.outages = incidents.in_force(session, ("carrier_outage",), _earliest_today(chain))
    return chain


def network_only(session: Session) -> SupplyChain:
    """The network alone (nodes, carriers, calendar), without stock, supply or capacity."""
    network = read_network(session)
    return SupplyChain(
        nodes=sorted(network.nodes.values(), key=lambda n: n.id),
        carriers={c.id: c for c in network.carriers},
        calendar=network.calendar,
    )


def read_supply(session: Session, skus: list[str] | None = None) -> dict[str, list[SupplyLine]]:
    """Open supply lines, with what pre-orders may still take under the active policy."""
    return future_stock.open_lines(session, active_policy(session).return_resale_rate, skus)


def read_receipt_times(session: Session, chain: SupplyChain) -> dict[str, time]:
    """When each node usually receives supply (a pre-order's work starts then)."""
    return future_stock.receipt_times(session, {n.id: n.timezone for n in chain.nodes})


def network_fingerprint(session: Session) -> str:
    """Changes when nodes, carriers or the calendar change (they shape every ATP and date)."""
    network = read_network(session)
    return network.model_dump_json()


def refresh(chain: SupplyChain, session: Session, since: datetime) -> None:
    """Bring a loaded supply chain up to date with what changed since `since`."""
    fresh = _STOCK.where(col(StockRow.updated_at) >= since - REFRESH_OVERLAP)
    _apply_stock(chain, session.connection().execute(fresh))
    _apply_supply(chain, session, since - REFRESH_OVERLAP)
    chain.capacity_used = capacity.effective_usage(session, chain.by_id, _earliest_today(chain))
    chain.outages = incidents.in_force(session, ("carrier_outage",), _earliest_today(chain))


# Plain columns, not ORM objects: a big network has a million stock rows to read.
_STOCK = select_columns(
    col(StockRow.sku),
    col(StockRow.node_id),
    col(StockRow.on_hand),
    col(StockRow.reserved),
    col(StockRow.safety_stock),
)


def _apply_stock(chain: SupplyChain, rows) -> None:
    by_id = chain.by_id
    for sku, node_id, on_hand, reserved, safety_stock in rows:
        node = by_id.get(node_id)
        if node is not None:
            chain.set_atp(sku, node_id, online_atp(node, on_hand, reserved, safety_stock))


def _apply_supply(chain: SupplyChain, session: Session, since: datetime) -> None:
    """Supply lines changed since `since` (a pre-order took units, a PO moved): the next
    cart sees what is left of them."""
    changed = future_stock.changed_lines(session, active_policy(session).return_resale_rate, since)
    for supply_id, sku, line in changed:
        kept = [s for s in chain.supply.get(sku, []) if s.supply_id != supply_id]
        if line is not None:
            kept = sorted([*kept, line], key=lambda s: (s.eta, s.supply_id))
        if kept:
            chain.supply[sku] = kept
        else:
            chain.supply.pop(sku, None)


def _earliest_today(chain: SupplyChain) -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()  # every zone's today is after this
