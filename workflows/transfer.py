"""The transfer workflow, id `transfer-{transfer_id}`: stock moved from a source node to a
store, from the hold at the source to the units on the store's shelf.

It holds the units and opens the store's supply line (`start_transfer`), books the
shuttle, tells the source to pick and the store what is coming, then follows the nodes'
events (picked, shipped, received) through the ledger, once each. What goes wrong is
settled there (short pick written off, units not shipped back on the source's shelf,
units lost in transit) and the store's missing units are planned again at once, by a
replenishment run for that store and those SKUs. Pre-orders counting on the transfer hear
what became of their units. Shipped units not received `LOST_AFTER_DAYS` after the ETA
are declared lost.
"""

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.carriers import BookingRequest, CancelBookingInput, CarrierActivities
    from activities.notifications import Notification, NotificationActivities
    from activities.replenishment import (
        CancelTransferInput,
        ReplenishmentActivities,
        ReplenishmentRunInput,
        StartRunInput,
        StartTransferInput,
        TransferEventInput,
        TransferLostInput,
        WorkflowStarts,
    )
    from db.transfers import TransferNews
    from domain.transfer import (
        BEFORE_LEAVING,
        LOST_AFTER_DAYS,
        OPEN_TRANSFER,
        PICK_GRACE_DAYS,
        Transfer,
        TransferPlan,
        TransferSignal,
        TransferStatus,
        holder,
    )
    from workflows.contracts import (
        TRANSFER_STATE,
        TRANSFER_WORKFLOW,
        TransferSignalName,
    )
    from workflows.order_calls import (
        CARRIER_RETRY,
        CARRIER_TIMEOUT,
        LEDGER_RETRY,
        LEDGER_TIMEOUT,
        NOTIFY_GIVE_UP,
        NOTIFY_RETRY,
        NOTIFY_TIMEOUT,
    )
    from workflows.supply_news import SupplyNewsInput, tell_orders

SHUTTLE = "SHUTTLE"  # the retailer's own trucks, booked through the carrier port


class CancelTransfer(BaseModel):
    why: str


