"""The orders read model: listings and history for the API, kept by the workflow."""

from datetime import datetime

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from db.engine import upsert
from db.tables import OrderRow, ShipmentRow
from domain.order import OrderView, TimelineEntry


def order_values(view: OrderView, timeline: list[TimelineEntry], revision: int) -> dict:
    """The read model's row for a view, made before the transaction (it is the slow part)."""
    return dict(
        customer_id=view.customer.id,
        status=view.status.value,
        channel=view.channel,
        promised_by=view.promised_by,
        placed_at=view.placed_at,
        updated_at=view.updated_at,
        revision=revision,
        on_time=view.otif.on_time if view.otif else None,
        in_full=view.otif.in_full if view.otif else None,
        reroutes=view.reroutes,
        view=view.model_dump(mode="json"),
        timeline=[entry.model_dump(mode="json") for entry in timeline],
    )


def record_order(session: Session, view: OrderView, values: dict, revision: int) -> bool:
    """Store the workflow's latest view of an order; an older revision never wins. One
    statement per table, no read first: the peak makes a dozen of these per order."""
    columns = {"order_id": view.order_id, **values}
    statement = upsert(session, OrderRow).values(**columns)
    statement = statement.on_conflict_do_update(
        index_elements=[OrderRow.order_id],
        set_={name: statement.excluded[name] for name in values},
        where=OrderRow.revision < statement.excluded.revision,
    ).returning(OrderRow.order_id)
    if session.exec(statement).first() is None:
        return False
    if view.shipments:
        # A shipment's order, node and carrier never change: new ones are added.
        rows = [
            dict(
                shipment_id=s.shipment_id,
                order_id=view.order_id,
                node_id=s.node_id,
                carrier_id=s.carrier_id,
            )
            for s in view.shipments
        ]
        session.exec(upsert(session, ShipmentRow).values(rows).on_conflict_do_nothing())
    return True


def get_order(session: Session, order_id: str) -> OrderRow | None:
    return session.get(OrderRow, order_id)


def order_view(session: Session, order_id: str) -> OrderView | None:
    """The order's view alone (not its timeline, which grows with every event)."""
    found = session.exec(select(OrderRow.view).where(OrderRow.order_id == order_id)).first()
    return OrderView.model_validate(found) if found is not None else None


def order_status(session: Session, order_id: str) -> str | None:
    return session.exec(select(OrderRow.status).where(OrderRow.order_id == order_id)).first()


def list_orders(
    session: Session,
    status: str | None = None,
    customer_id: str | None = None,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
    channel: str | None = None,
) -> list[OrderRow]:
    """Newest first, from just after the row `after` (placed at, order id) when given;
    of one channel only when given."""
    query = select(OrderRow)
    if channel:
        query = query.where(OrderRow.channel == channel)
    if status:
        query = query.where(OrderRow.status == status)
    if customer_id:
        query = query.where(OrderRow.customer_id == customer_id)
    if after is not None:
        query = query.where(tuple_(col(OrderRow.placed_at), col(OrderRow.order_id)) < after)
    query = query.order_by(col(OrderRow.placed_at).desc(), col(OrderRow.order_id).desc())
    return list(session.exec(query.limit(limit)))


def exceptions(
    session: Session,
    limit: int = 100,
    after: tuple[datetime, str] | None = None,
    channel: str | None = None,
) -> list[OrderRow]:
    """Orders waiting for a person, the longest waiting first (of one channel if given)."""
    query = select(OrderRow).where(OrderRow.status == "exception")
    if channel:
        query = query.where(OrderRow.channel == channel)
    if after is not None:
        query = query.where(tuple_(col(OrderRow.updated_at), col(OrderRow.order_id)) > after)
    query = query.order_by(col(OrderRow.updated_at), col(OrderRow.order_id))
    return list(session.exec(query.limit(limit)))


def order_of_shipment(session: Session, shipment_id: str) -> ShipmentRow | None:
    return session.get(ShipmentRow, shipment_id)
