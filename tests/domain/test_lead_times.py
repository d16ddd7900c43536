"""Lead times learned from the field, and the promise made on them (domain/lead_times.py)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.incidents import Incident
from domain.lead_times import (
    COLLECT,
    MIN_LANE_SAMPLES,
    MIN_NODE_SAMPLES,
    SHIP,
    FieldPerformance,
    Outcome,
    learn,
    node_performance,
)
from domain.network import Calendar, Carrier, CarrierService, Node
from domain.policy import DEFAULT_POLICY, PRESETS, SourcingPolicy
from domain.routing import FieldOutlook, carrier_routes, work_starts
from domain.supply_chain import SupplyChain
from tests.domain.builders import node
from tests.domain.test_promise import CARRIERS, ask, option, stock

PARIS = ZoneInfo("Europe/Paris")
WEDNESDAY = date(2026, 11, 25)
THURSDAY = date(2026, 11, 26)
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)
DC_LYON_AT = (45.73, 4.95)  # 10 km from the customer of test_promise
LATER = datetime(2026, 12, 31, tzinfo=UTC)  # the record is read well after it was made


def at(day: date, hour: float) -> datetime:
    """`hour` o'clock (node-local, Paris) on `day`, as an aware instant."""
    return datetime.combine(day, time(0), PARIS) + timedelta(hours=hour)


def dc(**extra) -> Node:
    return node("DC-LYON", DC_LYON_AT, carriers=["POSTE"], **extra)


def handed_over(node_id: str, started: datetime, hours: float, kind: str = SHIP, **extra):
    return Outcome(node_id, kind, started, started + timedelta(hours=hours), **extra)


def taught(outcomes: list[Outcome], *nodes: Node) -> FieldPerformance:
    services = {s.id: s for c in CARRIERS.values() for s in c.services}
    return learn(outcomes, {n.id: n for n in nodes}, services, frozenset(), LATER)


def every_hour(node_id: str, hours: float, days: int = 20, kind: str = SHIP) -> list[Outcome]:
    """A shipment released at every hour of a few days, each handed over `hours` later."""
    return [
        handed_over(node_id, at(WEDNESDAY - timedelta(days=d), h), hours, kind)
        for d in range(1, days + 1)
        for h in range(24)
    ]


# --- The estimator ---------------------------------------------------------------------


def test_the_lead_time_is_a_high_quantile_of_what_the_node_really_took():
    # 100 shipments started at 10:00: 90 took 2 hours, 10 took 7 hours.
    outcomes = [handed_over("DC-LYON", at(WEDNESDAY, 10), 2.0) for _ in range(90)]
    outcomes += [handed_over("DC-LYON", at(WEDNESDAY, 10), 7.0) for _ in range(10)]
    lead = taught(outcomes, dc()).lead_times(dc(), SHIP)
    assert lead.learned
    assert lead.quantile(10, 0.5) == 2.0
    assert lead.quantile(10, 0.9) == 2.0
    assert lead.quantile(10, 0.95) == 7.0


def test_lead_times_are_kept_per_hour_the_work_started():
    # Work released at night waits for the morning shift: 9 hours; by day it takes 1.
    night = [handed_over("DC-LYON", at(WEDNESDAY, 1), 9.0) for _ in range(30)]
    day = [handed_over("DC-LYON", at(WEDNESDAY, 11), 1.0) for _ in range(30)]
    lead = taught(night + day, dc()).lead_times(dc(), SHIP)
    assert lead.quantile(1, 0.9) == 9.0
    assert lead.quantile(11, 0.9) == 1.0


def test_an_hour_with_few_shipments_borrows_from_the_neighbouring_hours():
    outcomes = [handed_over("DC-LYON", at(WEDNESDAY, 11), 1.0) for _ in range(MIN_NODE_SAMPLES)]
    lead = taught(outcomes, dc()).lead_times(dc(), SHIP)
    assert lead.quantile(12, 0.9) == 1.0  # nothing started at noon: 11:00's record serves


