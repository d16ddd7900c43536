"""An incident's orders and outcomes in the database: listed once, read a page at a time,
outcomes merged page after page (SQLite; the same statements run on PostgreSQL in
tests/workflows/test_incident_fan_out.py)."""

from datetime import date

from db import incidents
from db.engine import unit_of_work
from domain.incidents import Incident, IncidentOutcome


def closure(incident_id: str = "CLOSE-1") -> Incident:
    return Incident.model_validate(
        {
            "incident_id": incident_id,
            "type": "node_closed",
            "node_id": "DC-LYON",
            "from": "2026-12-01",
            "to": "2026-12-08",
        }
    )


def answer(
    order_id: str, outcome: str = "rerouted", detail: str = "to DC-PARIS"
) -> IncidentOutcome:
    return IncidentOutcome.model_validate(
        {"order_id": order_id, "outcome": outcome, "detail": detail}
    )


def test_the_orders_are_listed_once_and_read_a_page_at_a_time(engine):
    orders: dict[str, tuple[list[str], dict]] = {
        f"A-{n:02}": ([f"A-{n:02}-S1"], {}) for n in range(7)
    }
    with unit_of_work(engine) as session:
        incidents.record(session, closure())
        incidents.listing(session, "CLOSE-1")
        assert incidents.list_touched(session, "CLOSE-1", orders) is True
    with unit_of_work(engine) as session:  # a retried first page lists nothing again
        assert incidents.list_touched(session, "CLOSE-1", {"Z-1": (["Z-1-S1"], {})}) is False

    pages, after = [], None
    with unit_of_work(engine) as session:
        while page := incidents.touched_page(session, "CLOSE-1", after, 3):
            pages.append([row.order_id for row in page])
            after = page[-1].order_id
        first = incidents.touched_page(session, "CLOSE-1", None, 3)[0]
        assert first.shipment_ids == ["A-00-S1"]
    assert pages == [["A-00", "A-01", "A-02"], ["A-03", "A-04", "A-05"], ["A-06"]]


def status(engine, incident_id: str = "CLOSE-1") -> str:
    with unit_of_work(engine) as session:
        row = incidents.get(session, incident_id)
        assert row is not None
        return row.status


def test_outcomes_merge_page_after_page_and_saving_again_changes_nothing(engine):
    with unit_of_work(engine) as session:
        incidents.record(session, closure())
        incidents.list_touched(session, "CLOSE-1", {o: ([f"{o}-S1"], {}) for o in "ABC"})

    with unit_of_work(engine) as session:
        assert incidents.save_outcomes(session, "CLOSE-1", [answer("A")], final=False) == 1
    with unit_of_work(engine) as session:  # the same page saved twice (an activity retried)
        assert incidents.save_outcomes(session, "CLOSE-1", [answer("A")], final=False) == 1
    assert status(engine) == "open"  # not handled before its last outcomes
    with unit_of_work(engine) as session:  # a later answer never overwrites the first
        saved = [answer("A", "exception", "no stock"), answer("B", "repromised", "by 12-24")]
        assert incidents.save_outcomes(session, "CLOSE-1", saved, final=False) == 2
    with unit_of_work(engine) as session:
        assert incidents.save_outcomes(session, "CLOSE-1", [answer("C")], final=True) == 3
    assert status(engine) == "handled"

    with unit_of_work(engine) as session:
        touched, outcomes = incidents.touched_orders(session, "CLOSE-1") or ([], [])
    assert touched == ["A", "B", "C"]
    assert [(o.order_id, o.outcome, o.detail) for o in outcomes] == [
        ("A", "rerouted", "to DC-PARIS"),
        ("B", "repromised", "by 12-24"),
        ("C", "rerouted", "to DC-PARIS"),
    ]


def test_an_incident_handled_the_older_way_keeps_its_outcomes_on_its_row(engine):
    with unit_of_work(engine) as session:
        incidents.record(session, closure("OLD-1"))
        incidents.save_outcomes(session, "OLD-1", [answer("A"), answer("B")])
        incidents.save_outcomes(session, "OLD-1", [answer("A"), answer("B")])  # a retry
    with unit_of_work(engine) as session:
        row = incidents.get(session, "OLD-1")
        assert row is not None and row.status == "handled"
        assert [o["order_id"] for o in row.outcomes] == ["A", "B"]
        assert incidents.touched_orders(session, "OLD-1") is None  # its workflow holds them


def test_a_lifted_incident_stays_lifted_when_its_last_outcomes_are_saved(engine):
    with unit_of_work(engine) as session:
        incidents.record(session, closure())
        incidents.list_touched(session, "CLOSE-1", {"A": (["A-S1"], {})})
        incidents.lift(session, "CLOSE-1")
    with unit_of_work(engine) as session:
        incidents.save_outcomes(session, "CLOSE-1", [answer("A")], final=True)
    assert status(engine) == "lifted"
    with unit_of_work(engine) as session:
        assert incidents.in_force(session, ["node_closed"], date(2026, 12, 2)) == []
