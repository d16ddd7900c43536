"""The simulated carrier books once per shipment, however often it is asked."""

from activities.carriers import BookingRequest, SimulatedCarrier
from db.engine import unit_of_work
from db.tables import CarrierBookingRow


def request(shipment_id: str = "A-1-S1") -> BookingRequest:
    return BookingRequest(
        shipment_id=shipment_id,
        carrier_id="DPD",
        service_id="DPD-STD",
        node_id="DC-LYON",
        postal_code="69001",
        units=2,
    )


def test_booking_is_idempotent_per_shipment(engine):
    carrier = SimulatedCarrier(engine)
    first, again = carrier.book(request()), carrier.book(request())
    other = carrier.book(request("A-1-S2"))
    assert first == again
    assert other.tracking != first.tracking
    assert first.booking_ref.startswith("DPD-") and first.label_url.endswith(".pdf")
    with unit_of_work(engine) as session:
        row = session.get(CarrierBookingRow, "A-1-S1")
        assert row is not None and row.status == "booked"


def test_cancelling_a_booking_once(engine):
    carrier = SimulatedCarrier(engine)
    carrier.book(request())
    assert carrier.cancel("A-1-S1") is True
    assert carrier.cancel("A-1-S1") is False
    assert carrier.cancel("NEVER-BOOKED") is False
    with unit_of_work(engine) as session:
        row = session.get(CarrierBookingRow, "A-1-S1")
        assert row is not None and row.status == "cancelled"
