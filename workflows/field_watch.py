"""The field watch: one long-running workflow, id `field-watch`, that looks over the work
released to the nodes every half hour and tells each order whose shipment will not be
handed over when its plan counted on (by what its node has shown), so the order can move
it while another node can still keep the date, before its picking SLA has passed.

One watch for the whole network costs a timer and a read per half hour, whatever the
number of orders: cheaper than a timer in every order.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.field_watch import (
        FieldWatchActivities,
        FindLateHandoversInput,
        LateHandover,
        LateHandovers,
    )
    from workflows.contracts import FIELD_WATCH_WORKFLOW, OrderSignal, order_workflow_id
    from workflows.order_messages import HandoverLateSignal

READ_TIMEOUT = timedelta(minutes=2)  # a read of the outcomes; retried, it only reads
READ_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
ROUNDS_PER_RUN = 200  # then it continues as new, with a short history
REMEMBERED = 5_000  # shipments already told about, carried to the next run


class FieldWatchInput(BaseModel):
    every_minutes: int = 30
    told: list[str] = []  # shipment ids already told about


@workflow.defn(name=FIELD_WATCH_WORKFLOW)
class FieldWatchWorkflow:
    @workflow.run
    async def run(self, input: FieldWatchInput) -> None:
        told = dict.fromkeys(input.told)
        for _ in range(ROUNDS_PER_RUN):
            await workflow.sleep(timedelta(minutes=input.every_minutes))
            found: LateHandovers = await workflow.execute_activity_method(
                FieldWatchActivities.find_late_handovers,
                FindLateHandoversInput(now=workflow.now()),
                start_to_close_timeout=READ_TIMEOUT,
                retry_policy=READ_RETRY,
            )
            fresh = [late for late in found.shipments if late.shipment_id not in told]
            # An order closed meanwhile no longer takes signals: nothing to tell it.
            await asyncio.gather(*(self._tell(late) for late in fresh), return_exceptions=True)
            told |= dict.fromkeys(late.shipment_id for late in fresh)
        keep = list(told)[-REMEMBERED:]
        workflow.continue_as_new(FieldWatchInput(every_minutes=input.every_minutes, told=keep))

    async def _tell(self, late: LateHandover) -> None:
        handle = workflow.get_external_workflow_handle(order_workflow_id(late.order_id))
        await handle.signal(OrderSignal.HANDOVER_LATE, HandoverLateSignal(late=late))