def test_the_window_keeps_the_most_recent_shipments():
    # Newest first: the node got faster; its old slowness falls out of the window.
    recent = [handed_over("DC-LYON", at(WEDNESDAY, 10), 1.0) for _ in range(100)]
    old = [handed_over("DC-LYON", at(WEDNESDAY - timedelta(days=7), 10), 8.0)] * 100
    assert taught(recent + old, dc()).lead_times(dc(), SHIP).quantile(10, 0.99) == 1.0


def test_parcels_still_at_the_node_count_as_taking_at_least_their_time_so_far():
    # At 16:00, 30 of the morning's 100 parcels left in 2 hours; 70 are still there after
    # 8 hours. Learning from the 30 alone would say "2 hours"; the node is far slower.
    now = at(WEDNESDAY, 16)
    out = [handed_over("DC-LYON", at(WEDNESDAY, 8), 2.0) for _ in range(30)]
    still = [Outcome("DC-LYON", SHIP, at(WEDNESDAY, 8), None) for _ in range(70)]
    services: dict = {}
    learned = learn(out + still, {"DC-LYON": dc()}, services, frozenset(), now)
    lead = learned.lead_times(dc(), SHIP)
    assert lead.quantile(8, 0.25) == 2.0
    assert lead.quantile(8, 0.5) > 8.0  # more than half have taken longer than 8 hours
    assert learned.handover(dc(), SHIP, at(THURSDAY, 8)).at(0.5) == FRIDAY


def test_a_parcel_handed_over_later_than_the_open_ones_so_far_lets_them_share_its_time():
    # Kaplan-Meier: 10 open at 3 hours, then 10 handed over at 5 hours. The open ones are
    # shared among what comes after them: half the mass at 5 hours would be wrong.
    now = at(WEDNESDAY, 11)
    out = [handed_over("DC-LYON", at(WEDNESDAY - timedelta(days=1), 8), 5.0) for _ in range(10)]
    out += [handed_over("DC-LYON", at(WEDNESDAY - timedelta(days=1), 8), 1.0) for _ in range(10)]
    still = [Outcome("DC-LYON", SHIP, at(WEDNESDAY, 8), None) for _ in range(10)]
    lead = learn(out + still, {"DC-LYON": dc()}, {}, frozenset(), now).lead_times(dc(), SHIP)
    # 1 h: 10 of 30 leave (1/3); 3 h: 10 censored; 5 h: the remaining 10 of 10 at risk leave.
    assert lead.quantile(8, 0.3) == 1.0 and lead.quantile(8, 0.4) == 5.0
    assert lead.quantile(8, 1.0) == 5.0


def test_cold_start_plans_with_the_configured_preparation_time():
    few = [handed_over("DC-LYON", at(WEDNESDAY, 10), 9.0) for _ in range(MIN_NODE_SAMPLES - 1)]
    lead = taught(few, dc(preparation_hours=3)).lead_times(dc(preparation_hours=3), SHIP)
    assert not lead.learned
    assert lead.quantile(10, 0.99) == 3.0
    nothing = FieldPerformance().lead_times(dc(preparation_hours=3), SHIP)
    assert nothing.hours(10) == (3.0,)


# --- When a parcel leaves the node -----------------------------------------------------


def test_a_node_taking_6_hours_ships_tomorrow_what_it_gets_at_10_with_a_15_00_cut_off():
    learned = taught(every_hour("DC-LYON", 6.0), dc())
    handover = learned.handover(dc(), SHIP, at(WEDNESDAY, 10))
    assert handover.days == ((THURSDAY, 1.0),)


def test_a_node_taking_6_hours_ships_today_what_it_gets_at_8():
    learned = taught(every_hour("DC-LYON", 6.0), dc())
    assert learned.handover(dc(), SHIP, at(WEDNESDAY, 8)).days == ((WEDNESDAY, 1.0),)


