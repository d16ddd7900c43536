"""The orders read model: listings and history for the API, kept by the workflow."""

from sqlmodel import Session, select

from db.tables import OrderRow, ShipmentRow
from domain.order import OrderView, TimelineEntry


def order_values(view: OrderView, timeline: list[TimelineEntry], revision: int) -> dict:
    """The read model's row for a view, made before the transaction (it is the slow part)."""
    return dict(
        customer_id=view.customer.id,
        status=view.status.value,
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
    """Store the workflow's latest view of an order; an older revision never wins."""
    row = session.get(OrderRow, view.order_id, with_for_update=True)
    if row is not None and row.revision >= revision:
        return False
    if row is None:
        session.add(OrderRow(order_id=view.order_id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    for shipment in view.shipments:
        session.merge(
            ShipmentRow(
                shipment_id=shipment.shipment_id,
                order_id=view.order_id,
                node_id=shipment.node_id,
                carrier_id=shipment.carrier_id,
            )
        )
    session.flush()
    return True


def get_order(session: Session, order_id: str) -> OrderRow | None:
    return session.get(OrderRow, order_id)


def list_orders(
    session: Session,
    status: str | None = None,
    customer_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OrderView]:
    query = select(OrderRow)
    if status:
        query = query.where(OrderRow.status == status)
    if customer_id:
        query = query.where(OrderRow.customer_id == customer_id)
    query = query.order_by(OrderRow.placed_at.desc(), OrderRow.order_id).offset(offset).limit(limit)
    return [OrderView.model_validate(row.view) for row in session.exec(query)]


def order_of_shipment(session: Session, shipment_id: str) -> ShipmentRow | None:
    return session.get(ShipmentRow, shipment_id)
