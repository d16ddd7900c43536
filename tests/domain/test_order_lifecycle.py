"""An order's life by the rules (domain/order_lifecycle.py), without Temporal: a clock
that moves when told, and the notices the rules send, kept in a list."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import Refusal
from domain.field_events import CarrierEvent, CarrierEventSignal, NodeEvent, NodeEventSignal
from domain.future_stock import PreorderHold
from domain.incidents import Incident
from domain.local_time import LocalTime
from domain.order import OrderLine, OrderStatus, PlaceOrder, ShipmentStatus
from domain.order_lifecycle import Notice, OrderLifecycle
from domain.preorder import PreorderHeld, PreorderNews, SupplyHeld
from domain.sourcing import PlannedLine, PlannedShipment, SourcingPlan

PROMISED = date(2026, 12, 22)
PLACED = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
PARIS = LocalTime.of("Europe/Paris", PLACED)


class Story:
    """One order, its clock and what its parties were told."""

    def __init__(self, lines: dict[str, int] | None = None, promised: date | None = PROMISED):
        self.now = PLACED
        self.told: list[Notice] = []
        order = PlaceOrder.model_validate(
            {
                "order_id": "A-1",
                "customer": {"id": "C-1", "email": "anna@example.com"},
                "channel": "web",
                "lines": [
                    {"line_id": str(n), "sku": sku, "qty": qty}
                    for n, (sku, qty) in enumerate((lines or {"SKU-1": 2}).items(), 1)
                ],
                "delivery": {
                    "method": "home",
                    "address": {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83},
                    "promised_by": promised.isoformat() if promised else None,
                },
            }
        )
        self.order = OrderLifecycle(
            order, PLACED, PARIS, clock=lambda: self.now, send=self.told.append
        )

    def later(self, hours: float) -> None:
        self.now += timedelta(hours=hours)

    def topics(self, recipient: str = "customer") -> list[str]:
        return [n.topic for n in self.told if n.recipient == recipient]

    def summaries(self) -> list[str]:
        return [e.summary for e in self.order.timeline]

    def released(self, *nodes: str, deliver_by: date = PROMISED) -> list:
        """Released to `nodes` (default one node, DC-LYON), each with the order's lines."""
        plan = plan_on(
            *(nodes or ("DC-LYON",)), lines=self.order.order.lines, deliver_by=deliver_by
        )
        self.order.sourced(plan, None)
        self.order.first_plan(plan)
        shipments = [s for s, _ in self.order.new_shipments(plan)]
        for shipment in shipments:
            self.order.slot_taken(
                shipment, PLACED.date(), PLACED.date(), datetime(2026, 12, 14, 23, 0, tzinfo=UTC)
            )
        self.order.released(shipments, OrderStatus.RELEASED, reroute=False)
        self.order.told_nodes(shipments)
        return shipments


def plan_on(*nodes: str, lines: list[OrderLine], deliver_by: date = PROMISED) -> SourcingPlan:
    return SourcingPlan(
        shipments=[
            PlannedShipment(
                node_id=node,
                lines=[PlannedLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in lines],
                carrier_id="POSTE",
                service_id="POSTE-STD",
                distance_km=10.0,
                ship_on=PLACED.date(),
                deliver_by=deliver_by,
            )
            for node in nodes
        ],
        deliver_by=deliver_by,
        explanation=[],
    )


def node_event(kind: str, shipment_id: str, node: str = "DC-LYON", **lines: int):
    event = NodeEvent(
        event_id=f"{kind}-{shipment_id}",
        type=kind,
        order_id="A-1",
        shipment_id=shipment_id,
        lines=[{"line_id": line, "qty": qty} for line, qty in lines.items()],
    )
    return NodeEventSignal(node_id=node, event=event, received_at=PLACED)


def delivered(shipment_id: str, at: datetime, carrier: str = "POSTE") -> CarrierEventSignal:
    event = CarrierEvent(
        event_id=f"d-{shipment_id}", type="delivered", shipment_id=shipment_id, at=at
    )
    return CarrierEventSignal(carrier_id=carrier, event=event, received_at=at)


# --- Placing and releasing -------------------------------------------------------------


def test_a_placed_order_tells_the_customer_once_under_a_key_of_its_own():
    story = Story()
    story.order.placed()
    assert story.summaries()[0].startswith("Order placed on web: 2 units in 1 line(s)")
    assert [(n.key, n.topic) for n in story.told] == [("A-1:n1:order_received", "order_received")]
    assert story.told[0].payload == {"order_id": "A-1", "lines": 1}


