"""The incident workflow: one per incident, id `incident-{incident_id}`.

It finds the shipments an incident breaks, tells each order concerned (a signal, so the
order reroutes itself, in its own history), and collects what became of each: the
incident's own history of the orders it touched.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.incidents import IncidentActivities, SaveOutcomesInput, Touched
    from domain.incidents import Incident, IncidentOutcome
    from domain.order import TimelineEntry
    from workflows.contracts import (
        INCIDENT_OUTCOME,
        INCIDENT_REPORT,
        INCIDENT_WORKFLOW,
        OrderSignal,
        order_workflow_id,
    )
    from workflows.incident_messages import IncidentInput, IncidentReport
    from workflows.order_messages import IncidentSignal

ACTIVITY_TIMEOUT = timedelta(minutes=2)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
SIGNAL_BATCH = 100  # orders told at a time
OUTCOMES_WAIT = timedelta(hours=6)  # an order that has not answered by then is reported


@workflow.defn(name=INCIDENT_WORKFLOW)
class IncidentWorkflow:
    @workflow.init
    def __init__(self, input: IncidentInput) -> None:
        self._incident = input.incident
        self._touched: list[str] = []
        self._outcomes: dict[str, IncidentOutcome] = {}
        self._timeline: list[TimelineEntry] = []

    @workflow.query(name=INCIDENT_REPORT)
    def report(self) -> IncidentReport:
        return IncidentReport(
            incident=self._incident,
            touched=self._touched,
            outcomes=list(self._outcomes.values()),
            timeline=self._timeline,
        )

    @workflow.signal(name=INCIDENT_OUTCOME)
    def outcome(self, outcome: IncidentOutcome) -> None:
        if outcome.order_id not in self._outcomes:
            self._outcomes[outcome.order_id] = outcome
            self._note(f"{outcome.order_id}: {outcome.outcome}, {outcome.detail}")

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentReport:
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
        me = workflow.info().workflow_id
        for start in range(0, len(orders), SIGNAL_BATCH):
            batch = orders[start : start + SIGNAL_BATCH]
            sent = await asyncio.gather(
                *(self._tell(order_id, touched, me) for order_id in batch),
                return_exceptions=True,
            )
            for order_id, result in zip(batch, sent, strict=True):
                if isinstance(result, BaseException):
                    self.outcome(
                        IncidentOutcome(
                            order_id=order_id, outcome="unaffected", detail="order already closed"
                        )
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

    async def _tell(self, order_id: str, touched: Touched, me: str) -> None:
        handle = workflow.get_external_workflow_handle(order_workflow_id(order_id))
        await handle.signal(
            OrderSignal.INCIDENT,
            IncidentSignal(
                incident=self._incident,
                shipment_ids=touched.shipments.get(order_id, []),
                lost=touched.lost.get(order_id, {}),
                reply_to=me,
            ),
        )

    def _note(self, summary: str) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), type="incident", summary=summary))