def test_cold_start_a_node_with_a_2_hour_preparation_ships_tomorrow_after_13_00():
    cold = FieldPerformance()
    assert cold.handover(dc(preparation_hours=2), SHIP, at(WEDNESDAY, 12.5)).first == WEDNESDAY
    assert cold.handover(dc(preparation_hours=2), SHIP, at(WEDNESDAY, 13.5)).first == THURSDAY


def test_a_node_that_sometimes_misses_its_cut_off_has_two_likely_handover_days():
    # Started at 8:00 with a 15:00 cut-off: 80 % leave in 3 hours, 20 % take 9.
    outcomes = [handed_over("DC-LYON", at(WEDNESDAY, 8), 3.0) for _ in range(80)]
    outcomes += [handed_over("DC-LYON", at(WEDNESDAY, 8), 9.0) for _ in range(20)]
    handover = taught(outcomes, dc()).handover(dc(), SHIP, at(THURSDAY, 8))
    assert handover.days == ((THURSDAY, 0.8), (FRIDAY, 0.2))
    assert handover.at(0.75) == THURSDAY
    assert handover.at(0.95) == FRIDAY


def test_collection_at_the_counter_counts_until_the_end_of_the_day_not_the_cut_off():
    store = node("STORE-LYON", DC_LYON_AT, type="store", click_and_collect=True, cutoff=time(17))
    record = every_hour("STORE-LYON", 4.0, kind=COLLECT) + every_hour("STORE-LYON", 4.0)
    learned = taught(record, store)
    # Released at 16:00, ready at 20:00: collected today, but shipped only tomorrow.
    assert learned.handover(store, COLLECT, at(WEDNESDAY, 16)).first == WEDNESDAY
    assert learned.handover(store, SHIP, at(WEDNESDAY, 16)).first == THURSDAY


def test_work_on_a_later_picking_day_starts_at_that_days_midnight():
    assert work_starts(dc(), at(WEDNESDAY, 10), THURSDAY) == at(THURSDAY, 0)
    assert work_starts(dc(), at(WEDNESDAY, 10), WEDNESDAY) == at(WEDNESDAY, 10)


# --- Carrier lanes ---------------------------------------------------------------------


POSTE_STD = CARRIERS["POSTE"].services[0]  # 1 day up to 300 km, 2 up to 1200


def delivered(service: CarrierService, km: float, late_days: int, shipped: date) -> Outcome:
    """Handed over at 11:00 on `shipped`, delivered `late_days` after its published day."""
    published = {1: 1, 2: 2}[service.transit_days(km) or 0]
    day = shipped + timedelta(days=published + late_days)
    return Outcome(
        "DC-LYON", SHIP, at(shipped, 9), at(shipped, 11), "POSTE", service.id, km, at(day, 14)
    )


def test_a_lane_that_runs_a_day_late_is_planned_a_day_late():
    lane = [delivered(POSTE_STD, 100, 1, date(2026, 11, 17)) for _ in range(MIN_LANE_SAMPLES)]
    learned = taught(lane, dc())
    outlook = FieldOutlook(learned, confidence=0.9)
    [route] = carrier_routes(
        dc(), 100, CARRIERS, WEDNESDAY, frozenset(), ("standard",), outlook=outlook
    )
    assert route.deliver_on == FRIDAY  # published: Thursday
    [published] = carrier_routes(dc(), 100, CARRIERS, WEDNESDAY, frozenset(), ("standard",))
    assert published.deliver_on == THURSDAY


def test_a_lane_is_learned_per_distance_band():
    near = [delivered(POSTE_STD, 100, 1, date(2026, 11, 17)) for _ in range(MIN_LANE_SAMPLES)]
    far = [delivered(POSTE_STD, 500, 0, date(2026, 11, 17)) for _ in range(MIN_LANE_SAMPLES)]
    learned = taught(near + far, dc())
    assert learned.lane(POSTE_STD, 100) == ((1, 1.0),)
    assert learned.lane(POSTE_STD, 600) == ((0, 1.0),)


