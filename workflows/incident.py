"""The incident workflow: one per incident, id `incident-{incident_id}`.

It finds the shipments an incident breaks, tells each order concerned (a signal, so the
order reroutes itself, in its own history), and collects what became of each: the
incident's own history of the orders it touched.

An incident may touch tens of thousands of orders: it reads them a page at a time, saves
the outcomes heard after each page, and continues as new before its history nears
Temporal's limits (50,000 events, 50 MB). Orders answer to the workflow id, so a run
hears the answers of orders an earlier run told.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.incidents import (
        FindTouchedPageInput,
        IncidentActivities,
        SaveOutcomesInput,
        Touched,
        TouchedOrder,
    )
    from domain.incidents import Incident, IncidentOutcome
    from domain.order import TimelineEntry
    from workflows.contracts import (
        INCIDENT_OUTCOME,
        INCIDENT_REPORT,
        INCIDENT_WORKFLOW,
        OrderSignal,
        order_workflow_id,
    )
    from workflows.incident_messages import IncidentInput, IncidentProgress, IncidentReport
    from workflows.order_messages import IncidentSignal
    from workflows.patches import INCIDENT_PAGES

ACTIVITY_TIMEOUT = timedelta(minutes=2)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
SIGNAL_BATCH = 100  # orders told at a time
OUTCOMES_WAIT = timedelta(hours=6)  # an order that has not answered by then is reported
PAGE_WAIT = timedelta(minutes=5)  # the longest the next page waits for the one before


@workflow.defn(name=INCIDENT_WORKFLOW)
class IncidentWorkflow:
    @workflow.init
    def __init__(self, input: IncidentInput) -> None:
        self._incident = input.incident
        self._touched: list[str] = []
        self._outcomes: dict[str, IncidentOutcome] = {}
        self._timeline: list[TimelineEntry] = []
        # Told a page at a time (patch `incident-pages`): a run continued from another
        # is always paged, and may hear answers in its first task, before run() decides.
        self._progress: IncidentProgress | None = input.progress
        if input.progress is not None:
            self._timeline = list(input.progress.timeline)
        self._unsaved: list[IncidentOutcome] = []

    @workflow.query(name=INCIDENT_REPORT)
    def report(self) -> IncidentReport:
        progress = self._progress
        return IncidentReport(
            incident=self._incident,
            touched=self._touched,
            outcomes=list(self._outcomes.values()),
            timeline=self._timeline,
            in_database=progress is not None,
            touched_count=progress.touched if progress else len(self._touched),
            answered_count=(
                progress.answered + len(self._unsaved) if progress else len(self._outcomes)
            ),
        )

    @workflow.signal(name=INCIDENT_OUTCOME)
    def outcome(self, outcome: IncidentOutcome) -> None:
        if outcome.order_id in self._outcomes:
            return
        self._outcomes[outcome.order_id] = outcome
        if self._progress is None:
            self._note(f"{outcome.order_id}: {outcome.outcome}, {outcome.detail}")
        else:  # one line per order would grow the timeline carried from run to run
            self._unsaved.append(outcome)

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentReport:
        if self._progress is None:
            if not workflow.patched(INCIDENT_PAGES):
                return await self._run_whole(input)
            self._progress = IncidentProgress()
            self._note(f"Received: {input.incident.words}")
        try:
            await self._tell_by_pages(input, self._progress)
            await self._wait_for_answers(input, self._progress)
        except asyncio.CancelledError:
            # As below: the orders told move on their own, the rest are not told.
            await self._save_heard(final=True)
            self._note(f"Cancelled by an operator; {self._progress.answered} order(s) answered")
            raise
        await self._save_heard(final=True)
        self._note("Handled")
        return self.report()

    # --- A page at a time -------------------------------------------------------------

    async def _tell_by_pages(self, input: IncidentInput, progress: IncidentProgress) -> None:
        while progress.answer_by is None:
            await self._wait_for_room(input, progress)
            if self._run_is_full(input):
                await self._continue_as_new(input, progress)
            page = await workflow.execute_activity_method(
                IncidentActivities.find_touched_page,
                FindTouchedPageInput(
                    incident=self._incident, after=progress.after, limit=input.page_size
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            if progress.after is None:
                self._note(f"Touches {page.total} order(s)")
            progress.touched = page.total
            await self._tell_page(page.orders)
            self._touched += [order.order_id for order in page.orders]
            progress.told += len(page.orders)
            if page.orders:
                progress.after = page.orders[-1].order_id
            if not page.orders or progress.told >= progress.touched:
                progress.answer_by = workflow.now() + OUTCOMES_WAIT
            await self._save_heard(final=False)

    async def _wait_for_room(self, input: IncidentInput, progress: IncidentProgress) -> None:
        """Tell the next page once the orders told before have answered: the order workers
        get one page at a time, not the whole incident at once, and the answers a run hears
        stay bounded by its pages, whatever the incident's size. Orders slower than
        PAGE_WAIT do not hold the incident up: they are waited for at the end."""
        started = workflow.now()
        while not self._run_is_full(input):
            outstanding = progress.told - progress.answered - len(self._unsaved)
            left = PAGE_WAIT - (workflow.now() - started)
            if outstanding <= 0 or left <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: (
                        progress.told - progress.answered - len(self._unsaved) <= 0
                        or self._run_is_full(input)
                    ),
                    timeout=left,
                )
            except TimeoutError:
                return

    async def _tell_page(self, orders: list[TouchedOrder]) -> None:
        me = workflow.info().workflow_id
        for start in range(0, len(orders), SIGNAL_BATCH):
            batch = orders[start : start + SIGNAL_BATCH]
            sent = await asyncio.gather(
                *(
                    self._tell(order.order_id, order.shipment_ids, order.lost, me)
                    for order in batch
                ),
                return_exceptions=True,
            )
            for order, result in zip(batch, sent, strict=True):
                if isinstance(result, BaseException):
                    self.outcome(
                        IncidentOutcome(
                            order_id=order.order_id,
                            outcome="unaffected",
                            detail="order already closed",
                        )
                    )

    async def _wait_for_answers(self, input: IncidentInput, progress: IncidentProgress) -> None:
        assert progress.answer_by is not None
        while progress.answered < progress.touched:
            left = progress.answer_by - workflow.now()
            if left <= timedelta(0):
                self._note(
                    f"{progress.touched - progress.answered} order(s) did not answer in time"
                )
                return
            try:
                # Wake to save a page of answers, or to make room, not only at the end.
                await workflow.wait_condition(
                    lambda: (
                        progress.answered + len(self._unsaved) >= progress.touched
                        or len(self._unsaved) >= input.page_size
                        or self._run_is_full(input)
                    ),
                    timeout=left,
                )
            except TimeoutError:
                pass
            await self._save_heard(final=False)
            if progress.answered < progress.touched and self._run_is_full(input):
                await self._continue_as_new(input, progress)

    def _run_is_full(self, input: IncidentInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= input.events_per_run
        )

    async def _continue_as_new(self, input: IncidentInput, progress: IncidentProgress) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        # Answers heard while saving are saved too: the next run never hears them again.
        while self._unsaved:
            await self._save_heard(final=False)
        self._note(
            f"Run {progress.runs}: {progress.told} of {progress.touched} order(s) told, "
            f"{progress.answered} answered; going on in a new run"
        )
        workflow.continue_as_new(
            IncidentInput(
                incident=self._incident,
                page_size=input.page_size,
                events_per_run=input.events_per_run,
                progress=progress.model_copy(
                    update={"runs": progress.runs + 1, "timeline": self._timeline}
                ),
            )
        )

    async def _save_heard(self, final: bool) -> None:
        assert self._progress is not None
        heard, self._unsaved = self._unsaved, []
        try:
            self._progress.answered = await workflow.execute_activity_method(
                IncidentActivities.save_outcomes,
                SaveOutcomesInput(
                    incident_id=self._incident.incident_id, outcomes=heard, final=final
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        except BaseException:
            self._unsaved = heard + self._unsaved  # saved by the next call
            raise

    # --- All at once: incidents started before the `incident-pages` patch -------------

    async def _run_whole(self, input: IncidentInput) -> IncidentReport:
        incident = input.incident
        self._note(f"Received: {incident.words}")
        touched: Touched = await workflow.execute_activity_method(
            IncidentActivities.find_touched,
            incident,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        orders = sorted({*touched.shipments, *touched.lost})
        self._touched = orders
        self._note(f"Touches {len(orders)} order(s)")
        try:
            await self._tell_all(orders, touched)
        except asyncio.CancelledError:
            # Cancelled in Temporal: the orders told move on their own; the rest are not
            # told, and the incident keeps what it heard.
            self._note(f"Cancelled by an operator; {len(self._outcomes)} order(s) answered")
            await self._save(incident)
            raise
        await self._save(incident)
        self._note("Handled")
        return self.report()

    async def _tell_all(self, orders: list[str], touched: Touched) -> None:
        # Told as one page is: the same signals in the same batches as before the patch.
        await self._tell_page(
            [
                TouchedOrder(
                    order_id=order_id,
                    shipment_ids=touched.shipments.get(order_id, []),
                    lost=touched.lost.get(order_id, {}),
                )
                for order_id in orders
            ]
        )
        try:
            await workflow.wait_condition(
                lambda: len(self._outcomes) >= len(orders), timeout=OUTCOMES_WAIT
            )
        except TimeoutError:
            self._note(f"{len(orders) - len(self._outcomes)} order(s) did not answer in time")

    async def _save(self, incident: Incident) -> None:
        outcomes = list(self._outcomes.values())
        await workflow.execute_activity_method(
            IncidentActivities.save_outcomes,
            SaveOutcomesInput(incident_id=incident.incident_id, outcomes=outcomes),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    # --- Both ----------------------------------------------------------------------------

    async def _tell(
        self, order_id: str, shipment_ids: list[str], lost: dict[str, dict[str, int]], me: str
    ) -> None:
        handle = workflow.get_external_workflow_handle(order_workflow_id(order_id))
        await handle.signal(
            OrderSignal.INCIDENT,
            IncidentSignal(
                incident=self._incident, shipment_ids=shipment_ids, lost=lost, reply_to=me
            ),
        )

    def _note(self, summary: str) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), type="incident", summary=summary))
