"""The order workflow: one durable workflow per order, id `order-{order_id}`.

placed -> sourced -> reserved -> carrier booked -> released to node -> picked -> shipped
-> delivered, or cancelled, or failed. The workflow decides; activities do the I/O.
Field events arrive as signals and are applied one at a time, in arrival order, by the
main loop; cancellation is an update, so the caller learns at once if it was refused.
"""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.carriers import BookingRequest, CancelBookingInput, CarrierActivities
    from activities.inventory import (
        BookCapacityInput,
        CommitStockInput,
        InventoryActivities,
        ReleaseCapacityInput,
        ReleaseStockInput,
        ReserveStockInput,
        SourceOrderInput,
        WriteOffShortPickInput,
    )
    from activities.notifications import Notification, NotificationActivities, Recipient
    from activities.orders import OrderActivities, RecordOrderInput
    from domain.field_events import CarrierEventSignal, NodeEventSignal
    from domain.incidents import IncidentOutcome
    from domain.order import (
        CLOSED_STATUSES,
        OrderLine,
        OrderStatus,
        OrderView,
        PlaceOrder,
        Shipment,
        ShipmentLine,
        ShipmentStatus,
        TimelineEntry,
    )
    from domain.otif import judge_otif, local_day, promise_deadline
    from domain.sourcing import PlannedShipment, SourcingPlan
    from workflows import search_attributes as sa
    from workflows.field_watch import HandoverLateSignal
    from workflows.incident import IncidentSignal
    from workflows.order_messages import (
        CancelInput,
        CancelResult,
        OrderInput,
        OrderState,
        ResolveInput,
        ResolveResult,
    )

# Collection at a store's own counter: the store reports it like a carrier would.
IN_STORE_COLLECTION = "COLLECT"

# The ledger waits out a database outage; business refusals are final.
LEDGER = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=[
            "InsufficientStock",
            "Unsourceable",
            "UnknownStore",
            "NoCapacity",
        ],  # fmt: skip
    ),
)
# Carrier APIs fail in bursts during peaks: back off up to a few minutes.
CARRIER = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)
    ),
)
# At-least-once delivery: keep trying for two days, never blocking the order's progress.
NOTIFY = dict(
    start_to_close_timeout=timedelta(seconds=30),
    schedule_to_close_timeout=timedelta(days=2),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10)
    ),
)
# Notifications and read-model writes are short and frequent: they run as local
# activities, in the worker that runs the order, without a round trip through the server
# for each (a peak makes a dozen per order). Their keys make a rerun harmless.
LOCAL_WRITES = "local-writes"  # the patch that made them local
# Each Temporal task costs the server (a peak makes thousands an hour): since this patch an
# order books its carrier and its picking slot side by side, and keeps one timer per
# deadline instead of starting and cancelling one at every event it waits for.
FEWER_TASKS = "fewer-tasks"
# Since this patch a shipment that misses its picking SLA moves only if another node keeps
# the promised date; otherwise its node gets one more picking day (moving it would start
# the work over, later), and only then is it taken back as before.
SLA_GRACE = "sla-grace"
READ_MODEL = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
)

