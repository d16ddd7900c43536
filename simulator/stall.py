"""What holds a rehearsal's virtual clock: the test server only lets virtual time run while
no workflow task and no activity is outstanding, so a task that never ends stops the whole
rehearsal with every process idle (issue 18). This finds who holds it.

The time-skipping server has no visibility queries (`ListWorkflowExecutions` is
unimplemented) but answers the older `ListOpenWorkflowExecutions`; its `describe()` gives
pending activities but leaves `pending_workflow_task` empty, so a workflow task still
outstanding is read from the end of the workflow's history."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    ListOpenWorkflowExecutionsRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

NAMED = 10  # holders named in a report; the rest are counted
CONCURRENCY = 16  # describe calls in flight: the server is the one that is stuck, not busy


@dataclass(frozen=True)
class Holder:
    """One workflow with something outstanding that keeps virtual time from moving."""

    workflow_id: str
    what: str  # in words, e.g. "activity reserve_stock (attempt 1, started ..., ...)"
    state: tuple  # what would change if it made progress (attempts, heartbeats, history)


@dataclass(frozen=True)
class Waiting:
    open_workflows: int
    holders: tuple[Holder, ...]

    def fingerprint(self) -> frozenset:
        """Equal for two looks that saw no progress at all."""
        return frozenset((h.workflow_id, h.state) for h in self.holders)

    def describe(self) -> str:
        if not self.holders:
            return (
                f"{self.open_workflows} workflows open, none with an activity or workflow "
                "task outstanding (the server's own lock, not a workflow's)"
            )
        named = "; ".join(f"{h.workflow_id}: {h.what}" for h in self.holders[:NAMED])
        more = len(self.holders) - NAMED
        return (
            f"{self.open_workflows} workflows open, {len(self.holders)} holding the clock: "
            f"{named}{f'; and {more} more' if more > 0 else ''}"
        )


async def waiting_on(client: Client) -> Waiting:
    """Every open workflow that has an activity or a workflow task outstanding."""
    ids = await _open_workflows(client)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def look(workflow_id: str, run_id: str) -> Holder | None:
        async with gate:
            try:
                return await _holder(client, workflow_id, run_id)
            except RPCError:  # closed meanwhile: it holds nothing
                return None

    found = await asyncio.gather(*(look(w, r) for w, r in ids))
    holders = sorted((h for h in found if h is not None), key=lambda h: h.workflow_id)
    return Waiting(len(ids), tuple(holders))


async def _open_workflows(client: Client) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    token = b""
    while True:
        page = await client.workflow_service.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(
                namespace=client.namespace, maximum_page_size=1000, next_page_token=token
            )
        )
        found += [(e.execution.workflow_id, e.execution.run_id) for e in page.executions]
        token = page.next_page_token
        if not token:
            return found


async def _holder(client: Client, workflow_id: str, run_id: str) -> Holder | None:
    service = client.workflow_service
    execution = WorkflowExecution(workflow_id=workflow_id, run_id=run_id)
    description = await service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=execution)
    )
    length = description.workflow_execution_info.history_length
    if description.pending_activities:
        parts, state = [], []
        for a in description.pending_activities:
            started = _at(a.last_started_time) if a.HasField("last_started_time") else None
            beat = _at(a.last_heartbeat_time) if a.HasField("last_heartbeat_time") else None
            parts.append(
                f"activity {a.activity_type.name} (attempt {a.attempt}, "
                + (
                    f"started {started:%a %H:%M:%S} by {a.last_worker_identity}"
                    if started
                    else "not started"
                )
                + (f", last heartbeat {beat:%H:%M:%S}" if beat else ", no heartbeat")
                + (f", last failure: {a.last_failure.message}" if a.last_failure.message else "")
                + ")"
            )
            state.append((a.activity_id, a.attempt, a.state, started, beat))
        return Holder(workflow_id, ", ".join(parts), (length, *state))
    # No pending activity: a workflow task is outstanding if the history ends on one.
    last = None
    token = b""
    while True:
        page = await service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace, execution=execution, next_page_token=token
            )
        )
        if page.history.events:
            last = page.history.events[-1]
        token = page.next_page_token
        if not token:
            break
    if last is None:
        return None
    at = _at(last.event_time)
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        what = f"workflow task scheduled at {at:%a %H:%M:%S}, no worker has taken it"
    elif last.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        worker = last.workflow_task_started_event_attributes.identity
        what = (
            f"workflow task taken at {at:%a %H:%M:%S} by {worker}, never completed "
            "(a worker that froze or lost it, or a local activity still running)"
        )
    else:
        return None
    return Holder(workflow_id, what, (length, last.event_id))


def _at(timestamp) -> datetime:
    return timestamp.ToDatetime().replace(tzinfo=UTC)