def test_a_released_shipment_is_announced_to_its_node_with_what_to_pick():
    story = Story()
    [shipment] = story.released()
    assert shipment.shipment_id == "A-1-S1" and shipment.status == ShipmentStatus.RELEASED
    assert story.order.view.status == OrderStatus.RELEASED
    [notice] = [n for n in story.told if n.recipient == "node"]
    assert notice.recipient_id == "DC-LYON" and notice.topic == "release_for_picking"
    assert notice.payload["lines"] == [{"line_id": "1", "sku": "SKU-1", "qty": 2}]


def test_an_order_without_a_date_takes_its_first_plans():
    story = Story(promised=None)
    story.released(deliver_by=date(2026, 12, 18))
    assert story.order.view.promised_by == date(2026, 12, 18)
    assert "Promised by 2026-12-18" in story.summaries()


# --- Field events and the status they give ----------------------------------------------


def test_the_status_follows_the_shipments_and_the_last_delivery_closes_the_order():
    story = Story()
    first, second = story.released("DC-LYON", "DC-PARIS")
    story.order.picked(first, {})
    story.order.settle()
    assert story.order.view.status == OrderStatus.RELEASED  # Paris has not picked yet
    story.order.picked(second, {})
    story.order.settle()
    assert story.order.view.status == OrderStatus.PICKED
    story.order.shipped(first, node_event("shipped", first.shipment_id), committed_units=2)
    story.order.settle()
    assert story.order.view.status == OrderStatus.PICKED  # one of two has left
    story.order.carrier_event(delivered(first.shipment_id, PLACED + timedelta(days=2)), first)
    story.order.shipped(second, node_event("shipped", second.shipment_id, "DC-PARIS"), 2)
    story.order.settle()
    assert story.order.view.status == OrderStatus.SHIPPED
    # Delivered at 23:30 UTC on the promised day: 00:30 the next day in Paris, one day late.
    late = datetime.combine(PROMISED, datetime.min.time(), UTC) + timedelta(hours=23.5)
    story.order.carrier_event(delivered(second.shipment_id, late), second)
    story.order.settle()
    view = story.order.view
    assert view.status == OrderStatus.DELIVERED and story.order.closed
    assert view.otif is not None and not view.otif.on_time and view.otif.in_full
    assert view.otif.delivered_on == PROMISED + timedelta(days=1)
    assert "Order delivered late, in full" in story.summaries()
    assert story.topics()[-1] == "order_delivered"


def test_a_carrier_event_dated_when_it_cannot_have_happened_is_noted_and_changes_nothing():
    story = Story()
    [shipment] = story.released()
    sid, now = shipment.shipment_id, PLACED + timedelta(days=3)
    # A day before the order (a carrier's clock a day behind) to 5 minutes ahead of now.
    for believed in (PLACED - timedelta(days=1), now + timedelta(minutes=5)):
        assert story.order.doubted_time(delivered(sid, believed), now) is None
    too_early = delivered(sid, PLACED - timedelta(days=1, seconds=1))
    early = story.order.doubted_time(too_early, now)
    assert early and "more than a day before the order was placed" in early
    too_late = delivered(sid, now + timedelta(minutes=5, seconds=1))
    late = story.order.doubted_time(too_late, now)
    assert late and "has not happened yet" in late
    told = len(story.told)
    story.order.time_ignored(too_late, late)
    assert story.order.timeline[-1].type == "event_ignored"
    assert story.summaries()[-1] == f"delivered from POSTE for {sid} ignored: {late}"
    assert shipment.status == ShipmentStatus.RELEASED and shipment.delivered_at is None
    assert len(story.told) == told  # no one is told anything


def test_events_about_shipments_a_node_no_longer_has_change_nothing():
    story = Story()
    [shipment] = story.released()
    assert story.order.not_its_shipment(node_event("picked", "A-1-S9"), None)
    assert story.order.not_its_shipment(
        node_event("picked", shipment.shipment_id, "DC-PARIS"), shipment
    )
    assert not story.order.not_its_shipment(node_event("picked", shipment.shipment_id), shipment)
    story.order.shipped(shipment, node_event("shipped", shipment.shipment_id), 2)
    assert story.order.done_with("picked", shipment)  # a late pick after the parcel left
    assert not story.order.done_with("delivered", shipment, by_carrier=True)
    assert story.summaries()[-1] == "picked for A-1-S1 ignored: it is already shipped"