def test_a_parcel_handed_over_after_the_cut_off_is_not_held_against_the_carrier():
    # Handed over at 18:00 (cut-off 15:00): collected the next day, delivered a day after.
    late_handover = [
        Outcome(
            "DC-LYON",
            SHIP,
            at(WEDNESDAY, 9),
            at(WEDNESDAY, 18),
            "POSTE",
            "POSTE-STD",
            100,
            at(FRIDAY, 14),
        )
        for _ in range(MIN_LANE_SAMPLES)
    ]
    assert taught(late_handover, dc()).lane(POSTE_STD, 100) == ((0, 1.0),)


def test_a_few_late_parcels_do_not_move_the_date_below_the_confidence():
    # 4 % of parcels a day late: at 95 % confidence the published day holds, at 99 % not.
    lane = [delivered(POSTE_STD, 100, 0, date(2026, 11, 17)) for _ in range(96)]
    lane += [delivered(POSTE_STD, 100, 1, date(2026, 11, 17)) for _ in range(4)]
    learned = taught(lane, dc())
    for confidence, expected in ((0.95, THURSDAY), (0.99, FRIDAY)):
        outlook = FieldOutlook(learned, confidence=confidence)
        [route] = carrier_routes(
            dc(), 100, CARRIERS, WEDNESDAY, frozenset(), ("standard",), outlook=outlook
        )
        assert route.deliver_on == expected


def test_the_node_and_the_lane_are_mixed_not_stacked():
    # The node misses its cut-off 6 % of the time, the carrier is a day late 6 % of the
    # time: at 95 % the promise needs one extra day, not one for each (Monday).
    node_record = [handed_over("DC-LYON", at(WEDNESDAY, 8), 2.0) for _ in range(94)]
    node_record += [handed_over("DC-LYON", at(WEDNESDAY, 8), 9.0) for _ in range(6)]
    lane = [delivered(POSTE_STD, 100, 0, date(2026, 11, 17)) for _ in range(94)]
    lane += [delivered(POSTE_STD, 100, 1, date(2026, 11, 17)) for _ in range(6)]
    learned = taught(node_record + lane, dc())
    outlook = FieldOutlook(learned, confidence=0.95)
    handover = learned.handover(dc(), SHIP, at(THURSDAY, 8))
    [route] = carrier_routes(
        dc(), 100, CARRIERS, THURSDAY, frozenset(), ("standard",), handover, outlook
    )
    assert route.deliver_on == SATURDAY  # Friday published; one day of margin in all


# --- Incidents announced ahead ---------------------------------------------------------


def test_an_outage_announced_for_tomorrow_delays_a_parcel_that_would_travel_then():
    outage = Incident(
        incident_id="I-1",
        type="carrier_outage",
        carrier_id="POSTE",
        **{"from": THURSDAY, "to": THURSDAY},
    )
    outlook = FieldOutlook(None, 1.0, (outage,))
    [route] = carrier_routes(
        dc(), 500, CARRIERS, WEDNESDAY, frozenset(), ("standard",), outlook=outlook
    )
    assert route.deliver_on == SATURDAY  # Friday published; it stands still on Thursday


WEEKDAYS_ONLY = Carrier(
    id="POSTE",
    services=[
        {
            "id": "POSTE-STD",
            "kind": "standard",
            "cost": 5.0,
            "bands": [{"max_km": 1200, "days": 1}],
            "pickup_days": ["mon", "tue", "wed", "thu", "fri"],
        }
    ],
)
SATURDAY_OUTAGE = Incident(
    incident_id="I-2",
    type="carrier_outage",
    carrier_id="POSTE",
    **{"from": SATURDAY, "to": SATURDAY},
)


def test_a_parcel_waiting_for_monday_pickup_is_not_held_up_by_a_saturday_outage():
    outlook = FieldOutlook(None, 1.0, (SATURDAY_OUTAGE,))
    [route] = carrier_routes(
        dc(), 500, {"POSTE": WEEKDAYS_ONLY}, SATURDAY, frozenset(), ("standard",), outlook=outlook
    )
    assert route.deliver_on == SATURDAY + timedelta(days=3)  # collected Monday, Tuesday
    [route] = carrier_routes(
        dc(), 500, {"POSTE": WEEKDAYS_ONLY}, FRIDAY, frozenset(), ("standard",), outlook=outlook
    )
    assert route.deliver_on == SATURDAY + timedelta(days=2)  # collected Friday, stood still