@workflow.defn(name=TRANSFER_WORKFLOW)
class TransferWorkflow:
    def __init__(self) -> None:
        self.transfer: Transfer | None = None
        self.events: list[TransferSignal] = []
        self.parked: list[TransferSignal] = []  # came before their step (a receipt first)
        self.seen: set[tuple[str, str]] = set()  # (node, event id): ids are the sender's
        self.cancel_asked: str | None = None
        self.notes: list[str] = []  # events refused on the way (they changed nothing)
        self.replans = 0

    @workflow.query(name=TRANSFER_STATE)
    def state(self) -> Transfer | None:
        return self.transfer

    @workflow.signal(name=TransferSignalName.NODE_EVENT)
    def node_event(self, signal: TransferSignal) -> None:
        key = (signal.node_id, signal.event.event_id)
        if key not in self.seen:
            self.seen.add(key)
            self.events.append(signal)

    @workflow.signal(name=TransferSignalName.CANCEL)
    def cancel(self, input: CancelTransfer) -> None:
        self.cancel_asked = self.cancel_asked or input.why

    @workflow.run
    async def run(self, plan: TransferPlan) -> Transfer:
        self.transfer = await workflow.execute_activity_method(
            ReplenishmentActivities.start_transfer,
            StartTransferInput(plan=plan, now=workflow.now()),
            start_to_close_timeout=LEDGER_TIMEOUT,
            retry_policy=LEDGER_RETRY,
        )
        if self.transfer.status == TransferStatus.REFUSED:
            return self.transfer  # nothing moved: the next daily plan sees the store as it is
        await self._book_shuttle()
        await self._tell("node", plan.source_node_id, "transfer_to_pick")
        await self._tell("node", plan.destination_node_id, "transfer_coming")
        while self.transfer.status in OPEN_TRANSFER:
            arrived = await self._next(self._deadline())
            if not arrived and self.transfer.status == TransferStatus.SHIPPED:
                await self._lost()
            elif not arrived:  # the source never sent it: the store gets it from elsewhere
                await self._cancel(f"not shipped by {self._deadline():%Y-%m-%d}", replan=True)
            elif self.events:
                await self._apply(self.events.pop(0))
            elif self.cancel_asked:
                await self._cancel(self.cancel_asked)
                self.cancel_asked = None
        return self.transfer

    async def _next(self, deadline: datetime | None) -> bool:
        """Wait for an event or a cancel; False when the deadline passed first."""
        if deadline is None:
            await workflow.wait_condition(lambda: bool(self.events) or bool(self.cancel_asked))
            return True
        wait = max(deadline - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(
                lambda: bool(self.events) or bool(self.cancel_asked), timeout=wait
            )
        except TimeoutError:
            return False
        return True

    def _deadline(self) -> datetime | None:
        """Until when the transfer may stay as it is: shipped, `LOST_AFTER_DAYS` after its
        ETA (moved to the real shipping day); not shipped yet, `PICK_GRACE_DAYS` after its
        picking day. Days end at midnight UTC."""
        transfer = self.transfer
        if transfer is None:
            return None
        if transfer.status == TransferStatus.SHIPPED and transfer.eta is not None:
            last_day = transfer.eta + timedelta(days=LOST_AFTER_DAYS)
        elif transfer.status in BEFORE_LEAVING and transfer.pick_day is not None:
            last_day = transfer.pick_day + timedelta(days=PICK_GRACE_DAYS)
        else:
            return None
        return datetime.combine(last_day, time(23, 59), workflow.now().tzinfo)

    async def _apply(self, signal: TransferSignal) -> None:
        try:
            news = await workflow.execute_activity_method(
                ReplenishmentActivities.apply_transfer_event,
                TransferEventInput(signal=signal),
                start_to_close_timeout=LEDGER_TIMEOUT,
                retry_policy=LEDGER_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            if not (isinstance(cause, ApplicationError) and cause.non_retryable):
                raise
            if cause.type == "TransferConflict":
                # Before its step (the store's receipt before the source's shipped): it
                # is tried again once the transfer moves on.
                self.parked.append(signal)
            else:
                self.notes.append(f"{signal.event.type} {signal.event.event_id}: {cause.message}")
            return
        if news.applied:
            self.events.extend(self.parked)
            self.parked = []
        await self._settled(news, f"transfer_{signal.event.type}")

    async def _cancel(self, why: str, replan: bool = False) -> None:
        try:
            news = await workflow.execute_activity_method(
                ReplenishmentActivities.cancel_transfer,
                CancelTransferInput(transfer_id=self._id, why=why, now=workflow.now()),
                start_to_close_timeout=LEDGER_TIMEOUT,
                retry_policy=LEDGER_RETRY,
            )
        except ActivityError as exc:  # too late: it left meanwhile
            self.notes.append(f"cancel: {exc.cause or exc}")
            return
        await workflow.execute_activity_method(
            CarrierActivities.cancel_booking,
            CancelBookingInput(shipment_id=holder(self._id), carrier_id=SHUTTLE),
            start_to_close_timeout=CARRIER_TIMEOUT,
            retry_policy=CARRIER_RETRY,
        )
        # An operator's decision waits for the next daily plan; a source that never
        # shipped leaves a gap the store needs filled now.
        gaps = news.gaps if replan else {}
        avoid = [self.transfer.source_node_id] if replan and self.transfer else []
        await self._settled(news.model_copy(update={"gaps": gaps}), "transfer_cancelled", avoid)

    async def _lost(self) -> None:
        news = await workflow.execute_activity_method(
            ReplenishmentActivities.declare_transfer_lost,
            TransferLostInput(transfer_id=self._id, now=workflow.now()),
            start_to_close_timeout=LEDGER_TIMEOUT,
            retry_policy=LEDGER_RETRY,
        )
        await self._settled(news, "transfer_lost")

    async def _settled(self, news: TransferNews, topic: str, avoid: Sequence[str] = ()) -> None:
        """After the ledger moved: tell the pre-orders, the nodes, and plan the gap again."""
        self.transfer = news.transfer
        if not news.applied:
            return
        if news.orders:
            await self._tell_preorders(news, topic)
        if news.gaps:
            await self._replan(self.transfer.destination_node_id, news.gaps, list(avoid))
        if topic != "transfer_picked":
            await self._tell("node", self.transfer.destination_node_id, topic, news.summary)

    async def _tell_preorders(self, news: TransferNews, topic: str) -> None:
        """The pre-orders counting on these units hear it (they read the ledger)."""
        await tell_orders(
            SupplyNewsInput(
                event_id=f"{self._id}-{topic}-{len(self.seen)}",
                supply_id=news.transfer.lines[0].supply_id,
                orders=news.orders,
            )
        )

    async def _replan(self, store_id: str, gaps: dict[str, int], avoid: list[str]) -> None:
        """The store still misses units: a replenishment run for it and these SKUs now,
        from the next best source (this one's free units were counted already)."""
        self.replans += 1
        run = f"replan-{self._id}-{self.replans}"
        await workflow.execute_activity_method(
            WorkflowStarts.start_replenishment_run,
            StartRunInput(
                workflow_id=run,
                run=ReplenishmentRunInput(
                    stores=[store_id], skus=sorted(gaps), avoid=avoid, why=run
                ),
            ),
            start_to_close_timeout=LEDGER_TIMEOUT,
            retry_policy=LEDGER_RETRY,
        )

    async def _book_shuttle(self) -> None:
        assert self.transfer is not None
        await workflow.execute_activity_method(
            CarrierActivities.book_carrier,
            BookingRequest(
                shipment_id=holder(self._id),
                carrier_id=SHUTTLE,
                service_id=f"{SHUTTLE}-{self.transfer.source_node_id}",
                node_id=self.transfer.source_node_id,
                units=sum(line.qty for line in self.transfer.lines),
            ),
            start_to_close_timeout=CARRIER_TIMEOUT,
            retry_policy=CARRIER_RETRY,
        )

    async def _tell(self, recipient: str, recipient_id: str, topic: str, summary: str = "") -> None:
        assert self.transfer is not None
        await workflow.execute_activity_method(
            NotificationActivities.notify,
            Notification(
                key=f"{holder(self._id)}:{recipient_id}:{topic}:{len(self.seen)}",
                order_id=holder(self._id),
                recipient=recipient,  # type: ignore[arg-type]
                recipient_id=recipient_id,
                topic=topic,
                payload={
                    "transfer_id": self._id,
                    "source_node_id": self.transfer.source_node_id,
                    "destination_node_id": self.transfer.destination_node_id,
                    "eta": self.transfer.eta.isoformat() if self.transfer.eta else None,
                    "pick_day": (
                        self.transfer.pick_day.isoformat() if self.transfer.pick_day else None
                    ),
                    "lines": [{"sku": line.sku, "qty": line.qty} for line in self.transfer.lines],
                    "summary": summary,
                },
            ),
            start_to_close_timeout=NOTIFY_TIMEOUT,
            schedule_to_close_timeout=NOTIFY_GIVE_UP,
            retry_policy=NOTIFY_RETRY,
        )

    @property
    def _id(self) -> str:
        assert self.transfer is not None
        return self.transfer.transfer_id
