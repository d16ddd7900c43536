"""The simulated carriers: when a parcel handed over on a day is delivered."""

from datetime import date, timedelta

from domain.incidents import Incident
from domain.network import CarrierService
from simulator.field import arrival_day

FRIDAY = date(2026, 12, 4)
SATURDAY = FRIDAY + timedelta(days=1)
MONDAY = FRIDAY + timedelta(days=3)
EXPRESS = CarrierService(
    id="EXP",
    kind="express",
    cost=9.9,
    bands=[{"max_km": 1200, "days": 1}],
    pickup_days=["mon", "tue", "wed", "thu", "fri"],
)


def outage(day: date) -> Incident:
    return Incident(
        incident_id="I-1",
        type="carrier_outage",
        carrier_id="POSTE",
        service_id="EXP",
        **{"from": day, "to": day},
    )


def arrives(handed_over: date, late: int = 0, outages: list[Incident] | None = None) -> date:
    return arrival_day(handed_over, "POSTE", EXPRESS, 400, frozenset(), late, outages or [])


def test_a_parcel_handed_over_on_saturday_waits_for_monday_pickup():
    assert arrives(SATURDAY) == MONDAY + timedelta(days=1)


def test_an_outage_holds_up_the_parcels_the_carrier_has():
    assert arrives(FRIDAY) == SATURDAY
    assert arrives(FRIDAY, outages=[outage(SATURDAY)]) == MONDAY  # stood still, no Sunday round
    assert arrives(FRIDAY, outages=[outage(FRIDAY)]) == MONDAY  # not collected Friday


def test_an_outage_before_the_carrier_collects_does_not_hold_the_parcel_up():
    assert arrives(SATURDAY, outages=[outage(SATURDAY)]) == MONDAY + timedelta(days=1)


def test_a_late_parcel_comes_on_a_delivery_day():
    assert arrives(FRIDAY, late=1) == MONDAY  # Saturday + 1 delivery day: Sunday is skipped
    assert arrives(FRIDAY, late=2) == MONDAY + timedelta(days=1)