def test_an_outage_touches_the_parcels_the_carrier_would_collect_during_it():
    [service] = WEEKDAYS_ONLY.services
    assert SATURDAY_OUTAGE.stops_collection(service, SATURDAY, ()) is False  # Monday pickup
    friday = Incident(
        incident_id="I-3",
        type="carrier_outage",
        carrier_id="POSTE",
        service_id="POSTE-STD",
        **{"from": FRIDAY, "to": FRIDAY},
    )
    assert friday.stops_collection(service, THURSDAY, ()) is False  # collected Thursday
    assert friday.stops_collection(service, FRIDAY, ()) is True
    next_monday = SATURDAY + timedelta(days=2)
    monday = Incident(
        incident_id="I-4",
        type="carrier_outage",
        carrier_id="POSTE",
        **{"from": next_monday, "to": next_monday},
    )
    assert monday.stops_collection(service, SATURDAY, ()) is True  # waits for Monday's pickup
    other = Incident(
        incident_id="I-5",
        type="carrier_outage",
        carrier_id="POSTE",
        service_id="POSTE-EXP",
        **{"from": FRIDAY, "to": FRIDAY},
    )
    assert other.stops_collection(service, FRIDAY, ()) is False  # another service is out


# --- The promise on what was learned ---------------------------------------------------


def chain_with(performance: FieldPerformance | None) -> SupplyChain:
    chain = SupplyChain(nodes=[dc()], carriers=CARRIERS, calendar=Calendar())
    stock(chain, "DC-LYON", SKU_1=10)
    chain.performance = performance
    return chain


def test_the_promise_plans_with_what_the_node_really_takes():
    # At 10:00 a node that takes 6 hours cannot make its 15:00 cut-off.
    slow = taught(every_hour("DC-LYON", 6.0), dc())
    learned = ask(chain_with(slow), ("SKU-1", 1), at=at(WEDNESDAY, 10))
    assert option(learned, "home_standard").estimated_by == FRIDAY
    assert option(learned, "home_standard").lines[0].available_on == THURSDAY


def test_a_plain_oms_promises_from_the_published_cut_off_whatever_the_node_does():
    slow = taught(every_hour("DC-LYON", 6.0), dc())
    plain = ask(
        chain_with(slow),
        ("SKU-1", 1),
        at=at(WEDNESDAY, 10),
        policy=PRESETS["nearest-node-no-reroute"],
    )
    assert option(plain, "home_standard").estimated_by == THURSDAY


def test_with_nothing_learned_the_promise_is_the_published_one():
    answer = ask(chain_with(None), ("SKU-1", 1), at=at(WEDNESDAY, 10))
    assert option(answer, "home_standard").estimated_by == THURSDAY


# --- What support sees, and what the retailer may configure ----------------------------


def test_a_nodes_performance_shows_learned_against_configured():
    record = every_hour("DC-LYON", 6.0)
    record[0] = Outcome(
        "DC-LYON",
        SHIP,
        at(WEDNESDAY, 9),
        at(WEDNESDAY, 10),
        ship_by=at(WEDNESDAY, 15),
    )
    learned = learn(
        record,
        {"DC-LYON": dc(preparation_hours=2)},
        {},
        frozenset(),
        LATER,
        {"DC-LYON": {WEDNESDAY: 7}},
    )
    figures = node_performance(dc(preparation_hours=2), learned, 0.95)
    assert figures.configured_preparation_hours == 2
    assert figures.ship.learned and figures.ship.hours_at_confidence == 6.0
    assert figures.figures.backlog == 7
    assert figures.figures.on_time_handover_rate == 1.0
    assert figures.figures.shipments == len(record)