def test_a_short_pick_takes_the_missing_units_off_the_shipment():
    story = Story({"SKU-1": 3, "SKU-2": 1})
    [shipment] = story.released()
    [line] = story.order.short_lines(shipment, {"1": 1})
    moved = story.order.short_picked(shipment, line, short=1, written_off=1)
    assert (moved.sku, moved.qty) == ("SKU-1", 1)
    assert (line.qty, line.short_qty) == (2, 1)
    assert not story.order.emptied(shipment)
    for line in story.order.short_lines(shipment, {"1": 2, "2": 1}):
        story.order.short_picked(shipment, line, line.qty, line.qty)
    assert story.order.emptied(shipment) and shipment.status == ShipmentStatus.CANCELLED


def test_a_carrier_exception_puts_the_order_in_the_exception_queue_and_tells_the_customer():
    story = Story()
    [shipment] = story.released()
    event = CarrierEvent(
        event_id="x",
        type="exception",
        shipment_id=shipment.shipment_id,
        at=PLACED,
        reason="address not found",
    )
    story.order.carrier_event(
        CarrierEventSignal(carrier_id="POSTE", event=event, received_at=PLACED), shipment
    )
    story.order.settle()
    assert story.order.view.status == OrderStatus.EXCEPTION
    assert story.order.view.reason == "address not found"
    assert story.topics()[-1] == "delivery_issue"


# --- Moving work, parking it, support's decisions --------------------------------------------


def test_a_reroute_that_misses_the_date_takes_the_new_one_and_lets_the_customer_cancel():
    story = Story()
    [shipment] = story.released()
    lines = story.order.taken_back(shipment, "DC-LYON closed")
    assert (
        shipment.status == ShipmentStatus.CANCELLED and story.topics("node")[-1] == "cancel_picking"
    )
    later = PROMISED + timedelta(days=2)
    new_plan = plan_on("DC-PARIS", lines=lines, deliver_by=later)
    story.order.rerouted(new_plan)
    assert story.order.view.promised_by == later
    notice = story.told[-1]
    assert notice.topic == "new_delivery_date"
    assert notice.payload["may_cancel"] and notice.payload["was"] == PROMISED.isoformat()
    # Delivered on the new day, after the first: on time against the date the customer has.
    [(moved, _)] = story.order.new_shipments(new_plan)
    at_new_date = datetime.combine(later, datetime.min.time(), UTC) + timedelta(hours=12)
    story.order.carrier_event(delivered(moved.shipment_id, at_new_date), moved)
    story.order.settle()
    assert story.order.view.otif is not None and story.order.view.otif.on_time


def test_a_reroute_that_keeps_the_date_keeps_it_quietly():
    story = Story()
    [shipment] = story.released()
    lines = story.order.taken_back(shipment, "short pick")
    told = len(story.topics())
    story.order.rerouted(plan_on("DC-PARIS", lines=lines))
    assert story.order.view.promised_by == PROMISED and len(story.topics()) == told
    assert story.summaries()[-1] == f"Rerouted to DC-PARIS, still by {PROMISED}"


def test_only_the_units_nobody_has_are_parked():
    lines = [OrderLine(line_id="1", sku="SKU-1", qty=3), OrderLine(line_id="2", sku="SKU-2", qty=1)]
    missing = {"1": 1, "2": 1}
    assert [(x.line_id, x.qty) for x in OrderLifecycle.placeable(lines, missing)] == [("1", 2)]
    assert [(x.line_id, x.qty) for x in OrderLifecycle.missing_only(lines, missing)] == [
        ("1", 1),
        ("2", 1),
    ]


def test_parked_units_wait_for_support_who_may_accept_a_partial_delivery():
    story = Story({"SKU-1": 1, "SKU-2": 1})
    story.released()
    refused = story.order.refuses_decision("retry", deciding=False)
    assert refused is not None and refused[0] == Refusal.NOT_IN_EXCEPTION_QUEUE
    story.order.park([OrderLine(line_id="2", sku="SKU-2", qty=1)], "a short pick", "no stock")
    assert story.order.view.status == OrderStatus.EXCEPTION
    assert story.order.next_deadline() is None  # no timer while a person decides
    assert story.topics()[-1] == "order_delayed"
    assert story.order.refuses_decision("accept_partial", deciding=False) is None
    assert story.order.support_decided("accept_partial", "customer agreed") is None
    assert story.order.stuck is None and story.topics()[-1] == "partial_delivery"
    assert "1 unit(s) will not come" in (story.order.view.reason or "")
    story.order.settle()
    assert story.order.view.status == OrderStatus.RELEASED


