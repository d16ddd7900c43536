"""The order workflow: one durable workflow per order, id `order-{order_id}`.

placed -> sourced -> reserved -> carrier booked -> released to node -> picked -> shipped
-> delivered, or cancelled, or failed. The rules (what each step does to the order, what
its timeline says, who is told) are in domain/order_lifecycle.py; the workflow runs them:
activities do the I/O, one timer keeps the next deadline. Field events arrive as signals,
applied one at a time in arrival order; cancel and resolve are updates, answered at once.
"""

import asyncio
from datetime import UTC, date, datetime, time, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import ShipUnheldInput, WriteOffShortPickInput
    from activities.preorders import PreorderNewsInput
    from domain.errors import Refusal
    from domain.field_events import CarrierEventSignal, NodeEventSignal
    from domain.incidents import IncidentOutcome
    from domain.local_time import LocalTime
    from domain.order import OrderLine, OrderStatus, OrderView, Shipment, ShipmentStatus
    from domain.order_lifecycle import OrderLifecycle
    from domain.sourcing import SourcingPlan
    from workflows import order_calls as call
    from workflows.alarm import Alarm
    from workflows.contracts import (
        INCIDENT_OUTCOME,
        ORDER_STATE,
        ORDER_WORKFLOW,
        OrderSignal,
        OrderUpdate,
    )
    from workflows.order_holds import OrderHolds
    from workflows.order_messages import (
        CancelInput,
        CancelResult,
        HandoverLateSignal,
        IncidentSignal,
        OrderEvent,
        OrderInput,
        OrderState,
        ResolveInput,
        ResolveResult,
        SupplyNewsSignal,
    )
    from workflows.order_publishing import OrderPublisher
    from workflows.order_sourcing import OrderSourcing, Unplaced
    from workflows.patches import CARRIER_TIME, FEWER_TASKS, FIELD_WINS, PREORDER_HOLDS, SLA_GRACE