SHIPPED_OR_LATER = {
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.DELIVERED,
    ShipmentStatus.EXCEPTION,
}


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderInput) -> None:
        order = input.order
        self._input = input
        self._view = OrderView(
            order_id=order.order_id,
            status=OrderStatus.PLACED,
            customer=order.customer,
            channel=order.channel,
            delivery=order.delivery,
            promised_by=order.delivery.promised_by,
            lines=order.lines,
            placed_at=input.placed_at,
            updated_at=input.placed_at,
        )
        self._timeline: list[TimelineEntry] = []
        self._revision = 0
        self._inbox: list[
            NodeEventSignal | CarrierEventSignal | IncidentSignal | HandoverLateSignal
        ] = []
        self._seen_events: set[str] = set()
        self._cancel: CancelInput | None = None
        self._cancel_result: CancelResult | None = None
        self._background: list[asyncio.Future[Any]] = []
        self._notices = 0
        self._late_noted = False
        self._round = 0  # sourcing rounds so far: each holds stock under its own ids
        self._shipments_made = 0
        self._avoid: set[str] = set()  # nodes that failed this order (short pick, SLA)
        self._stuck: str | None = None  # why the order waits in the exception queue
        self._stuck_lines: list[OrderLine] = []  # the units it could not place
        self._resolution: ResolveInput | None = None
        self._may_reroute = True  # the sourcing policy lets work move off a failing node
        self._sla_waived: set[str] = set()  # shipments left late at their node, by policy
        self._sla_grace: dict[str, datetime] = {}  # shipment -> its SLA, one day later
        self._alarm: asyncio.Future[None] | None = None  # rings at the next deadline
        self._alarm_at: datetime | None = None

    # --- Interface ---------------------------------------------------------------------

    @workflow.query
    def state(self) -> OrderState:
        return OrderState(
            view=self._view,
            timeline=self._timeline,
            revision=self._revision,
            fingerprint=self._input.fingerprint,
        )

    @workflow.signal
    def node_event(self, signal: NodeEventSignal) -> None:
        if signal.event.event_id not in self._seen_events:
            self._seen_events.add(signal.event.event_id)
            self._inbox.append(signal)

    @workflow.signal
    def carrier_event(self, signal: CarrierEventSignal) -> None:
        if signal.event.event_id not in self._seen_events:
            self._seen_events.add(signal.event.event_id)
            self._inbox.append(signal)

    @workflow.signal
    def incident(self, signal: IncidentSignal) -> None:
        key = f"incident:{signal.incident.incident_id}"
        if key not in self._seen_events:
            self._seen_events.add(key)
            self._inbox.append(signal)

    @workflow.signal
    def handover_late(self, signal: HandoverLateSignal) -> None:
        key = f"late:{signal.late.shipment_id}"
        if key not in self._seen_events:
            self._seen_events.add(key)
            self._inbox.append(signal)

    @workflow.update
    async def resolve(self, input: ResolveInput) -> ResolveResult:
        self._resolution = input
        await workflow.wait_condition(lambda: self._resolution is None)
        return ResolveResult(status=self._view.status, detail=self._view.reason or "resolved")

    @resolve.validator
    def _may_resolve(self, input: ResolveInput) -> None:
        if self._stuck is None or self._resolution is not None:
            raise ApplicationError(
                f"order {self._view.order_id} is {self._view.status.value}, not waiting for a "
                "decision", type="NotInExceptionQueue",
            )  # fmt: skip
        if input.action == "accept_partial" and not any(s.units for s in self._active_shipments()):
            raise ApplicationError(
                "nothing would be delivered: cancel the order instead", type="NothingToDeliver"
            )

    @workflow.update
    async def cancel(self, input: CancelInput) -> CancelResult:
        if self._cancel is None:
            self._cancel = input
        await workflow.wait_condition(lambda: self._cancel_result is not None)
        assert self._cancel_result is not None
        return self._cancel_result

    @cancel.validator
    def _may_cancel(self, input: CancelInput) -> None:
        if self._view.status == OrderStatus.CANCELLED:
            return  # asking again returns the first answer
        if self._view.status in CLOSED_STATUSES or self._any_shipped():
            raise ApplicationError(
                f"order {self._view.order_id} is {self._view.status.value}: too late to cancel",
                type="TooLateToCancel",
            )

    # --- Main flow ---------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderInput) -> OrderView:
        order = input.order
        self._note(
            "placed",
            f"Order placed on {order.channel}: {order.units} units in {len(order.lines)} "
            f"line(s), {self._delivery_words()}",
        )
        self._notify("customer", order.customer.id, "order_received", {"lines": len(order.lines)})
        self._save()

        plan = await self._source_and_reserve()
        if plan is not None and self._cancel is None:
            await self._release(plan)
        while self._view.status not in CLOSED_STATUSES:
            if not self._inbox and self._cancel is not None:
                await self._cancel_order()
                continue
            if self._resolution is not None:
                await self._resolve(self._resolution)
                self._resolution = None
                continue
            if not await self._wait_for_work():
                await self._deadline_passed()
                continue
            if self._inbox:
                await self._apply(self._inbox.pop(0))
        if self._cancel is not None and self._cancel_result is None:
            self._cancel_result = CancelResult(
                cancelled=False,
                status=self._view.status,
                detail=f"order is {self._view.status.value}: nothing left to cancel",
            )
        await self._finish_background()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    async def _source_and_reserve(self) -> SourcingPlan | None:
        """Plan the whole order and hold its stock. Stock that only incoming supply covers
        makes it a pre-order: it waits for the supply's date, then plans again."""
        waits = 0
        while True:
            outcome = await self._plan_and_hold(self._input.order.lines)
            if isinstance(outcome, SourcingPlan):
                return outcome
            reason, supply_on, _ = outcome
            if supply_on and waits < self._input.max_supply_waits and self._cancel is None:
                waits += 1
                await self._wait_for_supply(date.fromisoformat(supply_on), reason)
                if self._cancel is None:
                    continue
                return None
            await self._fail(reason)
            return None

    async def _plan_and_hold(
        self, lines: list[OrderLine], cause: str | None = None
    ) -> SourcingPlan | tuple[str, str | None, dict[str, int]]:
        """Plan `lines` on fresh stock figures (avoiding nodes that failed this order), then
        hold the stock; if another order took it in between, plan again. Returns the plan,
        or why there is none and when incoming supply would cover it."""
        order = self._input.order
        for _ in range(self._input.sourcing_rounds):
            self._round += 1
            try:
                plan = await self._plan(lines, self._avoid)
            except ActivityError as err:
                return _reason(err), _detail(err, "next_supply_on"), _detail(err, "missing") or {}
            self._may_reroute = plan.reroute
            words = ", ".join(
                f"{s.node_id} ({s.units} units, {s.distance_km:.0f} km)" for s in plan.shipments
            )
            self._note(
                "sourced",
                f"Sourced from {words} under policy {plan.policy} v{plan.policy_version}"
                + (f", because {cause}" if cause else ""),
                explanation=plan.explanation,
                score=plan.score.model_dump() if plan.score else None,
            )
            try:
                await workflow.execute_activity_method(
                    InventoryActivities.reserve_stock,
                    ReserveStockInput(order_id=order.order_id, round=self._round, plan=plan),
                    **LEDGER,
                )
            except ActivityError as err:
                if _failure_type(err) != "InsufficientStock":
                    return _reason(err), None, {}
                self._note("reservation_missed", f"{_reason(err)}; sourcing again")
                continue
            self._note("reserved", f"Reserved {sum(s.units for s in plan.shipments)} units")
            return plan
        return (
            f"stock kept selling out while reserving ({self._input.sourcing_rounds} attempts)",
            None,
            {},
        )

    async def _wait_for_supply(self, supply_on: date, why: str) -> None:
        self._note(
            "preorder_waiting",
            f"Pre-order: {why}; incoming supply covers it on {supply_on.isoformat()}, "
            "sourcing again then",
        )
        self._save()
        start = datetime.combine(supply_on, time(6), UTC)
        try:
            await workflow.wait_condition(
                lambda: self._cancel is not None,
                timeout=max(start - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            pass

    async def _release(self, plan: SourcingPlan) -> None:
        """First dispatch: the order gets its date (if it had none) and is confirmed."""
        if self._view.promised_by is None:
            self._view.promised_by = plan.deliver_by
            self._note("promised", f"Promised by {plan.deliver_by.isoformat()}")
        elif plan.deliver_by > self._view.promised_by:
            self._note(
                "at_risk",
                f"Best plan delivers {plan.deliver_by.isoformat()}, after the promised "
                f"{self._view.promised_by.isoformat()}",
            )
        if not await self._dispatch(plan, OrderStatus.RELEASED):
            return
        assert self._view.promised_by is not None
        # The read model has the released order already (the dispatch wrote it); this
        # note reaches it with the next change.
        self._notify(
            "customer",
            self._view.customer.id,
            "order_confirmed",
            {"promised_by": self._view.promised_by.isoformat()},
        )

    async def _dispatch(
        self, plan: SourcingPlan, status: OrderStatus | None = None, reroute: bool = False
    ) -> bool:
        """Turn a plan into shipments: book the carrier, take a picking slot, release each
        to its node (the order then takes `status`, if given; a `reroute` is counted).
        False if the order failed on the way."""
        order = self._input.order
        made = []
        for planned in plan.shipments:
            self._shipments_made += 1
            shipment = Shipment(
                shipment_id=f"{order.order_id}-S{self._shipments_made}",
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
            )
            self._view.shipments.append(shipment)
            made.append((shipment, planned))
        no_slot = await self._book(made)
        if no_slot is not None:
            await self._fail(no_slot)
            return False
        for shipment, _ in made:
            shipment.status = ShipmentStatus.RELEASED
            shipment.released_at = workflow.now()
        if status is not None:
            self._view.status = status
        if reroute:
            self._view.reroutes += len(made)
        # The read model maps shipment ids to orders for carrier events: write it before
        # any node is told of the shipment.
        await self._save(wait=True)
        for shipment, _ in made:
            self._notify(
                "node",
                shipment.node_id,
                "release_for_picking",
                {
                    "shipment_id": shipment.shipment_id,
                    "carrier_id": shipment.carrier_id,
                    "tracking": shipment.tracking,
                    "label_url": shipment.label_url,
                    "pick_by": shipment.pick_by.isoformat() if shipment.pick_by else None,
                    "lines": [
                        x.model_dump(include={"line_id", "sku", "qty"}) for x in shipment.lines
                    ],
                },
            )
            self._note("released", f"Released {shipment.shipment_id} to {shipment.node_id}")
        return True

    async def _book(self, made: list[tuple[Shipment, PlannedShipment]]) -> str | None:
        """Book each new shipment's carrier and picking slot; why not, if a node has no slot
        left. Since FEWER_TASKS all at once: one wait for the server instead of several."""
        if workflow.patched(FEWER_TASKS):
            results = await asyncio.gather(
                *(self._book_carrier(shipment, planned) for shipment, planned in made),
                *(self._book_slot(shipment, planned) for shipment, planned in made),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, ActivityError):
                    raise result
            failed = [r for r in results if isinstance(r, ActivityError)]
            return _reason(failed[0]) if failed else None
        for shipment, planned in made:
            await self._book_carrier(shipment, planned)
        for shipment, planned in made:
            try:
                await self._book_slot(shipment, planned)
            except ActivityError as err:
                return _reason(err)
        return None

    async def _book_carrier(self, shipment: Shipment, planned: PlannedShipment) -> None:
        if not (planned.carrier_id and planned.service_id):
            self._note(
                "collect_at_store",
                f"{shipment.shipment_id} is picked at {planned.node_id} for collection there",
            )
            return
        booking = await workflow.execute_activity_method(
            CarrierActivities.book_carrier,
            BookingRequest(
                shipment_id=shipment.shipment_id,
                carrier_id=planned.carrier_id,
                service_id=planned.service_id,
                node_id=planned.node_id,
                postal_code=_postal_code(self._input.order),
                units=planned.units,
            ),
            **CARRIER,
        )
        shipment.tracking = booking.tracking
        shipment.booking_ref = booking.booking_ref
        shipment.label_url = booking.label_url
        self._note(
            "booked",
            f"Booked {planned.carrier_id} {planned.service_id} for {shipment.shipment_id} "
            f"from {planned.node_id}, tracking {booking.tracking}, "
            f"expected {planned.deliver_by.isoformat()}",
        )

    async def _book_slot(self, shipment: Shipment, planned: PlannedShipment) -> None:
        pick_on = planned.pick_on or planned.ship_on
        slot = await workflow.execute_activity_method(
            InventoryActivities.book_capacity,
            BookCapacityInput(
                shipment_id=shipment.shipment_id, node_id=shipment.node_id, not_before=pick_on
            ),
            **LEDGER,
        )
        shipment.pick_by = slot.pick_by
        if slot.day > pick_on:
            self._note(
                "capacity_full",
                f"{shipment.node_id} is full on {pick_on}: "
                f"{shipment.shipment_id} is picked on {slot.day}",
            )

    async def _reroute(self, lines: list[OrderLine], cause: str) -> None:
        """Source `lines` again, away from the nodes that failed, and dispatch them: keep
        the promised date if any plan does, else take the best new date and tell the
        customer. Units nobody can serve wait in the exception queue for a person."""
        outcome = await self._plan_and_hold(lines, cause)
        parked: list[OrderLine] = []
        if not isinstance(outcome, SourcingPlan):
            reason, _, missing = outcome
            placeable = [
                line.model_copy(update={"qty": line.qty - missing.get(line.line_id, 0)})
                for line in lines
                if line.qty > missing.get(line.line_id, 0)
            ]
            parked = list(lines)
            if missing and placeable:
                # Part of it can go on: send that, and park only the units nobody has.
                outcome = await self._plan_and_hold(placeable, cause)
                if isinstance(outcome, SourcingPlan):
                    parked = [
                        line.model_copy(update={"qty": missing[line.line_id]})
                        for line in lines
                        if missing.get(line.line_id)
                    ]
            self._park(parked, cause, reason)
        if not isinstance(outcome, SourcingPlan):
            return
        plan = outcome
        if not await self._dispatch(plan, reroute=True):
            return
        promised = self._view.promised_by
        nodes = ", ".join(s.node_id for s in plan.shipments)
        if promised is not None and plan.deliver_by > promised:
            self._view.promised_by = plan.deliver_by
            self._note("repromised", f"Rerouted to {nodes}; new date {plan.deliver_by.isoformat()} "
                       f"instead of {promised.isoformat()}")  # fmt: skip
            self._notify("customer", self._view.customer.id, "new_delivery_date",
                         {"promised_by": plan.deliver_by.isoformat(),
                          "was": promised.isoformat(), "may_cancel": True})  # fmt: skip
        else:
            self._note("rerouted", f"Rerouted to {nodes}, still by {promised}")
        self._view.status = self._derived_status()

    def _park(self, lines: list[OrderLine], cause: str, reason: str) -> None:
        self._stuck_lines = [*self._stuck_lines, *lines]
        self._stuck = f"cannot reroute after {cause}: {reason}"
        self._view.status = OrderStatus.EXCEPTION
        self._view.reason = self._stuck
        self._note("exception", f"Needs a person: {self._view.reason}")
        self._notify("customer", self._view.customer.id, "order_delayed",
                     {"reason": self._view.reason})  # fmt: skip

    async def _apply_incident(self, signal: IncidentSignal) -> None:
        """An incident broke some of this order's shipments: move them, then tell the
        incident what became of the order."""
        incident = signal.incident
        promised = self._view.promised_by
        moved: list[OrderLine] = []
        for shipment_id in signal.shipment_ids:
            shipment = self._shipment(shipment_id)
            if shipment is None or shipment.status != ShipmentStatus.RELEASED:
                continue  # picked or gone already: the incident no longer concerns it
            if not self._may_reroute:
                self._sla_waived.add(shipment.shipment_id)
                self._note("kept", f"{incident.words}: {shipment.shipment_id} stays at "
                           f"{shipment.node_id}, the policy does not reroute")  # fmt: skip
                continue
            if incident.type != "carrier_outage":
                self._avoid.add(shipment.node_id)
            moved += await self._take_back(shipment, incident.words)
        for shipment_id, lines in signal.lost.items():
            shipment = self._shipment(shipment_id)
            if shipment is None:
                continue
            self._avoid.add(shipment.node_id)
            for line in shipment.lines:
                lost = min(line.qty, lines.get(line.line_id, 0))
                if lost:
                    line.qty -= lost
                    line.short_qty += lost
                    moved.append(OrderLine(line_id=line.line_id, sku=line.sku, qty=lost))
            self._note("stock_lost", f"{incident.words}: {shipment.shipment_id} lost "
                       f"{sum(lines.values())} unit(s) held at {shipment.node_id}")  # fmt: skip
            if shipment.units == 0:
                shipment.status = ShipmentStatus.CANCELLED
                await self._withdraw(shipment)
        if moved and not self._may_reroute:
            await self._give_up(moved, incident.words)
            moved = []
        if moved:
            await self._reroute(moved, incident.words)
        if not moved and not self._may_reroute:
            outcome, detail = "kept", "the policy does not reroute"
        elif not moved:
            outcome, detail = "unaffected", "nothing left to move"
        elif self._stuck is not None:
            outcome, detail = "exception", self._stuck
        elif self._view.promised_by != promised:
            outcome, detail = "repromised", f"new date {self._view.promised_by}"
        else:
            nodes = sorted({s.node_id for s in self._awaiting_pick()})
            outcome, detail = "rerouted", f"to {', '.join(nodes)}, still by {promised}"
        self._view.status = self._derived_status()
        if self._view.status == OrderStatus.DELIVERED:
            self._close_delivered()  # the units lost were the last ones not delivered
        self._save()
        await workflow.get_external_workflow_handle(signal.reply_to).signal(
            "outcome", IncidentOutcome(order_id=self._view.order_id, outcome=outcome, detail=detail)
        )

    async def _handover_late(self, signal: HandoverLateSignal) -> None:
        """A shipment will likely not leave its node when the plan counted on: move it now,
        before its picking SLA passes, if another node keeps the promised date; else leave
        it where it is (it may still make it) and say so."""
        shipment = self._shipment(signal.late.shipment_id)
        if shipment is None or shipment.status != ShipmentStatus.RELEASED:
            return  # picked or gone meanwhile
        why = (f"{shipment.node_id} will likely not hand {shipment.shipment_id} over in time "
               f"({signal.late.chance:.0%} chance left, by what it has shown)")  # fmt: skip
        if not self._may_reroute:
            self._note("at_risk", f"{why}; the policy does not reroute")
            self._save()
            return
        if not await self._kept_elsewhere(shipment):
            self._note("at_risk", f"{why}; no other node keeps {self._view.promised_by}: "
                       "it stays")  # fmt: skip
            self._save()
            return
        self._avoid.add(shipment.node_id)
        await self._reroute(await self._take_back(shipment, why), why)
        self._save()

    async def _kept_elsewhere(self, shipment: Shipment) -> bool:
        """Would another node deliver the shipment's units by the promised date? (A plan,
        holding nothing.)"""
        lines = [
            OrderLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in shipment.lines if x.qty
        ]
        try:
            elsewhere = await self._plan(lines, {*self._avoid, shipment.node_id})
        except ActivityError:
            return False
        promised = self._view.promised_by
        return promised is None or elsewhere.deliver_by <= promised

    async def _plan(self, lines: list[OrderLine], avoid: set[str]) -> SourcingPlan:
        """The best plan for `lines` on fresh figures, away from `avoid`, holding nothing
        (an ActivityError says why there is none)."""
        order = self._input.order
        sourced = await workflow.execute_activity_method(
            InventoryActivities.source_order,
            SourceOrderInput(
                order_id=order.order_id,
                lines=lines,
                delivery=order.delivery.model_copy(update={"promised_by": self._view.promised_by}),
                now=workflow.now(),
                exclude_nodes=sorted(avoid),
            ),
            **LEDGER,
        )
        return sourced.plan

    async def _resolve(self, decision: ResolveInput) -> None:
        lines, self._stuck, self._stuck_lines = self._stuck_lines, None, []
        self._note("support_decision", f"Support decided: {decision.action.replace('_', ' ')}"
                   + (f" ({decision.note})" if decision.note else ""))  # fmt: skip
        if decision.action == "retry":
            await self._reroute(lines, "support asked to try again")
        else:
            units = sum(line.qty for line in lines)
            self._view.reason = f"partial delivery accepted: {units} unit(s) will not come"
            self._note("partial_accepted", self._view.reason.capitalize())
            self._notify("customer", self._view.customer.id, "partial_delivery",
                         {"missing_units": units})  # fmt: skip
        self._view.status = self._derived_status()
        if self._view.status == OrderStatus.DELIVERED:
            self._close_delivered()
        self._save()

    async def _take_back(self, shipment: Shipment, cause: str) -> list[OrderLine]:
        """Pull a shipment back from its node before it is picked: its stock hold, carrier
        booking and picking slot go back, and the node is told to stop."""
        await workflow.execute_activity_method(
            InventoryActivities.release_stock,
            ReleaseStockInput(order_id=self._view.order_id, node_id=shipment.node_id),
            **LEDGER,
        )
        await self._withdraw(shipment)
        shipment.status = ShipmentStatus.CANCELLED
        self._notify("node", shipment.node_id, "cancel_picking",
                     {"shipment_id": shipment.shipment_id, "reason": cause})  # fmt: skip
        self._note("taken_back", f"Took {shipment.shipment_id} back from {shipment.node_id}: "
                   f"{cause}")  # fmt: skip
        return [OrderLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in shipment.lines if x.qty]

    # --- Field events ------------------------------------------------------------------

    async def _apply(
        self, signal: NodeEventSignal | CarrierEventSignal | IncidentSignal | HandoverLateSignal
    ) -> None:
        if isinstance(signal, IncidentSignal):
            await self._apply_incident(signal)
            return
        if isinstance(signal, HandoverLateSignal):
            await self._handover_late(signal)
            return
        shipment = self._shipment(signal.event.shipment_id)
        if isinstance(signal, NodeEventSignal):
            if shipment is None or shipment.node_id != signal.node_id:
                self._note(
                    "event_ignored",
                    f"{signal.event.type} from {signal.node_id} ignored: "
                    f"no shipment {signal.event.shipment_id} there",
                )
                return
            await self._apply_node_event(signal, shipment)
        else:
            if shipment is None or shipment.carrier_id != signal.carrier_id:
                self._note(
                    "event_ignored",
                    f"{signal.event.type} from {signal.carrier_id} ignored: "
                    f"no shipment {signal.event.shipment_id} with it",
                )
                return
            await self._apply_carrier_event(signal, shipment)
        self._view.status = self._derived_status()
        if self._view.status == OrderStatus.DELIVERED:
            self._close_delivered()
        self._save()

    async def _apply_node_event(self, signal: NodeEventSignal, shipment: Shipment) -> None:
        event = signal.event
        if shipment.status in SHIPPED_OR_LATER or shipment.status == ShipmentStatus.CANCELLED:
            self._note(
                "event_ignored",
                f"{event.type} for {shipment.shipment_id} ignored: "
                f"it is already {shipment.status.value}",
            )
            return
        qty = {line.line_id: line.qty for line in event.lines}
        if event.type == "picked":
            for line in shipment.lines:
                line.picked_qty = min(line.qty, qty.get(line.line_id, line.qty))
            shipment.status = ShipmentStatus.PICKED
            picked = sum(line.picked_qty for line in shipment.lines)
            self._note(
                "picked", f"{shipment.node_id} picked {picked} units of {shipment.shipment_id}"
            )
        elif event.type == "short_picked":
            await self._short_pick(event.event_id, shipment, qty)
        else:  # shipped
            committed = await workflow.execute_activity_method(
                InventoryActivities.commit_stock,
                CommitStockInput(order_id=self._view.order_id, node_id=shipment.node_id),
                **LEDGER,
            )
            shipment.status = ShipmentStatus.SHIPPED
            shipment.shipped_at = signal.received_at
            shipment.tracking = event.tracking or shipment.tracking
            self._note(
                "shipped",
                f"{shipment.node_id} shipped {shipment.shipment_id} ({committed.units} units left "
                f"stock), tracking {shipment.tracking}",
            )
            self._notify(
                "customer",
                self._view.customer.id,
                "shipment_shipped",
                {"shipment_id": shipment.shipment_id, "tracking": shipment.tracking},
            )

    async def _short_pick(self, event_id: str, shipment: Shipment, missing: dict[str, int]) -> None:
        """Units not found at picking leave the ledger, so no one else is promised them;
        the missing units are sourced again elsewhere."""
        lost: list[OrderLine] = []
        for line in shipment.lines:
            if line.line_id not in missing or line.qty == 0:
                continue
            written = await workflow.execute_activity_method(
                InventoryActivities.write_off_short_pick,
                WriteOffShortPickInput(
                    order_id=self._view.order_id,
                    node_id=shipment.node_id,
                    line_id=line.line_id,
                    missing=min(line.qty, missing[line.line_id]),
                    event_id=event_id,
                ),
                **LEDGER,
            )
            short = min(line.qty, missing[line.line_id])
            line.qty -= short
            line.short_qty += short
            lost.append(OrderLine(line_id=line.line_id, sku=line.sku, qty=short))
            self._note(
                "short_picked",
                f"{shipment.node_id} could not find {short} x {line.sku} (line {line.line_id}); "
                f"{written.units} units written off its stock",
            )
        if shipment.units == 0:
            shipment.status = ShipmentStatus.CANCELLED
            await self._withdraw(shipment)
        if lost and not self._may_reroute:
            await self._give_up(lost, f"a short pick at {shipment.node_id}")
        elif lost:
            self._avoid.add(shipment.node_id)
            await self._reroute(lost, f"a short pick at {shipment.node_id}")

    async def _give_up(self, lines: list[OrderLine], cause: str) -> None:
        """Under a policy that does not reroute, units lost to `cause` will not come: the
        order goes on with what is left, or fails if nothing is."""
        units = sum(line.qty for line in lines)
        self._note("not_rerouted", f"{units} unit(s) lost to {cause} will not come: the "
                   "policy does not reroute")  # fmt: skip
        if not any(s.units for s in self._active_shipments()):
            await self._fail(f"nothing left to deliver after {cause}")
            return
        self._notify("customer", self._view.customer.id, "partial_delivery",
                     {"missing_units": units})  # fmt: skip

    async def _apply_carrier_event(self, signal: CarrierEventSignal, shipment: Shipment) -> None:
        event = signal.event
        if shipment.status in (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED):
            self._note(
                "event_ignored",
                f"{event.type} for {shipment.shipment_id} ignored: "
                f"it is already {shipment.status.value}",
            )
            return
        if shipment.status not in SHIPPED_OR_LATER:
            # The carrier has the parcel, so the node shipped it even if it never said so.
            await workflow.execute_activity_method(
                InventoryActivities.commit_stock,
                CommitStockInput(order_id=self._view.order_id, node_id=shipment.node_id),
                **LEDGER,
            )
            shipment.shipped_at = shipment.shipped_at or event.at
        when = event.at.isoformat(timespec="minutes")
        if event.type == "in_transit":
            shipment.status = ShipmentStatus.IN_TRANSIT
            self._note("in_transit", f"{signal.carrier_id} has {shipment.shipment_id} in transit")
        elif event.type == "delivered":
            shipment.status = ShipmentStatus.DELIVERED
            shipment.delivered_at = event.at
            self._note(
                "delivered", f"{signal.carrier_id} delivered {shipment.shipment_id} at {when}"
            )
        else:
            shipment.status = ShipmentStatus.EXCEPTION
            self._view.reason = event.reason or "carrier exception"
            self._note(
                "carrier_exception",
                f"{signal.carrier_id} reports a problem with {shipment.shipment_id}: "
                f"{self._view.reason}",
            )
            self._notify(
                "customer",
                self._view.customer.id,
                "delivery_issue",
                {"shipment_id": shipment.shipment_id, "reason": self._view.reason},
            )

    def _close_delivered(self) -> None:
        deliveries = [
            (local_day(s.delivered_at, self._input.timezone), s.units)
            for s in self._active_shipments()
            if s.delivered_at is not None
        ]
        otif = judge_otif(self._view.promised_by, self._input.order.units, deliveries)
        self._view.otif = otif
        self._view.reason = None
        words = "on time" if otif.on_time else "late"
        words += (
            ", in full" if otif.in_full else f", {otif.delivered_units}/{otif.ordered_units} units"
        )
        self._note("order_delivered", f"Order delivered {words}", otif=otif.model_dump(mode="json"))
        self._notify(
            "customer", self._view.customer.id, "order_delivered", {"on_time": otif.on_time}
        )

    # --- Cancellation and failure ------------------------------------------------------

    async def _cancel_order(self) -> None:
        assert self._cancel is not None
        self._note(
            "cancel_requested",
            f"Cancellation asked by {self._cancel.requested_by}: {self._cancel.reason}",
        )
        if self._any_shipped():
            self._cancel_result = CancelResult(
                cancelled=False, status=self._view.status, detail="already shipped"
            )
            self._note("cancel_refused", "Cancellation refused: a shipment already left")
            # Answered: the request is done (else the main loop would take it up forever).
            self._cancel = None
            return
        released = await workflow.execute_activity_method(
            InventoryActivities.release_stock,
            ReleaseStockInput(order_id=self._view.order_id),
            **LEDGER,
        )
        if released.units:
            self._note("stock_released", f"Gave {released.units} units back to stock")
        for shipment in self._view.shipments:
            await self._withdraw(shipment)
            if shipment.status != ShipmentStatus.BOOKED:
                self._notify(
                    "node",
                    shipment.node_id,
                    "cancel_picking",
                    {"shipment_id": shipment.shipment_id},
                )
            shipment.status = ShipmentStatus.CANCELLED
        self._view.status = OrderStatus.CANCELLED
        self._view.reason = self._cancel.reason
        self._note("cancelled", "Order cancelled")
        self._notify(
            "customer", self._view.customer.id, "order_cancelled", {"reason": self._cancel.reason}
        )
        self._cancel_result = CancelResult(
            cancelled=True, status=OrderStatus.CANCELLED, detail="cancelled"
        )
        self._save()

    async def _withdraw(self, shipment: Shipment) -> None:
        """The shipment will not leave: its carrier booking and picking slot go back."""
        await self._cancel_booking(shipment)
        await workflow.execute_activity_method(
            InventoryActivities.release_capacity,
            ReleaseCapacityInput(shipment_id=shipment.shipment_id),
            **LEDGER,
        )

    async def _cancel_booking(self, shipment: Shipment) -> None:
        if shipment.booking_ref is None or shipment.carrier_id is None:
            return
        await workflow.execute_activity_method(
            CarrierActivities.cancel_booking,
            CancelBookingInput(shipment_id=shipment.shipment_id, carrier_id=shipment.carrier_id),
            **CARRIER,
        )
        self._note(
            "booking_cancelled",
            f"Cancelled {shipment.carrier_id} booking "
            f"{shipment.booking_ref} of {shipment.shipment_id}",
        )
        self._notify(
            "carrier",
            shipment.carrier_id,
            "booking_cancelled",
            {"shipment_id": shipment.shipment_id, "booking_ref": shipment.booking_ref},
        )
        shipment.booking_ref = None

    async def _fail(self, reason: str) -> None:
        """The order cannot be served: give back anything held and tell the customer."""
        await workflow.execute_activity_method(
            InventoryActivities.release_stock,
            ReleaseStockInput(order_id=self._view.order_id),
            **LEDGER,
        )
        for shipment in self._view.shipments:
            await self._withdraw(shipment)
            shipment.status = ShipmentStatus.CANCELLED
        self._view.status = OrderStatus.FAILED
        self._view.reason = reason
        self._note("failed", f"Order failed: {reason}")
        self._notify("customer", self._view.customer.id, "order_failed", {"reason": reason})
        self._save()

    # --- Promise watch -----------------------------------------------------------------

    async def _wait_for_work(self) -> bool:
        """Wait for a field event, a cancellation or a support decision: True; False when
        the next deadline comes first."""

        def work() -> bool:
            return bool(self._inbox) or self._cancel is not None or self._resolution is not None

        deadline = self._next_deadline()
        if not workflow.patched(FEWER_TASKS):
            timeout = None if deadline is None else _until(deadline)
            try:
                await workflow.wait_condition(work, timeout=timeout)
            except TimeoutError:
                return False
            return True
        if deadline != self._alarm_at:  # the one timer serves until its deadline changes
            if self._alarm is not None:
                self._alarm.cancel()
            self._alarm_at = deadline
            self._alarm = None
            if deadline is not None:
                self._alarm = asyncio.ensure_future(workflow.sleep(_until(deadline)))
        alarm = self._alarm
        await workflow.wait_condition(lambda: work() or (alarm is not None and alarm.done()))
        if work():
            return True
        self._alarm = self._alarm_at = None  # it rang
        return False

    def _next_deadline(self) -> datetime | None:
        """The next picking SLA of a released shipment, or the end of the promise's day."""
        deadlines = [
            self._sla(s)
            for s in self._awaiting_pick()
            if s.pick_by is not None and s.shipment_id not in self._sla_waived
        ]
        if not self._late_noted and self._view.promised_by is not None:
            deadlines.append(promise_deadline(self._view.promised_by, self._input.timezone))
        if not deadlines or self._view.status == OrderStatus.EXCEPTION:
            return None
        return min(deadlines)

    async def _deadline_passed(self) -> None:
        now = workflow.now()
        late = [
            s
            for s in self._awaiting_pick()
            if s.pick_by is not None
            and self._sla(s) <= now
            and s.shipment_id not in self._sla_waived
        ]
        if late and not self._may_reroute:
            for shipment in late:
                self._sla_waived.add(shipment.shipment_id)
                self._note("sla_missed", f"{shipment.node_id} missed its picking SLA for "
                           f"{shipment.shipment_id}; the policy leaves it there")  # fmt: skip
            self._save()
            return
        for shipment in late:
            if await self._grace(shipment):
                continue
            self._avoid.add(shipment.node_id)
            lines = await self._take_back(shipment, "not picked within its SLA")
            await self._reroute(lines, f"{shipment.node_id} missed its picking SLA")
        if late:
            self._save()
            return
        self._promise_missed()

    def _sla(self, shipment: Shipment) -> datetime:
        assert shipment.pick_by is not None
        return self._sla_grace.get(shipment.shipment_id, shipment.pick_by)

    async def _grace(self, shipment: Shipment) -> bool:
        """A shipment past its picking SLA stays at its node one more picking day when no
        other node keeps the promised date (moving it would only start the work over);
        True if it stays."""
        if shipment.shipment_id in self._sla_grace or not workflow.patched(SLA_GRACE):
            return False
        if await self._kept_elsewhere(shipment):
            return False
        promised = self._view.promised_by
        assert shipment.pick_by is not None
        self._sla_grace[shipment.shipment_id] = shipment.pick_by + timedelta(days=1)
        self._note("sla_missed", f"{shipment.node_id} missed its picking SLA for "
                   f"{shipment.shipment_id}; no other node keeps {promised}: it gets one "
                   "more picking day")  # fmt: skip
        return True

    def _awaiting_pick(self) -> list[Shipment]:
        return [s for s in self._view.shipments if s.status == ShipmentStatus.RELEASED]

    def _promise_missed(self) -> None:
        self._late_noted = True
        assert self._view.promised_by is not None
        self._note(
            "promise_missed", f"Not delivered by the promised {self._view.promised_by.isoformat()}"
        )
        self._notify(
            "customer",
            self._view.customer.id,
            "order_late",
            {"promised_by": self._view.promised_by.isoformat()},
        )
        self._save()

    # --- Bookkeeping -------------------------------------------------------------------

    def _note(self, type: str, summary: str, **details: Any) -> None:
        now = workflow.now()
        self._view.updated_at = now
        self._timeline.append(TimelineEntry(at=now, type=type, summary=summary, details=details))

    def _notify(
        self, recipient: Recipient, recipient_id: str, topic: str, payload: dict[str, Any]
    ) -> None:
        self._notices += 1
        key = f"{self._view.order_id}:n{self._notices}:{topic}"
        self._note(
            "notified",
            f"Told {recipient} {recipient_id}: {topic.replace('_', ' ')}",
            key=key,
        )
        self._background.append(
            _start_write(
                NotificationActivities.notify,
                Notification(
                    key=key,
                    order_id=self._view.order_id,
                    recipient=recipient,
                    recipient_id=recipient_id,
                    topic=topic,
                    payload={"order_id": self._view.order_id, **payload},
                ),
                **NOTIFY,
            )
        )

    def _save(self, wait: bool = False) -> Any:
        """Publish the order's state: search attributes now, read model in the background
        (or, with `wait`, awaitable until it is written)."""
        self._revision += 1
        updates = [
            sa.ORDER_STATUS.value_set(self._view.status.value),
            sa.CUSTOMER_ID.value_set(self._view.customer.id),
            sa.ORDER_NODES.value_set(sorted({s.node_id for s in self._view.shipments})),
        ]
        if self._view.promised_by is not None:
            updates.append(sa.PROMISED_BY.value_set(_midnight(self._view.promised_by)))
        workflow.upsert_search_attributes(updates)
        write = _start_write(
            OrderActivities.record_order,
            RecordOrderInput(view=self._view, timeline=self._timeline, revision=self._revision),
            **READ_MODEL,
        )
        self._background.append(write)
        return write if wait else None

    async def _finish_background(self) -> None:
        results = await asyncio.gather(*self._background, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                workflow.logger.warning("background activity gave up: %s", result)

    def _shipment(self, shipment_id: str) -> Shipment | None:
        return next((s for s in self._view.shipments if s.shipment_id == shipment_id), None)

    def _active_shipments(self) -> list[Shipment]:
        return [s for s in self._view.shipments if s.status != ShipmentStatus.CANCELLED]

    def _any_shipped(self) -> bool:
        return any(s.status in SHIPPED_OR_LATER for s in self._view.shipments)

    def _derived_status(self) -> OrderStatus:
        """The order's status follows from its shipments' (exception wins until cleared)."""
        if self._view.status in CLOSED_STATUSES:
            return self._view.status
        if self._stuck is not None:
            return OrderStatus.EXCEPTION
        active = [s.status for s in self._active_shipments()]
        if not active:
            return OrderStatus.EXCEPTION
        if ShipmentStatus.EXCEPTION in active:
            return OrderStatus.EXCEPTION
        if all(s == ShipmentStatus.DELIVERED for s in active):
            return OrderStatus.DELIVERED
        if all(s in SHIPPED_OR_LATER for s in active):
            return OrderStatus.SHIPPED
        if all(s in SHIPPED_OR_LATER or s == ShipmentStatus.PICKED for s in active):
            return OrderStatus.PICKED
        return OrderStatus.RELEASED

    def _delivery_words(self) -> str:
        delivery = self._input.order.delivery
        if delivery.method == "click_and_collect":
            words = f"click and collect at {delivery.store_id}"
        else:
            assert delivery.address is not None
            words = f"home delivery to {delivery.address.postal_code} {delivery.address.country}"
        if delivery.promised_by:
            words += f", promised by {delivery.promised_by.isoformat()}"
        return words


def _start_write(activity: Any, arg: Any, **options: Any) -> Any:
    """Notifications and read-model writes run as local activities; orders started before
    that change (no marker in their history) replay them as the activities they were."""
    if workflow.patched(LOCAL_WRITES):
        return workflow.start_local_activity_method(activity, arg, **options)
    return workflow.start_activity_method(activity, arg, **options)


def _until(deadline: datetime) -> timedelta:
    return max(deadline - workflow.now(), timedelta(seconds=1))


def _failure_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def _reason(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


def _detail(err: ActivityError, key: str) -> Any:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
        return cause.details[0].get(key)
    return None


def _postal_code(order: PlaceOrder) -> str | None:
    address = order.delivery.address
    return address.postal_code if address else None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)
