"""The replenishment run: a Temporal Schedule starts one every day (id `replenishment`),
an operator on demand (`POST /v1/replenishment/run`), a transfer that fell short for its
store and SKUs. One activity proposes and records; the transfers the policy applies start
as workflows of their own, which outlive the run."""

import hashlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.replenishment import (
        PlanReplenishmentInput,
        PlanReplenishmentResult,
        ReplenishmentActivities,
        ReplenishmentRunInput,
    )
    from workflows.contracts import REPLENISHMENT_WORKFLOW, transfer_workflow_id
    from workflows.order_calls import LEDGER_RETRY
    from workflows.transfer import TransferInput, TransferWorkflow

PLAN_TIMEOUT = timedelta(minutes=5)  # thousands of stores and SKUs read and planned


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
            ),
            start_to_close_timeout=PLAN_TIMEOUT,
            retry_policy=LEDGER_RETRY,
        )
        for plan in result.transfers:
            try:
                await workflow.start_child_workflow(
                    TransferWorkflow.run,
                    TransferInput(plan=plan),
                    id=transfer_workflow_id(plan.transfer_id),
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                pass  # started before this run was replayed
        return result
