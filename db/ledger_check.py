"""The ledger's invariant, checked on a live system and at the end of every rehearsal:
every unit that left a node left with stock the ledger had committed to its order, and
every stock row agrees with its movements. It must report nothing."""

from collections import Counter

from sqlmodel import Session, select

from db import future_stock, ledger
from db.tables import OrderRow, ReservationRow
from domain.order import LEFT_NODE, OrderView


def unbacked_shipments(session: Session, views: list[OrderView]) -> dict[tuple[str, str, str], int]:
    """(order, node, sku) -> units that left the node beyond what the ledger committed."""
    committed: Counter[tuple[str, str, str]] = Counter()
    for row in session.exec(select(ReservationRow).where(ReservationRow.status == "committed")):
        committed[(row.order_id, row.node_id, row.sku)] += row.qty
    sent: Counter[tuple[str, str, str]] = Counter()
    for view in views:
        for shipment in view.shipments:
            if shipment.status in LEFT_NODE:
                for line in shipment.lines:
                    sent[(view.order_id, shipment.node_id, line.sku)] += line.qty
    return {key: qty - committed[key] for key, qty in sent.items() if qty > committed[key]}


def ledger_problems(session: Session, views: list[OrderView] | None = None) -> list[str]:
    """Every way the ledger disagrees with itself or with what left the nodes."""
    if views is None:
        views = [OrderView.model_validate(row.view) for row in session.exec(select(OrderRow))]
    problems = ledger.balance_problems(session) + future_stock.balance_problems(session)
    problems += [
        f"{order_id} sent {units} x {sku} from {node} without stock"
        for (order_id, node, sku), units in unbacked_shipments(session, views).items()
    ]
    return problems