@pytest.mark.parametrize("field, value", [("promise_confidence", 1.0), ("promise_confidence", 0.2)])
def test_a_confidence_out_of_range_is_refused_naming_it(field: str, value: float):
    with pytest.raises(ValidationError, match=field):
        SourcingPolicy(**{field: value})


@pytest.mark.parametrize("hours", [-1, 100])
def test_a_preparation_time_out_of_range_is_refused_naming_it(hours: float):
    with pytest.raises(ValidationError, match="preparation_hours"):
        dc(preparation_hours=hours)


def test_the_default_policy_learns_and_the_plain_one_does_not():
    assert DEFAULT_POLICY.lead_times == "learned"
    assert PRESETS["nearest-node-no-reroute"].lead_times == "published"


def test_utc_is_fine_for_the_start():
    learned = taught(every_hour("DC-LYON", 6.0), dc())
    utc = at(WEDNESDAY, 10).astimezone(UTC)
    assert learned.handover(dc(), SHIP, utc).first == THURSDAY


def test_a_node_nothing_is_known_of_is_never_called_late():
    cold = FieldPerformance()
    started = at(WEDNESDAY, 8)
    assert cold.chance_in_time(dc(), SHIP, started, at(WEDNESDAY, 14), at(WEDNESDAY, 15)) == 1.0


def test_a_shipment_past_every_lead_time_the_node_has_shown_will_not_make_it():
    learned = taught(every_hour("DC-LYON", 2.0), dc())
    started = at(WEDNESDAY, 8)
    deadline = at(WEDNESDAY, 15)
    assert learned.chance_in_time(dc(), SHIP, started, at(WEDNESDAY, 9), deadline) == 1.0
    assert learned.chance_in_time(dc(), SHIP, started, at(WEDNESDAY, 11), deadline) == 0.0


def test_a_shipment_in_a_cohort_still_mostly_open_is_not_called_late():
    # 70 of the morning's parcels are still open after 8 hours: nobody knows yet how long
    # this node takes today, so one of them is no evidence of lateness.
    now = at(WEDNESDAY, 16)
    out = [handed_over("DC-LYON", at(WEDNESDAY, 8), 2.0) for _ in range(30)]
    still = [Outcome("DC-LYON", SHIP, at(WEDNESDAY, 8), None) for _ in range(70)]
    learned = learn(out + still, {"DC-LYON": dc()}, {}, frozenset(), now)
    chance = learned.chance_in_time(dc(), SHIP, at(WEDNESDAY, 8), now, at(WEDNESDAY, 17))
    assert chance == 1.0


def test_a_quiet_night_hour_borrows_the_ready_time_of_the_morning_not_its_lead_time():
    # Nothing was released at 02:00; at 09:00 work leaves in 3 hours (ready at noon). Work
    # released at 02:00 waits for the same shift: it is ready at noon too, 10 hours later.
    morning = [handed_over("DC-LYON", at(WEDNESDAY, 9), 3.0) for _ in range(MIN_NODE_SAMPLES)]
    lead = taught(morning, dc()).lead_times(dc(), SHIP)
    assert lead.quantile(2, 0.9) == 10.0
    assert lead.quantile(9, 0.9) == 3.0


def test_a_morning_of_work_with_nothing_handed_over_is_planned_for_tomorrow():
    # First day: 12 shipments released since 01:00, none handed over at 09:00. Nothing says
    # the node is quick; what it shows is that it has not handed anything over in 8 hours.
    now = at(WEDNESDAY, 9)
    waiting = [Outcome("DC-LYON", SHIP, at(WEDNESDAY, 1 + n % 8), None) for n in range(12)]
    learned = learn(waiting, {"DC-LYON": dc()}, {}, frozenset(), now)
    assert learned.lead_times(dc(), SHIP).learned
    assert learned.handover(dc(), SHIP, now).at(0.5) == THURSDAY
    # ... and no shipment of it is called late on that: there is no record to judge by.
    assert learned.chance_in_time(dc(), SHIP, at(WEDNESDAY, 1), now, at(WEDNESDAY, 15)) == 1.0


