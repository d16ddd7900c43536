"""What an incident touches: the shipments it takes a node's slot or a carrier from, and
for a stock count below the ledger, the holds it cuts."""

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio.exceptions import ApplicationError

from activities import defn
from db import capacity, incidents, ledger
from db.engine import unit_of_work
from db.network import read_network
from db.tables import CapacityBookingRow, CarrierBookingRow, ShipmentRow
from domain.incidents import Incident, IncidentOutcome


class Touched(BaseModel):
    """Per order: the shipments to move, and units lost per shipment and line."""

    shipments: dict[str, list[str]] = {}
    lost: dict[str, dict[str, dict[str, int]]] = {}  # order -> shipment -> line -> units


class SaveOutcomesInput(BaseModel):
    incident_id: str
    outcomes: list[IncidentOutcome]
    final: bool = True  # the incident is handled; False for a page's outcomes


class FindTouchedPageInput(BaseModel):
    incident: Incident
    after: str | None = None  # the last order of the page before; None: from the start
    limit: int = 500


class TouchedOrder(BaseModel):
    order_id: str
    shipment_ids: list[str] = []  # shipments to move
    lost: dict[str, dict[str, int]] = {}  # shipment -> line -> units a count took


class TouchedPage(BaseModel):
    """At most `limit` orders, by order id; `total` counts every order the incident touches."""

    orders: list[TouchedOrder]
    total: int


class IncidentActivities:
    def __init__(self, engine):
        self.engine: Engine = engine

    @defn
    def find_touched(self, incident: Incident) -> Touched:
        """The shipments the incident breaks, all in one result: incidents started before
        the `incident-pages` patch only (idempotent: it only reads, except for a stock
        count, whose ledger correction applies once under the incident's id)."""
        with unit_of_work(self.engine) as session:
            return _touched(session, incident)

    @defn
    def find_touched_page(self, input: FindTouchedPageInput) -> TouchedPage:
        """The next page of orders the incident touches, after `input.after`. The first
        call lists them all in the database, in the same transaction as a count's ledger
        correction; later calls (and retries) read that list, so the pages neither skip
        nor repeat an order while the orders told before move away."""
        incident = input.incident
        with unit_of_work(self.engine) as session:
            row = incidents.listing(session, incident.incident_id)
            if row is None:
                raise ApplicationError(
                    f"incident {incident.incident_id} was never recorded",
                    type="UnknownIncident",
                    non_retryable=True,
                )
            if row.touched is None:
                touched = _touched(session, incident)
                orders = sorted({*touched.shipments, *touched.lost})
                incidents.list_touched(
                    session,
                    incident.incident_id,
                    {
                        order_id: (
                            touched.shipments.get(order_id, []),
                            touched.lost.get(order_id, {}),
                        )
                        for order_id in orders
                    },
                )
            page = incidents.touched_page(session, incident.incident_id, input.after, input.limit)
            return TouchedPage(
                orders=[
                    TouchedOrder(order_id=o.order_id, shipment_ids=o.shipment_ids, lost=o.lost)
                    for o in page
                ],
                total=row.touched or 0,
            )

    @defn
    def save_outcomes(self, input: SaveOutcomesInput) -> int:
        """Merge the outcomes heard into the incident's; how many orders answered in all."""
        with unit_of_work(self.engine) as session:
            return incidents.save_outcomes(
                session, input.incident_id, input.outcomes, final=input.final
            )


def _touched(session, incident: Incident) -> Touched:
    """The shipments the incident breaks, per order."""
    touched = Touched()
    if incident.type in ("node_closed", "node_capacity"):
        assert incident.node_id and incident.from_ and incident.to
        rows = capacity.booked_at(session, incident.node_id, (incident.from_, incident.to))
        keep = 0 if incident.type == "node_closed" else incident.capacity_per_day or 0
        per_day: dict = {}
        for row in rows:  # the first bookings of each day keep their slot
            per_day[row.day] = per_day.get(row.day, 0) + 1
            if per_day[row.day] > keep:
                _add(touched, session, row.shipment_id)
    elif incident.type == "carrier_outage":
        assert incident.from_ and incident.to
        network = read_network(session)
        services = {
            s.id: s for c in network.carriers if c.id == incident.carrier_id for s in c.services
        }
        # A parcel picked some days before the outage may wait for a pickup day in it.
        query = select(CarrierBookingRow, CapacityBookingRow).where(
            CarrierBookingRow.shipment_id == CapacityBookingRow.shipment_id,
            CarrierBookingRow.carrier_id == incident.carrier_id,
            CarrierBookingRow.status == "booked",
            CapacityBookingRow.day >= incident.from_ - timedelta(days=7),
            CapacityBookingRow.day <= incident.to,
        )
        holidays = network.calendar.holidays
        for booking, slot in session.exec(query):
            service = services.get(booking.service_id)
            if service and incident.stops_collection(service, slot.day, holidays):
                _add(touched, session, booking.shipment_id)
    else:
        assert incident.node_id and incident.sku and incident.counted is not None
        cut = ledger.count_below_holds(
            session,
            incident.node_id,
            incident.sku,
            incident.counted,
            f"incident:{incident.incident_id}",
            datetime.now(UTC),
        )
        for hold in cut:
            shipment = _shipment_of(session, hold.order_id, hold.node_id)
            if shipment is None:
                continue
            lines = touched.lost.setdefault(hold.order_id, {}).setdefault(shipment, {})
            lines[hold.line_id] = lines.get(hold.line_id, 0) + hold.qty
    return touched


def _add(touched: Touched, session, shipment_id: str) -> None:
    row = session.get(ShipmentRow, shipment_id)
    if row is not None:
        touched.shipments.setdefault(row.order_id, []).append(shipment_id)


def _shipment_of(session, order_id: str, node_id: str) -> str | None:
    query = select(ShipmentRow).where(
        ShipmentRow.order_id == order_id, ShipmentRow.node_id == node_id
    )
    rows = list(session.exec(query.order_by(col(ShipmentRow.shipment_id).desc())))
    return rows[0].shipment_id if rows else None
