"""Carriers: a small port, the simulated carrier adapter, and the booking activities.

A real carrier integration implements `CarrierGateway`; booking is keyed by shipment id,
so a retried booking returns the first one instead of booking twice.
"""

import hashlib
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import Engine

from activities import defn
from db.engine import unit_of_work
from db.tables import CarrierBookingRow


class BookingRequest(BaseModel):
    shipment_id: str
    carrier_id: str
    service_id: str
    node_id: str
    postal_code: str | None = None
    units: int


class Booking(BaseModel):
    shipment_id: str
    carrier_id: str
    service_id: str
    booking_ref: str
    tracking: str
    label_url: str


class CancelBookingInput(BaseModel):
    shipment_id: str
    carrier_id: str


class CancelBookingResult(BaseModel):
    cancelled: bool


class CarrierGateway(Protocol):
    def book(self, request: BookingRequest) -> Booking: ...

    def cancel(self, shipment_id: str) -> bool: ...


class SimulatedCarrier:
    """Answers like a carrier's booking API would, keeping its book in our database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def book(self, request: BookingRequest) -> Booking:
        with unit_of_work(self.engine) as session:
            row = session.get(CarrierBookingRow, request.shipment_id)
            if row is None:
                digest = hashlib.sha256(request.shipment_id.encode()).hexdigest()[:10].upper()
                row = CarrierBookingRow(
                    shipment_id=request.shipment_id,
                    carrier_id=request.carrier_id,
                    service_id=request.service_id,
                    booking_ref=f"{request.carrier_id}-B{digest}",
                    tracking=f"{request.carrier_id[:3]}{digest}",
                    label_url=f"https://labels.invalid/{request.carrier_id}/{digest}.pdf",
                    status="booked",
                    booked_at=datetime.now(UTC),
                )
                session.add(row)
            return Booking.model_validate(row, from_attributes=True)

    def cancel(self, shipment_id: str) -> bool:
        with unit_of_work(self.engine) as session:
            row = session.get(CarrierBookingRow, shipment_id)
            if row is None or row.status == "cancelled":
                return False
            row.status = "cancelled"
            return True


class CarrierActivities:
    def __init__(self, gateway: CarrierGateway):
        self.gateway = gateway

    @defn
    def book_carrier(self, request: BookingRequest) -> Booking:
        return self.gateway.book(request)

    @defn
    def cancel_booking(self, input: CancelBookingInput) -> CancelBookingResult:
        return CancelBookingResult(cancelled=self.gateway.cancel(input.shipment_id))