def test_support_may_retry_the_parked_units_but_not_accept_nothing():
    story = Story()
    [shipment] = story.released()
    lines = story.order.taken_back(shipment, "DC-LYON closed")
    story.order.park(lines, "DC-LYON closed", "no other node has it")
    refused = story.order.refuses_decision("accept_partial", deciding=False)
    assert refused is not None and refused[0] == Refusal.NOTHING_TO_DELIVER
    assert story.order.support_decided("retry", "") == lines


def test_under_a_policy_that_does_not_reroute_lost_units_do_not_come():
    story = Story({"SKU-1": 2, "SKU-2": 1})
    first, second = story.released("DC-LYON", "DC-PARIS")
    assert story.order.given_up([OrderLine(line_id="2", sku="SKU-2", qty=1)], "a short pick")
    assert story.topics()[-1] == "partial_delivery"
    first.status = second.status = ShipmentStatus.CANCELLED
    assert not story.order.given_up([OrderLine(line_id="1", sku="SKU-1", qty=2)], "a closure")


# --- Incidents ---------------------------------------------------------------------------


def outage(kind: str = "carrier_outage") -> Incident:
    fields = {"carrier_id": "POSTE"} if kind == "carrier_outage" else {"node_id": "DC-LYON"}
    return Incident(
        incident_id="I-1", type=kind, **fields, **{"from": PLACED.date(), "to": PLACED.date()}
    )


def test_an_incident_moves_released_shipments_and_avoids_a_failed_node_only():
    story = Story()
    first, second = story.released("DC-LYON", "DC-PARIS")
    story.order.picked(second, {})
    assert story.order.broken_by(outage(), ["A-1-S1", "A-1-S2"]) == [first]  # S2 is picked
    assert story.order.avoid == set()  # the carrier failed, not Lyon
    assert story.order.broken_by(outage("node_closed"), ["A-1-S1"]) == [first]
    assert story.order.avoid == {"DC-LYON"}


def test_under_a_policy_that_does_not_reroute_an_incident_leaves_the_work_where_it_is():
    story = Story()
    plan = plan_on("DC-LYON", lines=story.order.order.lines).model_copy(update={"reroute": False})
    story.order.sourced(plan, None)
    [shipment] = [s for s, _ in story.order.new_shipments(plan)]
    story.order.released([shipment], OrderStatus.RELEASED, reroute=False)
    assert story.order.broken_by(outage(), [shipment.shipment_id]) == []
    assert story.order.incident_result(False, PROMISED) == ("kept", "the policy does not reroute")
    assert shipment.shipment_id in story.order.sla_waived


def test_what_became_of_the_order_is_told_to_the_incident():
    story = Story()
    [shipment] = story.released()
    assert story.order.incident_result(False, PROMISED)[0] == "unaffected"
    lines = story.order.taken_back(shipment, "carrier out")
    plan = plan_on("DC-PARIS", lines=lines)
    moved = [s for s, _ in story.order.new_shipments(plan)]
    story.order.released(moved, None, reroute=True)
    story.order.rerouted(plan)
    assert story.order.view.reroutes == 1
    assert story.order.incident_result(True, PROMISED) == (
        "rerouted",
        f"to DC-PARIS, still by {PROMISED}",
    )
    story.order.rerouted(plan_on("DC-PARIS", lines=lines, deliver_by=PROMISED + timedelta(1)))
    assert story.order.incident_result(True, PROMISED)[0] == "repromised"


def test_a_count_takes_the_units_it_did_not_find_off_the_shipment():
    story = Story()
    [shipment] = story.released()
    moved = story.order.lost_in_count(shipment, {"1": 5}, "count of 0 x SKU-1 at DC-LYON")
    assert [(x.line_id, x.qty) for x in moved] == [("1", 2)]  # never more than it held
    assert story.order.emptied(shipment) and story.order.avoid == {"DC-LYON"}


# --- Deadlines and cancellation ------------------------------------------------------------


def test_the_next_deadline_is_the_earliest_picking_sla_then_the_end_of_the_promised_day():
    story = Story()
    [shipment] = story.released()
    assert story.order.next_deadline() == shipment.pick_by
    assert story.order.past_sla(shipment.pick_by - timedelta(minutes=1)) == []
    assert story.order.past_sla(shipment.pick_by) == [shipment]
    story.order.grace(shipment)
    assert story.order.next_deadline() == shipment.pick_by + timedelta(days=1)
    assert not story.order.may_have_grace(shipment)  # one more day, once
    story.order.picked(shipment, {})
    # Midnight after the promised day, Paris time.
    assert story.order.next_deadline() == datetime(2026, 12, 22, 23, 0, tzinfo=UTC)
    story.order.promise_missed()
    assert story.order.next_deadline() is None and story.topics()[-1] == "order_late"


