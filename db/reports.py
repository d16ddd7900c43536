"""Reads for reports and metrics, from the orders read model."""

from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.tables import OrderRow
from domain.order import OrderView


def orders_promised_between(session: Session, start: date, end: date) -> list[OrderView]:
    query = select(OrderRow.view).where(
        col(OrderRow.promised_by) >= start, col(OrderRow.promised_by) <= end
    )
    return [OrderView.model_validate(view) for view in session.exec(query)]


def total_reroutes(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.sum(OrderRow.reroutes), 0))).one())


def orders_by_status(session: Session) -> dict[str, int]:
    query = select(OrderRow.status, func.count()).group_by(OrderRow.status)
    return {status: count for status, count in session.exec(query)}