@workflow.defn(name=ORDER_WORKFLOW)
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderInput) -> None:
        self._input = input
        self._publisher = OrderPublisher()
        self._order = OrderLifecycle(
            input.order,
            input.placed_at,
            input.local_time or LocalTime.of(input.timezone, input.placed_at),
            clock=workflow.now,
            send=lambda notice: self._publisher.send(notice, input.order.order_id),
        )
        self._sourcing = OrderSourcing(self._order, input.sourcing_rounds)
        self._holds = OrderHolds(self._order, input.order.delivery.postal_code)
        self._inbox: list[OrderEvent] = []
        self._seen_events: set[str] = set()
        self._cancel: CancelInput | None = None
        self._cancel_result: CancelResult | None = None
        self._resolution: ResolveInput | None = None
        self._alarm = Alarm()  # rings at the next deadline
        self._supply_signals = 0  # news of the supply lines a pre-order holds

    # --- Interface ---------------------------------------------------------------------

    @workflow.query(name=ORDER_STATE)
    def state(self) -> OrderState:
        return OrderState(
            view=self._order.view,
            timeline=self._order.timeline,
            revision=self._publisher.revision,
            fingerprint=self._input.fingerprint,
        )

    @workflow.signal(name=OrderSignal.NODE_EVENT)
    def node_event(self, signal: NodeEventSignal) -> None:
        self._receive(signal.event.event_id, signal)

    @workflow.signal(name=OrderSignal.CARRIER_EVENT)
    def carrier_event(self, signal: CarrierEventSignal) -> None:
        self._receive(signal.event.event_id, signal)

    @workflow.signal(name=OrderSignal.INCIDENT)
    def incident(self, signal: IncidentSignal) -> None:
        self._receive(f"incident:{signal.incident.incident_id}", signal)

    @workflow.signal(name=OrderSignal.SUPPLY_NEWS)
    def supply_news(self, signal: SupplyNewsSignal) -> None:
        """A supply line this pre-order holds changed: its main flow reads the ledger."""
        self._supply_signals += 1

    @workflow.signal(name=OrderSignal.HANDOVER_LATE)
    def handover_late(self, signal: HandoverLateSignal) -> None:
        self._receive(f"late:{signal.late.shipment_id}", signal)

    def _receive(self, key: str, signal: OrderEvent) -> None:
        """Each event is applied once, in arrival order, by the main loop."""
        if key not in self._seen_events:
            self._seen_events.add(key)
            self._inbox.append(signal)

    @workflow.update(name=OrderUpdate.RESOLVE)
    async def resolve(self, input: ResolveInput) -> ResolveResult:
        self._resolution = input
        await workflow.wait_condition(lambda: self._resolution is None)
        view = self._order.view
        return ResolveResult(status=view.status, detail=view.reason or "resolved")

    @resolve.validator
    def _may_resolve(self, input: ResolveInput) -> None:
        refused = self._order.refuses_decision(input.action, self._resolution is not None)
        if refused is not None:
            raise ApplicationError(refused[1], type=refused[0])

    @workflow.update(name=OrderUpdate.CANCEL)
    async def cancel(self, input: CancelInput) -> CancelResult:
        if self._cancel is None:
            self._cancel = input
        await workflow.wait_condition(lambda: self._cancel_result is not None)
        assert self._cancel_result is not None
        return self._cancel_result

    @cancel.validator
    def _may_cancel(self, input: CancelInput) -> None:
        refused = self._order.too_late_to_cancel()
        if refused is not None:
            raise ApplicationError(refused, type=Refusal.TOO_LATE_TO_CANCEL)

    # --- Main flow ---------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderInput) -> OrderView:
        self._order.placed()
        self._publisher.save(self._order)
        try:
            plan = await self._source_and_reserve()
            if plan is not None and self._cancel is None:
                await self._release(plan)
            await self._follow()
        except asyncio.CancelledError:
            if not await self._cancelled_from_outside():
                await self._publisher.finish()
                raise  # cancelled, and what it held given back: the workflow ends cancelled
        view = self._order.view
        if self._cancel is not None and self._cancel_result is None:
            self._cancel_result = CancelResult(
                cancelled=False,
                status=view.status,
                detail=f"order is {view.status.value}: nothing left to cancel",
            )
        await self._publisher.finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return view

    async def _follow(self) -> None:
        """Until the order closes: cancellations, support's decisions, field events and
        deadlines, one at a time (an event leaves the inbox once applied)."""
        while not self._order.closed:
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
                await self._apply(self._inbox[0])
                self._inbox.pop(0)

    async def _cancelled_from_outside(self) -> bool:
        """Cancelled in Temporal itself (its Web UI, `temporal workflow cancel`): the same as
        a cancel through the API. Before shipping, the order is cancelled and what it held
        goes back (False: the workflow then ends cancelled); after, the cancellation is
        refused and the order goes on to its end (True)."""
        while True:
            self._cancel = CancelInput(
                reason="cancelled in the order engine", requested_by="an operator"
            )
            await self._cancel_order(stopped_mid_step=True)
            if self._order.closed:
                return False
            try:
                await self._follow()
                return True
            except asyncio.CancelledError:
                continue  # asked again

    async def _source_and_reserve(self) -> SourcingPlan | None:
        """Plan the whole order and hold its stock. Units only incoming supply covers make
        it a pre-order."""
        waits = 0
        while True:
            outcome = await self._sourcing.plan_and_hold(self._input.order.lines, preorder=True)
            if isinstance(outcome, SourcingPlan):
                return outcome
            if outcome.preorder and not self._cancel and workflow.patched(PREORDER_HOLDS):
                return await self._preorder(outcome.missing)
            # Orders placed before PREORDER_HOLDS slept until the supply's day.
            if outcome.supply_on and waits < self._input.max_supply_waits and not self._cancel:
                waits += 1
                await self._wait_for_supply(date.fromisoformat(outcome.supply_on), outcome.reason)
                if self._cancel is None:
                    continue
                return None
            await self._fail(outcome.reason)
            return None

    async def _preorder(self, missing: dict[str, int]) -> SourcingPlan | None:
        """Hold what the pre-order waits for (on hand in stock, the rest on supply lines)
        and go on with the supply's news: ship once every unit has arrived, hold elsewhere
        what will not come, or leave the order to a person."""
        lines = self._input.order.lines
        heard = self._supply_signals  # news from now on: a receipt may beat the hold's answer
        held = await self._sourcing.hold_preorder(lines, missing)
        if isinstance(held, Unplaced):
            await self._fail(held.reason)
            return None
        self._order.preorder_held(held)
        self._publisher.save(self._order)
        due = max([s.eta for s in held.supply], default=workflow.now().date())
        look_now = not held.supply  # all on hand by now: nothing to wait for
        while True:
            if not look_now:
                await self._wait_for_supply_news(due, heard)
            if self._cancel is not None:
                return None
            heard, look_now = self._supply_signals, False
            news = await call.preorder_news(
                PreorderNewsInput(
                    order_id=self._order.view.order_id,
                    delivery=self._order.order.delivery,
                    now=workflow.now(),
                )
            )
            dropped = self._order.supply_news(news)
            due = max((h.eta for h in news.holds if h.status == "held"), default=due)
            if dropped is None:  # every unit is here
                return await self._ship_preorder()
            if dropped:
                more = await self._sourcing.hold_preorder(dropped)
                if isinstance(more, Unplaced):
                    await self._park_preorder(more.reason)
                    return None
                self._order.preorder_held(more, replacing=True)
                due = max([due, *(s.eta for s in more.supply)])
                look_now = not more.supply  # all on hand now: nothing more to wait for
            self._publisher.save(self._order)

    async def _ship_preorder(self) -> SourcingPlan | None:
        plan = await self._sourcing.plan_held()
        if plan is not None:
            return plan
        # Not as one plan under the policy: the units go back and the order is sourced
        # afresh (they are stock now).
        await self._holds.release_stock()
        outcome = await self._sourcing.plan_and_hold(self._input.order.lines)
        if isinstance(outcome, SourcingPlan):
            return outcome
        await self._park_preorder(outcome.reason)
        return None

    async def _park_preorder(self, why: str) -> None:
        """Nothing serves the pre-order any more: what it held goes back and the whole
        order waits in the exception queue (support may try again or cancel)."""
        await self._holds.release_stock()
        self._order.park(self._input.order.lines, "supply that will not come", why)
        self._publisher.save(self._order)

    async def _wait_for_supply_news(self, due: date, heard: int) -> None:
        """Until the supply's news comes (a signal), a cancellation, or the day after the
        supply is due: then the ledger is read anyway (a receipt's news may have been
        lost; a late supply moves the date)."""
        look_again = datetime.combine(due + timedelta(days=1), time(6), UTC)
        try:
            await workflow.wait_condition(
                lambda: self._supply_signals > heard or self._cancel is not None,
                timeout=max(look_again - workflow.now(), timedelta(days=1)),
            )
        except TimeoutError:
            pass

    async def _wait_for_supply(self, supply_on: date, why: str) -> None:
        self._order.waiting_for_supply(supply_on, why)
        self._publisher.save(self._order)
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
        self._order.first_plan(plan)
        if await self._dispatch(plan, OrderStatus.RELEASED):
            # The read model has the released order already (the dispatch wrote it); this
            # note reaches it with the next change.
            self._order.confirmed()

    async def _dispatch(
        self, plan: SourcingPlan, status: OrderStatus | None = None, reroute: bool = False
    ) -> bool:
        """Turn a plan into shipments: book the carrier, take a picking slot, release each
        to its node (the order then takes `status`, if given; a `reroute` is counted).
        False if the order failed on the way."""
        made = self._order.new_shipments(plan, self._sourcing.held_round)
        no_slot = await self._holds.book(made)
        if no_slot is not None:
            await self._fail(no_slot)
            return False
        shipments = [shipment for shipment, _ in made]
        self._order.released(shipments, status, reroute)
        # The read model maps shipment ids to orders for carrier events: write it before
        # any node is told of the shipment.
        await self._publisher.save(self._order, wait=True)
        self._order.told_nodes(shipments)
        return True

    async def _reroute(self, lines: list[OrderLine], cause: str) -> None:
        """Source `lines` again, away from the nodes that failed, and dispatch them: keep
        the promised date if any plan does, else take the best new date and tell the
        customer. Units nobody can serve wait in the exception queue for a person."""
        outcome = await self._sourcing.plan_and_hold(lines, cause)
        if isinstance(outcome, Unplaced):
            why, missing = outcome.reason, outcome.missing
            parked = list(lines)
            placeable = OrderLifecycle.placeable(lines, missing)
            if missing and placeable:
                # Part of it can go on: send that, and park only the units nobody has.
                outcome = await self._sourcing.plan_and_hold(placeable, cause)
                if isinstance(outcome, SourcingPlan):
                    parked = OrderLifecycle.missing_only(lines, missing)
            self._order.park(parked, cause, why)
        if isinstance(outcome, SourcingPlan) and await self._dispatch(outcome, reroute=True):
            self._order.rerouted(outcome)

    # --- Incidents, warnings and decisions ---------------------------------------------

    async def _apply_incident(self, signal: IncidentSignal) -> None:
        """An incident broke some of this order's shipments: move them, then tell the
        incident what became of the order."""
        incident = signal.incident
        order = self._order
        promised = order.view.promised_by
        moved: list[OrderLine] = []
        for shipment in order.broken_by(incident, signal.shipment_ids):
            moved += await self._holds.take_back(shipment, incident.words)
        for shipment_id, lines in signal.lost.items():
            counted = order.shipment(shipment_id)
            if counted is None:
                continue
            moved += order.lost_in_count(counted, lines, incident.words)
            if order.emptied(counted):
                await self._holds.withdraw(counted)
        if moved and not order.may_reroute:
            await self._give_up(moved, incident.words)
            moved = []
        if moved:
            await self._reroute(moved, incident.words)
        outcome, detail = order.incident_result(bool(moved), promised)
        order.settle()
        self._publisher.save(self._order)
        await workflow.get_external_workflow_handle(signal.reply_to).signal(
            INCIDENT_OUTCOME,
            IncidentOutcome(order_id=order.view.order_id, outcome=outcome, detail=detail),
        )

    async def _handover_late(self, signal: HandoverLateSignal) -> None:
        """A shipment will likely not leave its node in time: move it now, before its SLA,
        if another node keeps the promised date; else it stays (it may still make it)."""
        order = self._order
        shipment = order.shipment(signal.late.shipment_id)
        if shipment is None or shipment.status != ShipmentStatus.RELEASED:
            return  # picked or gone meanwhile
        why = order.late_handover_words(shipment, signal.late.chance)
        if not order.may_reroute:
            order.note("at_risk", f"{why}; the policy does not reroute")
        elif not await self._sourcing.kept_elsewhere(shipment):
            order.note("at_risk", f"{why}; no other node keeps {order.view.promised_by}: it stays")
        else:
            order.avoid.add(shipment.node_id)
            await self._reroute(await self._holds.take_back(shipment, why), why)
        self._publisher.save(self._order)

    async def _resolve(self, decision: ResolveInput) -> None:
        lines = self._order.support_decided(decision.action, decision.note)
        if lines is not None:
            await self._reroute(lines, "support asked to try again")
        self._order.settle()
        self._publisher.save(self._order)

    # --- Field events ------------------------------------------------------------------

    async def _apply(self, signal: OrderEvent) -> None:
        if isinstance(signal, IncidentSignal):
            await self._apply_incident(signal)
            return
        if isinstance(signal, HandoverLateSignal):
            await self._handover_late(signal)
            return
        if isinstance(signal, CarrierEventSignal) and self._time_ignored(signal):
            return
        shipment = self._order.shipment(signal.event.shipment_id)
        if self._order.not_its_shipment(signal, shipment):
            return
        assert shipment is not None
        if self._order.left_after_all(signal.event.type, shipment) and workflow.patched(FIELD_WINS):
            await self._left_after_all(signal, shipment)
            if isinstance(signal, CarrierEventSignal):  # and the carrier's news on top
                await self._apply_carrier_event(signal, shipment)
        elif isinstance(signal, NodeEventSignal):
            await self._apply_node_event(signal, shipment)
        else:
            await self._apply_carrier_event(signal, shipment)
        self._order.settle()
        self._publisher.save(self._order)

    def _time_ignored(self, signal: CarrierEventSignal) -> bool:
        """A carrier event whose `at` cannot have happened is noted and changes nothing
        (CARRIER_TIME; the API refuses it: this is for one signalled past the API). Its id
        is forgotten, so the carrier's corrected event under that id still applies. Nothing
        is published: the note is on the live timeline, and in the read model at the next
        save, so ignoring adds no command but the patch's marker."""
        why = self._order.doubted_time(signal, workflow.now())
        if why is None or not workflow.patched(CARRIER_TIME):
            return False
        self._order.time_ignored(signal, why)
        self._seen_events.discard(signal.event.event_id)
        return True

    async def _left_after_all(
        self, signal: NodeEventSignal | CarrierEventSignal, shipment: Shipment
    ) -> None:
        """The node shipped what the OMS took back from it: the field wins (FIELD_WINS)."""
        at = signal.received_at if isinstance(signal, NodeEventSignal) else signal.event.at
        lines = [(line.line_id, line.sku, line.qty) for line in shipment.lines if line.qty]
        moved = await call.ship_unheld(
            ShipUnheldInput(
                order_id=self._order.view.order_id,
                node_id=shipment.node_id,
                lines=lines,
                event_id=signal.event.event_id,
            )
        )
        for duplicate in self._order.shipped_after_all(shipment, at, moved.from_stock, moved.short):
            await self._holds.take_back(duplicate, f"{shipment.shipment_id} carries its units")

    async def _apply_node_event(self, signal: NodeEventSignal, shipment: Shipment) -> None:
        event = signal.event
        if self._order.done_with(event.type, shipment):
            return
        qty = {line.line_id: line.qty for line in event.lines}
        if event.type == "picked":
            self._order.picked(shipment, qty)
        elif event.type == "short_picked":
            await self._short_pick(event.event_id, shipment, qty)
        else:  # shipped
            committed = await self._holds.commit(shipment)
            self._order.shipped(shipment, signal, committed.units)

    async def _short_pick(self, event_id: str, shipment: Shipment, missing: dict[str, int]) -> None:
        """Units not found at picking leave the ledger, so no one else is promised them;
        the missing units are sourced again elsewhere."""
        lost: list[OrderLine] = []
        for line in self._order.short_lines(shipment, missing):
            short = min(line.qty, missing[line.line_id])
            written = await call.write_off_short_pick(
                WriteOffShortPickInput(
                    order_id=self._order.view.order_id,
                    node_id=shipment.node_id,
                    line_id=line.line_id,
                    missing=short,
                    event_id=event_id,
                    round=shipment.hold_round,
                )
            )
            lost.append(self._order.short_picked(shipment, line, short, written.units))
        if self._order.emptied(shipment):
            await self._holds.withdraw(shipment)
        if lost and not self._order.may_reroute:
            await self._give_up(lost, f"a short pick at {shipment.node_id}")
        elif lost:
            self._order.avoid.add(shipment.node_id)
            await self._reroute(lost, f"a short pick at {shipment.node_id}")

    async def _give_up(self, lines: list[OrderLine], cause: str) -> None:
        if not self._order.given_up(lines, cause):
            await self._fail(f"nothing left to deliver after {cause}")

    async def _apply_carrier_event(self, signal: CarrierEventSignal, shipment: Shipment) -> None:
        if self._order.done_with(signal.event.type, shipment, by_carrier=True):
            return
        if OrderLifecycle.carrier_takes_it_unshipped(shipment):
            # The carrier has the parcel, so the node shipped it even if it never said so.
            await self._holds.commit(shipment)
            OrderLifecycle.handed_to_carrier(shipment, signal.event.at)
        self._order.carrier_event(signal, shipment)

    # --- Cancellation and failure ------------------------------------------------------

    async def _cancel_order(self, stopped_mid_step: bool = False) -> None:
        cancel = self._cancel
        assert cancel is not None
        if not self._order.cancel_requested(cancel.requested_by, cancel.reason):
            self._cancel_result = CancelResult(
                cancelled=False, status=self._order.view.status, detail="already shipped"
            )
            # Answered: the request is done (else the main loop would take it up forever).
            self._cancel = None
            return
        released = await self._holds.release_stock()
        self._order.stock_released(released.units)
        for shipment in self._order.view.shipments:
            await self._holds.withdraw(shipment, unsure=stopped_mid_step)
            self._order.stop_picking(shipment)
        self._order.cancelled(cancel.reason)
        self._cancel_result = CancelResult(
            cancelled=True, status=OrderStatus.CANCELLED, detail="cancelled"
        )
        self._publisher.save(self._order)

    async def _fail(self, reason: str) -> None:
        """The order cannot be served: give back anything held and tell the customer."""
        await self._holds.release_stock()
        for shipment in self._order.view.shipments:
            await self._holds.withdraw(shipment)
        self._order.failed(reason)
        self._publisher.save(self._order)

    # --- Promise watch -----------------------------------------------------------------

    async def _wait_for_work(self) -> bool:
        """Wait for a field event, a cancellation or a support decision: True; False when
        the next deadline comes first."""

        def work() -> bool:
            return bool(self._inbox) or self._cancel is not None or self._resolution is not None

        deadline = self._order.next_deadline()
        workflow.deprecate_patch(FEWER_TASKS)
        self._alarm.set(deadline)
        await workflow.wait_condition(lambda: work() or self._alarm.ringing())
        if work():
            return True
        self._alarm.stop()
        return False

    async def _deadline_passed(self) -> None:
        order = self._order
        late = order.past_sla(workflow.now())
        if late and not order.may_reroute:
            for shipment in late:
                order.sla_missed_kept(shipment)
            self._publisher.save(self._order)
            return
        for shipment in late:
            if await self._grace(shipment):
                continue
            order.avoid.add(shipment.node_id)
            lines = await self._holds.take_back(shipment, "not picked within its SLA")
            await self._reroute(lines, f"{shipment.node_id} missed its picking SLA")
        if not late:
            order.promise_missed()
        self._publisher.save(self._order)

    async def _grace(self, shipment: Shipment) -> bool:
        """A shipment past its picking SLA stays at its node one more picking day when no
        other node keeps the promised date (moving it would only start the work over);
        True if it stays."""
        if not self._order.may_have_grace(shipment) or not workflow.patched(SLA_GRACE):
            return False
        if await self._sourcing.kept_elsewhere(shipment):
            return False
        self._order.grace(shipment)
        return True