def test_a_node_late_under_a_policy_that_does_not_reroute_keeps_its_work_and_the_timer_stops():
    story = Story()
    [shipment] = story.released()
    story.order.sla_missed_kept(shipment)
    assert story.order.past_sla(shipment.pick_by + timedelta(days=3)) == []


@pytest.mark.parametrize("shipped", [False, True])
def test_an_order_is_cancelled_until_a_parcel_leaves(shipped: bool):
    story = Story()
    [shipment] = story.released()
    if shipped:
        story.order.shipped(shipment, node_event("shipped", shipment.shipment_id), 2)
        assert story.order.too_late_to_cancel() == "order A-1 is released: too late to cancel"
        assert not story.order.cancel_requested("customer", "changed mind")
        assert story.summaries()[-1] == "Cancellation refused: a shipment already left"
        return
    assert story.order.too_late_to_cancel() is None
    assert story.order.cancel_requested("customer", "changed mind")
    story.order.stock_released(2)
    story.order.stop_picking(shipment)
    story.order.cancelled("changed mind")
    assert story.order.view.status == OrderStatus.CANCELLED and story.order.closed
    assert story.topics("node")[-1] == "cancel_picking"
    assert story.topics()[-1] == "order_cancelled"
    assert story.order.too_late_to_cancel() is None  # asking again gets the same answer


# --- Pre-orders -----------------------------------------------------------------------


def held_on(supply_id: str, eta: date, deliver_on: date, qty: int = 2) -> PreorderHeld:
    return PreorderHeld(
        on_hand=SourcingPlan(shipments=[], deliver_by=eta, explanation=[]),
        supply=[
            SupplyHeld(
                line_id="1",
                sku="SKU-1",
                qty=qty,
                supply_id=supply_id,
                node_id="DC-LYON",
                eta=eta,
                deliver_on=deliver_on,
            )
        ],
        deliver_by=deliver_on,
    )


def hold(status: str, supply_id: str = "PO-1", hold_id: str = "h1") -> PreorderHold:
    return PreorderHold(
        hold_id=hold_id,
        line_id="1",
        sku="SKU-1",
        supply_id=supply_id,
        node_id="DC-LYON",
        qty=2,
        round=1,
        status=status,  # type: ignore[arg-type]
        eta=date(2026, 12, 18),
    )


def test_a_pre_order_without_a_date_takes_its_supplys_and_says_what_it_waits_for():
    story = Story(promised=None)
    story.order.preorder_held(held_on("PO-1", date(2026, 12, 18), date(2026, 12, 20)))
    assert story.order.view.promised_by == date(2026, 12, 20)
    assert story.order.view.waiting_for == ["PO-1"]
    assert "waits for 2 x SKU-1 from PO-1 at DC-LYON, due 2026-12-18" in story.summaries()[-2]
    assert story.topics() == []  # nothing new to tell: the date is the one just given


def test_a_pre_order_waits_while_its_units_are_on_their_way_and_goes_on_once_all_arrived():
    story = Story()
    story.order.preorder_held(held_on("PO-1", date(2026, 12, 18), date(2026, 12, 20)))
    assert story.order.supply_news(PreorderNews(holds=[hold("held")])) == []
    assert story.order.supply_news(PreorderNews(holds=[hold("served")])) is None
    assert story.order.view.waiting_for == []
    assert "arrived with PO-1 at DC-LYON: held for this order" in story.summaries()[-1]


def test_units_that_will_not_come_are_handed_back_once_to_be_held_elsewhere():
    story = Story()
    dropped = story.order.supply_news(PreorderNews(holds=[hold("dropped")]))
    assert dropped == [OrderLine(line_id="1", sku="SKU-1", qty=2)]
    # The same news read again (the next signal) is not a second loss.
    assert story.order.supply_news(PreorderNews(holds=[hold("dropped")])) is None


def test_supply_coming_later_than_promised_repromises_and_tells_the_customer():
    story = Story()
    news = PreorderNews(holds=[hold("held")], deliver_by=PROMISED + timedelta(days=3))
    story.order.supply_news(news)
    assert story.order.view.promised_by == PROMISED + timedelta(days=3)
    [notice] = [n for n in story.told if n.topic == "new_delivery_date"]
    assert notice.payload["was"] == PROMISED.isoformat() and notice.payload["may_cancel"]
    # Sooner than promised changes nothing.
    story.order.supply_news(PreorderNews(holds=[hold("held")], deliver_by=PROMISED))
    assert story.order.view.promised_by == PROMISED + timedelta(days=3)
