"""The replenishment run: a Temporal Schedule starts one every day (id `replenishment`),
an operator on demand (`POST /v1/replenishment/run`), a transfer that fell short for its
store and SKUs. One activity proposes and records; the transfers the policy applies start
as workflows of their own (not children: they outlive the run)."""

import hashlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.replenishment import (
        PlanReplenishmentInput,
        PlanReplenishmentResult,
        ReplenishmentActivities,
        ReplenishmentRunInput,
        StartTransfersInput,
        WorkflowStarts,
    )
    from workflows.contracts import REPLENISHMENT_WORKFLOW
    from workflows.order_calls import LEDGER_RETRY

PLAN_TIMEOUT = timedelta(minutes=5)  # thousands of stores and SKUs read and planned
START_TIMEOUT = timedelta(minutes=2)
# A plan that keeps failing gives up (the run fails, says why, and the next one comes):
# retrying for ever would hold the Schedule, which skips a run while one is open.
PLAN_RETRY = RetryPolicy(
    maximum_interval=timedelta(minutes=1), maximum_attempts=5
)  # a transfer workflow started per source and store


@workflow.defn(name=REPLENISHMENT_WORKFLOW)
class ReplenishmentWorkflow:
    @workflow.run
    async def run(self, input: ReplenishmentRunInput) -> PlanReplenishmentResult:
        # The run's id comes from its workflow id: a retried activity records the same run.
        info = workflow.info()
        digest = hashlib.sha256(f"{info.workflow_id}/{info.run_id}".encode()).hexdigest()[:8]
        now = workflow.now()
        result = await workflow.execute_activity_method(
            ReplenishmentActivities.plan_replenishment,
            PlanReplenishmentInput(
                run_id=f"R{now:%Y%m%d%H%M}-{digest}",
                now=now,
                stores=input.stores,
                skus=input.skus,
                avoid=input.avoid,
            ),
            start_to_close_timeout=PLAN_TIMEOUT,
            retry_policy=PLAN_RETRY,
        )
        if result.transfers:
            await workflow.execute_activity_method(
                WorkflowStarts.start_transfers,
                StartTransfersInput(plans=result.transfers),
                start_to_close_timeout=START_TIMEOUT,
                retry_policy=LEDGER_RETRY,
            )
        return result
