"""An order's life by the business rules: what a plan, a field event, an incident, a
deadline or a person's decision does to the order and its shipments, what its timeline
says and which parties are told.

Pure: the order workflow (workflows/order.py) does the I/O around it (the ledger, the
carriers, the read model) and hands it the answers; the lifecycle takes the clock and
the way out for notices from the workflow, so it runs the same in a unit test.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from domain.errors import Refusal
from domain.field_events import CarrierEventSignal, NodeEventSignal, carrier_time_refusal
from domain.incidents import Incident
from domain.local_time import LocalTime
from domain.order import (
    AT_NODE,
    CLOSED_STATUSES,
    LEFT_NODE,
    OrderLine,
    OrderStatus,
    OrderView,
    PlaceOrder,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TimelineEntry,
)
from domain.otif import judge_otif
from domain.preorder import PreorderHeld, PreorderNews
from domain.sourcing import PlannedShipment, SourcingPlan

# Collection at a store's own counter: the store reports it like a carrier would.
IN_STORE_COLLECTION = "COLLECT"


Recipient = Literal["customer", "node", "carrier"]
IncidentResult = Literal["rerouted", "repromised", "exception", "unaffected", "kept"]


@dataclass(frozen=True)
class Notice:
    """A message for a party; `key` makes sending it twice harmless."""

    key: str
    recipient: Recipient
    recipient_id: str
    topic: str
    payload: dict[str, Any]


class OrderLifecycle:
    """One order's state and rules. `clock` gives the time of each step (the workflow's
    clock); `send` takes each notice at the moment the rules decide it."""

    def __init__(
        self,
        order: PlaceOrder,
        placed_at: datetime,
        local_time: LocalTime,
        clock: Callable[[], datetime],
        send: Callable[[Notice], None],
    ) -> None:
        self.order = order
        self.local_time = local_time
        self.view = OrderView(
            order_id=order.order_id,
            status=OrderStatus.PLACED,
            customer=order.customer,
            channel=order.channel,
            delivery=order.delivery,
            promised_by=order.delivery.promised_by,
            lines=order.lines,
            placed_at=placed_at,
            updated_at=placed_at,
        )
        self.timeline: list[TimelineEntry] = []
        self._clock = clock
        self._send = send
        self._notices = 0
        self.shipments_made = 0
        self.avoid: set[str] = set()  # nodes that failed this order (short pick, SLA)
        self.stuck: str | None = None  # why the order waits in the exception queue
        self.stuck_lines: list[OrderLine] = []  # the units it could not place
        self.may_reroute = True  # the sourcing policy lets work move off a failing node
        self.sla_waived: set[str] = set()  # shipments left late at their node, by policy
        self.sla_grace: dict[str, datetime] = {}  # shipment -> its SLA, one day later
        self.late_noted = False
        self.supply_heard: set[str] = set()  # a pre-order's holds whose news was noted

    # --- The timeline and the parties --------------------------------------------------

    def note(self, type: str, summary: str, **details: Any) -> None:
        now = self._clock()
        self.view.updated_at = now
        self.timeline.append(TimelineEntry(at=now, type=type, summary=summary, details=details))

    def tell(self, recipient: Recipient, recipient_id: str, topic: str, **payload: Any) -> None:
        self._notices += 1
        key = f"{self.view.order_id}:n{self._notices}:{topic}"
        self.note(
            "notified", f"Told {recipient} {recipient_id}: {topic.replace('_', ' ')}", key=key
        )
        payload = {"order_id": self.view.order_id, **payload}
        self._send(Notice(key, recipient, recipient_id, topic, payload))

    def tell_customer(self, topic: str, **payload: Any) -> None:
        self.tell("customer", self.view.customer.id, topic, **payload)

    # --- Where the order stands ----------------------------------------------------------

    def shipment(self, shipment_id: str) -> Shipment | None:
        return next((s for s in self.view.shipments if s.shipment_id == shipment_id), None)

    def active_shipments(self) -> list[Shipment]:
        return [s for s in self.view.shipments if s.status != ShipmentStatus.CANCELLED]

    def awaiting_pick(self) -> list[Shipment]:
        return [s for s in self.view.shipments if s.status == ShipmentStatus.RELEASED]

    def any_shipped(self) -> bool:
        return any(s.status in LEFT_NODE for s in self.view.shipments)

    @property
    def closed(self) -> bool:
        return self.view.status in CLOSED_STATUSES

    def derived_status(self) -> OrderStatus:
        """The order's status follows from its shipments' (exception wins until cleared)."""
        if self.closed:
            return self.view.status
        if self.stuck is not None:
            return OrderStatus.EXCEPTION
        active = [s.status for s in self.active_shipments()]
        if not active:
            return OrderStatus.EXCEPTION
        if ShipmentStatus.EXCEPTION in active:
            return OrderStatus.EXCEPTION
        if all(s == ShipmentStatus.DELIVERED for s in active):
            return OrderStatus.DELIVERED
        if all(s in LEFT_NODE for s in active):
            return OrderStatus.SHIPPED
        if all(s in LEFT_NODE or s == ShipmentStatus.PICKED for s in active):
            return OrderStatus.PICKED
        return OrderStatus.RELEASED

    def settle(self) -> None:
        """Take the status the shipments give; the last delivery closes the order."""
        self.view.status = self.derived_status()
        if self.view.status == OrderStatus.DELIVERED:
            self._close_delivered()

    def _close_delivered(self) -> None:
        deliveries = [
            (self.local_time.day_of(s.delivered_at), s.units)
            for s in self.active_shipments()
            if s.delivered_at is not None
        ]
        otif = judge_otif(self.view.promised_by, self.order.units, deliveries)
        self.view.otif = otif
        self.view.reason = None
        words = "on time" if otif.on_time else "late"
        words += (
            ", in full" if otif.in_full else f", {otif.delivered_units}/{otif.ordered_units} units"
        )
        self.note("order_delivered", f"Order delivered {words}", otif=otif.model_dump(mode="json"))
        self.tell_customer("order_delivered", on_time=otif.on_time)

    # --- Placing, planning, releasing ----------------------------------------------------

    def placed(self) -> None:
        order = self.order
        self.note(
            "placed",
            f"Order placed on {order.channel}: {order.units} units in "
            f"{len(order.lines)} line(s), {self._delivery_words()}",
        )
        self.tell_customer("order_received", lines=len(order.lines))

    def sourced(self, plan: SourcingPlan, cause: str | None) -> None:
        self.may_reroute = plan.reroute
        words = ", ".join(
            f"{s.node_id} ({s.units} units, {s.distance_km:.0f} km)" for s in plan.shipments
        )
        self.note(
            "sourced",
            f"Sourced from {words} under policy {plan.policy} v{plan.policy_version}"
            + (f", because {cause}" if cause else ""),
            explanation=plan.explanation,
            score=plan.score.model_dump() if plan.score else None,
        )

    def waiting_for_supply(self, supply_on: date, why: str) -> None:
        self.note(
            "preorder_waiting",
            f"Pre-order: {why}; incoming supply covers it on "
            f"{supply_on.isoformat()}, sourcing again then",
        )

    # --- Pre-orders: waiting for supply on its way --------------------------------------

    def preorder_held(self, held: PreorderHeld, replacing: bool = False) -> None:
        """The pre-order holds its units: on hand in stock, the rest on supply lines. Its
        date is the latest of their arrivals (a later one than promised is told)."""
        waits = "; ".join(
            f"{s.qty} x {s.sku} from {s.supply_id} at {s.node_id}, due {s.eta.isoformat()}"
            for s in held.supply
        )
        on_hand = sum(s.units for s in held.on_hand.shipments)
        self.view.waiting_for = sorted(
            {*self.view.waiting_for, *(s.supply_id for s in held.supply)}
        )
        self.note(
            "preorder_moved" if replacing else "preorder_waiting",
            ("Moved to other supply: " if replacing else "Pre-order: waits for ")
            + (waits or "nothing more")
            + (f"; {on_hand} unit(s) on hand held meanwhile" if on_hand else ""),
            supply=[s.model_dump(mode="json") for s in held.supply],
        )
        self._expect(held.deliver_by, "the supply it waits for")

    def supply_news(self, news: PreorderNews) -> list[OrderLine] | None:
        """What the ledger says of the pre-order's future units: None once every unit has
        arrived (the order can ship); else the lines whose units will not come (to hold
        elsewhere), none while it waits. A later arrival than promised re-promises."""
        dropped: dict[str, OrderLine] = {}
        for hold in news.holds:
            if hold.hold_id in self.supply_heard or hold.status in ("held", "released"):
                continue
            self.supply_heard.add(hold.hold_id)
            if hold.status == "served":
                self.note(
                    "supply_arrived",
                    f"{hold.qty} x {hold.sku} arrived with {hold.supply_id} at "
                    f"{hold.node_id}: held for this order",
                )
                continue
            self.note(
                "supply_dropped", f"{hold.qty} x {hold.sku} from {hold.supply_id} will not come"
            )
            line = dropped.get(hold.line_id)
            qty = hold.qty + (line.qty if line else 0)
            dropped[hold.line_id] = OrderLine(line_id=hold.line_id, sku=hold.sku, qty=qty)
        waiting = [hold for hold in news.holds if hold.status == "held"]
        self.view.waiting_for = sorted({hold.supply_id for hold in waiting})
        if news.deliver_by is not None:
            self._expect(news.deliver_by, "the supply it waits for comes later")
        if dropped:
            return list(dropped.values())
        return [] if waiting else None

    def _expect(self, deliver_by: date, why: str) -> None:
        promised = self.view.promised_by
        if promised is None:
            self.view.promised_by = deliver_by
            self.note("promised", f"Promised by {deliver_by.isoformat()}")
        elif deliver_by > promised:
            self.repromise(
                deliver_by,
                f"New date {deliver_by.isoformat()} instead of {promised.isoformat()}: {why}",
            )

    def repromise(self, deliver_by: date, summary: str) -> None:
        """The order takes a later date: the customer is told, and may cancel."""
        was = self.view.promised_by
        self.view.promised_by = deliver_by
        self.note("repromised", summary)
        self.tell_customer(
            "new_delivery_date",
            promised_by=deliver_by.isoformat(),
            was=was.isoformat() if was else None,
            may_cancel=True,
        )

    def first_plan(self, plan: SourcingPlan) -> None:
        """The first plan gives the order its date, if it had none."""
        if self.view.promised_by is None:
            self.view.promised_by = plan.deliver_by
            self.note("promised", f"Promised by {plan.deliver_by.isoformat()}")
        elif plan.deliver_by > self.view.promised_by:
            self.note(
                "at_risk",
                f"Best plan delivers {plan.deliver_by.isoformat()}, after the "
                f"promised {self.view.promised_by.isoformat()}",
            )

    def confirmed(self) -> None:
        assert self.view.promised_by is not None
        self.tell_customer("order_confirmed", promised_by=self.view.promised_by.isoformat())

    def new_shipments(
        self, plan: SourcingPlan, hold_round: int | None = None
    ) -> list[tuple[Shipment, PlannedShipment]]:
        """A shipment for each planned one, not yet released; `hold_round`: the sourcing
        round that holds the plan's stock."""
        made = []
        for planned in plan.shipments:
            self.shipments_made += 1
            shipment = Shipment(
                shipment_id=f"{self.view.order_id}-S{self.shipments_made}",
                node_id=planned.node_id,
                carrier_id=planned.carrier_id or IN_STORE_COLLECTION,
                service_id=planned.service_id,
                lines=[
                    ShipmentLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in planned.lines
                ],
                expected_delivery=planned.deliver_by,
                cost=planned.cost,
                distance_km=planned.distance_km,
                ship_by=planned.ship_by,
                hold_round=hold_round,
            )
            self.view.shipments.append(shipment)
            made.append((shipment, planned))
        return made

    def collect_at_store(self, shipment: Shipment) -> None:
        self.note(
            "collect_at_store",
            f"{shipment.shipment_id} is picked at {shipment.node_id} for collection there",
        )

    def booked(self, shipment: Shipment, planned: PlannedShipment, booking: Any) -> None:
        shipment.tracking = booking.tracking
        shipment.booking_ref = booking.booking_ref
        shipment.label_url = booking.label_url
        self.note(
            "booked",
            f"Booked {planned.carrier_id} {planned.service_id} for "
            f"{shipment.shipment_id} from {planned.node_id}, tracking {booking.tracking}, "
            f"expected {planned.deliver_by.isoformat()}",
        )

    def slot_taken(
        self, shipment: Shipment, pick_on: date, day: date, pick_by: datetime | None
    ) -> None:
        shipment.pick_by = pick_by
        if day > pick_on:
            self.note(
                "capacity_full",
                f"{shipment.node_id} is full on {pick_on}: "
                f"{shipment.shipment_id} is picked on {day}",
            )

    def released(
        self, shipments: list[Shipment], status: OrderStatus | None, reroute: bool
    ) -> None:
        for shipment in shipments:
            shipment.status = ShipmentStatus.RELEASED
            shipment.released_at = self._clock()
        if status is not None:
            self.view.status = status
        if reroute:
            self.view.reroutes += len(shipments)

    def told_nodes(self, shipments: list[Shipment]) -> None:
        for shipment in shipments:
            self.tell(
                "node",
                shipment.node_id,
                "release_for_picking",
                shipment_id=shipment.shipment_id,
                carrier_id=shipment.carrier_id,
                tracking=shipment.tracking,
                label_url=shipment.label_url,
                pick_by=shipment.pick_by.isoformat() if shipment.pick_by else None,
                lines=[x.model_dump(include={"line_id", "sku", "qty"}) for x in shipment.lines],
            )
            self.note("released", f"Released {shipment.shipment_id} to {shipment.node_id}")

    # --- Moving work -------------------------------------------------------------------

    def taken_back(self, shipment: Shipment, cause: str) -> list[OrderLine]:
        """The shipment is pulled back from its node (its hold, booking and slot went back):
        the node stops, and its units are to be placed again."""
        shipment.status = ShipmentStatus.CANCELLED
        self.tell(
            "node",
            shipment.node_id,
            "cancel_picking",
            shipment_id=shipment.shipment_id,
            reason=cause,
        )
        self.note(
            "taken_back", f"Took {shipment.shipment_id} back from {shipment.node_id}: {cause}"
        )
        return [OrderLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in shipment.lines if x.qty]

    def booking_cancelled(self, shipment: Shipment) -> None:
        assert shipment.carrier_id is not None
        self.note(
            "booking_cancelled",
            f"Cancelled {shipment.carrier_id} booking "
            f"{shipment.booking_ref} of {shipment.shipment_id}",
        )
        self.tell(
            "carrier",
            shipment.carrier_id,
            "booking_cancelled",
            shipment_id=shipment.shipment_id,
            booking_ref=shipment.booking_ref,
        )
        shipment.booking_ref = None

    @staticmethod
    def placeable(lines: list[OrderLine], missing: dict[str, int]) -> list[OrderLine]:
        """What of `lines` the network still has, when `missing` units of some are gone."""
        return [
            line.model_copy(update={"qty": line.qty - missing.get(line.line_id, 0)})
            for line in lines
            if line.qty > missing.get(line.line_id, 0)
        ]

    @staticmethod
    def missing_only(lines: list[OrderLine], missing: dict[str, int]) -> list[OrderLine]:
        return [
            line.model_copy(update={"qty": missing[line.line_id]})
            for line in lines
            if missing.get(line.line_id)
        ]

    def rerouted(self, plan: SourcingPlan) -> None:
        """Moved work keeps the promised date, or the order takes the plan's and the
        customer is told (and may cancel)."""
        promised = self.view.promised_by
        nodes = ", ".join(s.node_id for s in plan.shipments)
        if promised is not None and plan.deliver_by > promised:
            self.repromise(
                plan.deliver_by,
                f"Rerouted to {nodes}; new date "
                f"{plan.deliver_by.isoformat()} instead of {promised.isoformat()}",
            )
        else:
            self.note("rerouted", f"Rerouted to {nodes}, still by {promised}")
        self.view.status = self.derived_status()

    def park(self, lines: list[OrderLine], cause: str, reason: str) -> None:
        """Units nobody can serve wait in the exception queue for a person."""
        self.stuck_lines = [*self.stuck_lines, *lines]
        self.stuck = f"cannot reroute after {cause}: {reason}"
        self.view.status = OrderStatus.EXCEPTION
        self.view.reason = self.stuck
        self.note("exception", f"Needs a person: {self.view.reason}")
        self.tell_customer("order_delayed", reason=self.view.reason)

    def given_up(self, lines: list[OrderLine], cause: str) -> bool:
        """Under a policy that does not reroute, units lost to `cause` will not come: the
        order goes on with what is left (True), or has nothing left to deliver (False)."""
        units = sum(line.qty for line in lines)
        self.note(
            "not_rerouted",
            f"{units} unit(s) lost to {cause} will not come: the policy does not reroute",
        )
        if not any(s.units for s in self.active_shipments()):
            return False
        self.tell_customer("partial_delivery", missing_units=units)
        return True

    # --- Incidents and warnings ----------------------------------------------------------

    def broken_by(self, incident: Incident, shipment_ids: list[str]) -> list[Shipment]:
        """The shipments an incident takes from their node or carrier, to be placed again.
        Those already picked or gone are no longer its concern; under a policy that does
        not reroute, they stay. A node that failed is avoided for the rest of the order; a
        carrier's outage does not make its node fail."""
        broken = []
        for shipment_id in shipment_ids:
            shipment = self.shipment(shipment_id)
            if shipment is None or shipment.status != ShipmentStatus.RELEASED:
                continue
            if not self.may_reroute:
                self.sla_waived.add(shipment.shipment_id)
                self.note(
                    "kept",
                    f"{incident.words}: {shipment.shipment_id} stays at "
                    f"{shipment.node_id}, the policy does not reroute",
                )
                continue
            if incident.type != "carrier_outage":
                self.avoid.add(shipment.node_id)
            broken.append(shipment)
        return broken

    def lost_in_count(
        self, shipment: Shipment, lost_by_line: dict[str, int], words: str
    ) -> list[OrderLine]:
        """A count found fewer units than the shipment held: those units leave it."""
        self.avoid.add(shipment.node_id)
        moved = []
        for line in shipment.lines:
            lost = min(line.qty, lost_by_line.get(line.line_id, 0))
            if lost:
                line.qty -= lost
                line.short_qty += lost
                moved.append(OrderLine(line_id=line.line_id, sku=line.sku, qty=lost))
        self.note(
            "stock_lost",
            f"{words}: {shipment.shipment_id} lost "
            f"{sum(lost_by_line.values())} unit(s) held at {shipment.node_id}",
        )
        return moved

    @staticmethod
    def emptied(shipment: Shipment) -> bool:
        """A shipment left with no units is cancelled (True): its booking and slot go back."""
        if shipment.units:
            return False
        shipment.status = ShipmentStatus.CANCELLED
        return True

    def incident_result(
        self, moved: bool, promised_before: date | None
    ) -> tuple[IncidentResult, str]:
        """What became of the order, for the incident's report."""
        if not moved and not self.may_reroute:
            return "kept", "the policy does not reroute"
        if not moved:
            return "unaffected", "nothing left to move"
        if self.stuck is not None:
            return "exception", self.stuck
        if self.view.promised_by != promised_before:
            return "repromised", f"new date {self.view.promised_by}"
        nodes = sorted({s.node_id for s in self.awaiting_pick()})
        return "rerouted", f"to {', '.join(nodes)}, still by {promised_before}"

    def late_handover_words(self, shipment: Shipment, chance: float) -> str:
        return (
            f"{shipment.node_id} will likely not hand {shipment.shipment_id} over in time "
            f"({chance:.0%} chance left, by what it has shown)"
        )

    # --- Field events ------------------------------------------------------------------

    def not_its_shipment(
        self, signal: NodeEventSignal | CarrierEventSignal, shipment: Shipment | None
    ) -> bool:
        """An event about a shipment the sender does not have is noted and changes nothing."""
        event = signal.event
        if isinstance(signal, NodeEventSignal):
            if shipment is not None and shipment.node_id == signal.node_id:
                return False
            words = f"from {signal.node_id} ignored: no shipment {event.shipment_id} there"
        else:
            if shipment is not None and shipment.carrier_id == signal.carrier_id:
                return False
            words = f"from {signal.carrier_id} ignored: no shipment {event.shipment_id} with it"
        self.note("event_ignored", f"{event.type} {words}")
        return True

    def doubted_time(self, signal: CarrierEventSignal, now: datetime) -> str | None:
        """Why a carrier event's `at` cannot be when it happened, judged against when this
        order was placed and `now`; None if it can."""
        return carrier_time_refusal(signal.event.at, self.view.placed_at, now)

    def time_ignored(self, signal: CarrierEventSignal, why: str) -> None:
        """A carrier event stamped outside what can have happened is noted and changes
        nothing: OTIF is judged on `at`, so believing it would move the order's verdict."""
        event = signal.event
        self.note(
            "event_ignored",
            f"{event.type} from {signal.carrier_id} for {event.shipment_id} ignored: {why}",
        )

    def done_with(self, event_type: str, shipment: Shipment, by_carrier: bool = False) -> bool:
        """A node's event for a shipment that has left it (or was taken back), or a
        carrier's for one it delivered, is noted and changes nothing."""
        done = {ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED}
        if not by_carrier:
            done |= LEFT_NODE
        if shipment.status not in done:
            return False
        self.note(
            "event_ignored",
            f"{event_type} for {shipment.shipment_id} ignored: it is "
            f"already {shipment.status.value}",
        )
        return True

    def picked(self, shipment: Shipment, qty: dict[str, int]) -> None:
        for line in shipment.lines:
            line.picked_qty = min(line.qty, qty.get(line.line_id, line.qty))
        shipment.status = ShipmentStatus.PICKED
        picked = sum(line.picked_qty for line in shipment.lines)
        self.note("picked", f"{shipment.node_id} picked {picked} units of {shipment.shipment_id}")

    def short_lines(self, shipment: Shipment, missing: dict[str, int]) -> list[ShipmentLine]:
        """The shipment's lines a short pick takes units from."""
        return [line for line in shipment.lines if line.line_id in missing and line.qty]

    def short_picked(
        self, shipment: Shipment, line: ShipmentLine, short: int, written_off: int
    ) -> OrderLine:
        line.qty -= short
        line.short_qty += short
        self.note(
            "short_picked",
            f"{shipment.node_id} could not find {short} x {line.sku} "
            f"(line {line.line_id}); {written_off} units written off its stock",
        )
        return OrderLine(line_id=line.line_id, sku=line.sku, qty=short)

    def shipped(self, shipment: Shipment, signal: NodeEventSignal, committed_units: int) -> None:
        shipment.status = ShipmentStatus.SHIPPED
        shipment.shipped_at = signal.received_at
        shipment.tracking = signal.event.tracking or shipment.tracking
        self.note(
            "shipped",
            f"{shipment.node_id} shipped {shipment.shipment_id} "
            f"({committed_units} units left stock), tracking {shipment.tracking}",
        )
        self.tell_customer(
            "shipment_shipped", shipment_id=shipment.shipment_id, tracking=shipment.tracking
        )

    def left_after_all(self, event_type: str, shipment: Shipment) -> bool:
        """A shipment the OMS took back from its node that leaves it all the same: the node
        shipped it, or its carrier has it (the node heard of the take-back too late)."""
        leaving = event_type in ("shipped", "in_transit", "delivered")
        return leaving and shipment.status == ShipmentStatus.CANCELLED and not self.closed

    def shipped_after_all(
        self, shipment: Shipment, at: datetime, from_stock: int, short: int
    ) -> list[Shipment]:
        """The field wins: the shipment counts as shipped, its units leave the node's free
        stock (`short` of them it did not even have: a count is due). Units parked for a
        person come after all. Returns the shipments planned since for the same units
        that have not left: to be taken back, so the customer gets one parcel, not two."""
        shipment.status = ShipmentStatus.SHIPPED
        shipment.shipped_at = at
        words = f"{from_stock} unit(s) left its free stock"
        if short:
            words += f"; {short} more than it had: a count at {shipment.node_id} is due"
        self.note(
            "shipped_after_all",
            f"{shipment.node_id} shipped {shipment.shipment_id} after it was taken back: "
            f"the field wins, {words}",
        )
        coming = {line.line_id: line.qty for line in shipment.lines}
        self._unpark(coming)
        later = self.view.shipments[self.view.shipments.index(shipment) + 1 :]
        duplicates = []
        for other in later:
            lines = {line.line_id: line.qty for line in other.lines if line.qty}
            if not lines or any(coming.get(line, 0) < qty for line, qty in lines.items()):
                continue
            for line, qty in lines.items():
                coming[line] -= qty
            if other.status in AT_NODE:
                duplicates.append(other)
            elif other.status != ShipmentStatus.CANCELLED:
                self.note(
                    "extra_parcel",
                    f"{other.shipment_id} left too: the customer gets "
                    f"the units of {shipment.shipment_id} twice",
                )
                self.tell_customer("extra_parcel", shipment_id=other.shipment_id)
        return duplicates

    def _unpark(self, coming: dict[str, int]) -> None:
        if not self.stuck_lines:
            return
        still = []
        for line in self.stuck_lines:
            arriving = min(line.qty, coming.get(line.line_id, 0))
            coming[line.line_id] = coming.get(line.line_id, 0) - arriving
            if line.qty > arriving:
                still.append(line.model_copy(update={"qty": line.qty - arriving}))
        self.stuck_lines = still
        if not still:
            self.stuck = None
            self.view.reason = None
            self.note("unparked", "The units waiting for a person are coming after all")

    @staticmethod
    def carrier_takes_it_unshipped(shipment: Shipment) -> bool:
        """The carrier has a parcel the node never said it shipped: it did."""
        return shipment.status not in LEFT_NODE

    @staticmethod
    def handed_to_carrier(shipment: Shipment, at: datetime) -> None:
        shipment.shipped_at = shipment.shipped_at or at

    def carrier_event(self, signal: CarrierEventSignal, shipment: Shipment) -> None:
        event = signal.event
        if event.type == "in_transit":
            shipment.status = ShipmentStatus.IN_TRANSIT
            self.note("in_transit", f"{signal.carrier_id} has {shipment.shipment_id} in transit")
        elif event.type == "delivered":
            shipment.status = ShipmentStatus.DELIVERED
            shipment.delivered_at = event.at
            self.note(
                "delivered",
                f"{signal.carrier_id} delivered {shipment.shipment_id} at "
                f"{event.at.isoformat(timespec='minutes')}",
            )
        else:
            shipment.status = ShipmentStatus.EXCEPTION
            self.view.reason = event.reason or "carrier exception"
            self.note(
                "carrier_exception",
                f"{signal.carrier_id} reports a problem with "
                f"{shipment.shipment_id}: {self.view.reason}",
            )
            self.tell_customer(
                "delivery_issue", shipment_id=shipment.shipment_id, reason=self.view.reason
            )

    # --- Support, cancellation, failure --------------------------------------------------

    def support_decided(self, action: str, note: str) -> list[OrderLine] | None:
        """Support's decision on the parked units: the lines to try again (`retry`), or
        None when the customer accepts what comes."""
        lines, self.stuck, self.stuck_lines = self.stuck_lines, None, []
        self.note(
            "support_decision",
            f"Support decided: {action.replace('_', ' ')}" + (f" ({note})" if note else ""),
        )
        if action == "retry":
            return lines
        units = sum(line.qty for line in lines)
        self.view.reason = f"partial delivery accepted: {units} unit(s) will not come"
        self.note("partial_accepted", self.view.reason.capitalize())
        self.tell_customer("partial_delivery", missing_units=units)
        return None

    def refuses_decision(self, action: str, deciding: bool) -> tuple[Refusal, str] | None:
        """Why support's decision is refused (`deciding`: another is being applied), or
        None when the order waits for it."""
        if self.stuck is None or deciding:
            return Refusal.NOT_IN_EXCEPTION_QUEUE, (
                f"order {self.view.order_id} is {self.view.status.value}, not waiting for a "
                "decision"
            )
        if action == "accept_partial" and not any(s.units for s in self.active_shipments()):
            return (
                Refusal.NOTHING_TO_DELIVER,
                "nothing would be delivered: cancel the order instead",
            )
        return None

    def too_late_to_cancel(self) -> str | None:
        """Why a cancellation is refused, or None if the order may still be cancelled."""
        if self.view.status == OrderStatus.CANCELLED:
            return None  # asking again returns the first answer
        if self.closed or self.any_shipped():
            return f"order {self.view.order_id} is {self.view.status.value}: too late to cancel"
        return None

    def cancel_requested(self, requested_by: str, reason: str) -> bool:
        """True if the order can still be cancelled (nothing has left a node)."""
        self.note("cancel_requested", f"Cancellation asked by {requested_by}: {reason}")
        if self.any_shipped():
            self.note("cancel_refused", "Cancellation refused: a shipment already left")
            return False
        return True

    def stock_released(self, units: int) -> None:
        if units:
            self.note("stock_released", f"Gave {units} units back to stock")

    def stop_picking(self, shipment: Shipment) -> None:
        """A cancelled order's shipment (its booking and slot went back): its node stops."""
        if shipment.status != ShipmentStatus.BOOKED:
            self.tell("node", shipment.node_id, "cancel_picking", shipment_id=shipment.shipment_id)
        shipment.status = ShipmentStatus.CANCELLED

    def cancelled(self, reason: str) -> None:
        self.view.status = OrderStatus.CANCELLED
        self.view.reason = reason
        self.note("cancelled", "Order cancelled")
        self.tell_customer("order_cancelled", reason=reason)

    def failed(self, reason: str) -> None:
        """The order cannot be served (its holds, bookings and slots went back)."""
        for shipment in self.view.shipments:
            shipment.status = ShipmentStatus.CANCELLED
        self.view.status = OrderStatus.FAILED
        self.view.reason = reason
        self.note("failed", f"Order failed: {reason}")
        self.tell_customer("order_failed", reason=reason)

    # --- Deadlines -----------------------------------------------------------------------

    def sla(self, shipment: Shipment) -> datetime:
        """A shipment's picking SLA: the end of its picking day, one day later in grace."""
        assert shipment.pick_by is not None
        return self.sla_grace.get(shipment.shipment_id, shipment.pick_by)

    def _watched(self) -> list[Shipment]:
        return [
            s
            for s in self.awaiting_pick()
            if s.pick_by is not None and s.shipment_id not in self.sla_waived
        ]

    def next_deadline(self) -> datetime | None:
        """The next picking SLA of a released shipment, or the end of the promise's day
        (nothing while a person decides)."""
        deadlines = [self.sla(s) for s in self._watched()]
        if not self.late_noted and self.view.promised_by is not None:
            deadlines.append(self.local_time.midnight_after(self.view.promised_by))
        if not deadlines or self.view.status == OrderStatus.EXCEPTION:
            return None
        return min(deadlines)

    def past_sla(self, now: datetime) -> list[Shipment]:
        return [s for s in self._watched() if self.sla(s) <= now]

    def sla_missed_kept(self, shipment: Shipment) -> None:
        """Under a policy that does not reroute, a late node keeps its work."""
        self.sla_waived.add(shipment.shipment_id)
        self.note(
            "sla_missed",
            f"{shipment.node_id} missed its picking SLA for "
            f"{shipment.shipment_id}; the policy leaves it there",
        )

    def may_have_grace(self, shipment: Shipment) -> bool:
        return shipment.shipment_id not in self.sla_grace

    def grace(self, shipment: Shipment) -> None:
        """No other node keeps the date: moving the shipment would only start the work
        over, so its node gets one more picking day."""
        assert shipment.pick_by is not None
        self.sla_grace[shipment.shipment_id] = shipment.pick_by + timedelta(days=1)
        self.note(
            "sla_missed",
            f"{shipment.node_id} missed its picking SLA for "
            f"{shipment.shipment_id}; no other node keeps {self.view.promised_by}: it "
            "gets one more picking day",
        )

    def promise_missed(self) -> None:
        self.late_noted = True
        assert self.view.promised_by is not None
        promised = self.view.promised_by.isoformat()
        self.note("promise_missed", f"Not delivered by the promised {promised}")
        self.tell_customer("order_late", promised_by=promised)

    def _delivery_words(self) -> str:
        delivery = self.order.delivery
        if delivery.method == "click_and_collect":
            words = f"click and collect at {delivery.store_id}"
        else:
            assert delivery.address is not None
            words = f"home delivery to {delivery.address.postal_code} {delivery.address.country}"
        if delivery.promised_by:
            words += f", promised by {delivery.promised_by.isoformat()}"
        return words