def test_parcels_caught_in_a_reported_outage_do_not_teach_the_lane():
    outage = Incident(
        incident_id="I-1",
        type="carrier_outage",
        carrier_id="POSTE",
        **{"from": date(2026, 11, 18), "to": date(2026, 11, 18)},
    )
    stuck = [delivered(POSTE_STD, 100, 1, date(2026, 11, 17)) for _ in range(MIN_LANE_SAMPLES)]
    services = {s.id: s for c in CARRIERS.values() for s in c.services}
    learned = learn(stuck, {"DC-LYON": dc()}, services, frozenset(), LATER, outages=[outage])
    assert learned.lane(POSTE_STD, 100) is None  # the published band holds
    assert taught(stuck, dc()).lane(POSTE_STD, 100) == ((1, 1.0),)  # without the outage


def test_a_store_with_no_record_of_its_own_plans_with_the_other_stores():
    lille = node("STORE-LILLE", DC_LYON_AT, type="store", cutoff=time(17))
    nantes = node("STORE-NANTES", DC_LYON_AT, type="store", cutoff=time(17))
    record = every_hour("STORE-LILLE", 6.0)
    learned = taught(record, lille, nantes, dc())
    assert learned.lead_times(nantes, SHIP).quantile(12, 0.9) == 6.0  # Lille's pace
    assert learned.handover(nantes, SHIP, at(WEDNESDAY, 12)).first == THURSDAY
    assert not learned.lead_times(dc(), SHIP).learned  # a warehouse is not a store


def test_a_backlog_the_node_cannot_clear_before_its_cut_off_fills_today():
    # Over two days it never handed over more than 6 parcels an hour; at 12:00 it has 30
    # due today and 3 hours to its 15:00 cut-off.
    record = [
        handed_over("DC-LYON", at(WEDNESDAY - timedelta(days=2), 8) + timedelta(hours=n), 1.0)
        for n in range(48)
        for _ in range(6)
    ]
    services: dict = {}
    busy = learn(
        record, {"DC-LYON": dc()}, services, frozenset(), LATER, {"DC-LYON": {WEDNESDAY: 30}}
    )
    assert busy.summaries["DC-LYON"].throughput_per_hour == 6
    assert busy.backlogged(dc(), at(WEDNESDAY, 12))
    assert not busy.backlogged(dc(), at(WEDNESDAY, 9))  # 6 hours left: 36 can go
    assert FieldOutlook(busy).not_before(dc(), at(WEDNESDAY, 12)) == THURSDAY
    # A pace seen only in the first hours of a surge proves nothing yet.
    young = learn(
        record[:60], {"DC-LYON": dc()}, services, frozenset(), LATER, {"DC-LYON": {WEDNESDAY: 30}}
    )
    assert not young.backlogged(dc(), at(WEDNESDAY, 12))


def test_a_lane_learns_only_from_parcels_due_by_now_counting_the_overdue_as_late():
    # Handed over on Monday 16 Nov, due Tuesday 17: 20 delivered on time, 10 still not
    # there on Thursday 19 (two days overdue so far). A parcel handed over on Wednesday,
    # due Thursday, says nothing yet, delivered early or not.
    services = {s.id: s for c in CARRIERS.values() for s in c.services}
    monday = date(2026, 11, 16)
    on_time = [delivered(POSTE_STD, 100, 0, monday) for _ in range(20)]
    overdue = [
        Outcome("DC-LYON", SHIP, at(monday, 9), at(monday, 11), "POSTE", "POSTE-STD", 100, None)
        for _ in range(10)
    ]
    not_due = [delivered(POSTE_STD, 100, 0, date(2026, 11, 18)) for _ in range(40)]
    learned = learn(
        not_due + on_time + overdue,
        {"DC-LYON": dc()},
        services,
        frozenset(),
        at(date(2026, 11, 19), 9),
    )
    lane = dict(learned.lane(POSTE_STD, 100) or ())
    assert lane == {0: 20 / 30, 2: 10 / 30}
