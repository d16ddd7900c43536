"""Reads for reports and metrics, from the orders read model."""

from datetime import date

from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from db.holdings import RECONCILED
from db.tables import OrderRow, ProposalRow, TransferRow
from domain.order import OrderView


def orders_promised_between(session: Session, start: date, end: date) -> list[OrderView]:
    query = select(OrderRow.view).where(
        col(OrderRow.promised_by) >= start, col(OrderRow.promised_by) <= end
    )
    return [OrderView.model_validate(view) for view in session.exec(query)]


def total_reroutes(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.sum(OrderRow.reroutes), 0))).one())


def reconciled_orders(session: Session) -> int:
    """Orders the reconciliation closed (their workflow had ended without closing them)."""
    query = select(func.count()).where(
        OrderRow.status == "failed",
        cast(OrderRow.view, String).like(f"%{RECONCILED} (%"),
    )
    return int(session.exec(query).one())


def orders_by_status(session: Session) -> dict[str, int]:
    query = select(OrderRow.status, func.count()).group_by(OrderRow.status)
    return {status: count for status, count in session.exec(query)}


def transfers_by_status(session: Session) -> dict[str, int]:
    query = select(TransferRow.status, func.count()).group_by(TransferRow.status)
    return {status: count for status, count in session.exec(query)}


def proposals_waiting(session: Session) -> int:
    query = select(func.count()).select_from(ProposalRow).where(ProposalRow.status == "proposed")
    return session.exec(query).one()
