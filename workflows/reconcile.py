"""The reconciliation, as a workflow a Temporal Schedule starts every hour (id
`reconcile`): one activity that gives back what ended order workflows left behind."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities, ReconcileInput, ReconcileReport
    from workflows.contracts import RECONCILE_WORKFLOW

TIMEOUT = timedelta(minutes=10)  # thousands of orders described, a few given back
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)


@workflow.defn(name=RECONCILE_WORKFLOW)
class ReconcileWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileReport:
        return await workflow.execute_activity_method(
            ReconcileActivities.reconcile,
            input,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
