"""Store replenishment activities: plan (read the facts, propose, record), and carry a
transfer through the ledger (start, field events, cancel, loss)."""

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from activities import defn
from db import replenishment, transfers
from db.engine import read_only, unit_of_work
from db.network import read_network
from db.policies import active_policy as sourcing_policy
from db.transfers import TransferNews
from domain.errors import DomainError, InsufficientStock
from domain.network import Node
from domain.replenishment import plan
from domain.transfer import Transfer, TransferPlan, TransferSignal
from workflows.contracts import REPLENISHMENT_WORKFLOW, TRANSFER_WORKFLOW, transfer_workflow_id


class ReplenishmentRunInput(BaseModel):
    """A replenishment run's input (workflows/replenishment.py)."""

    stores: list[str] = []  # empty: every store the policy covers
    skus: list[str] = []
    avoid: list[str] = []  # sources that just failed these stores
    why: str = "daily plan"


class PlanReplenishmentInput(BaseModel):
    run_id: str
    now: datetime
    stores: list[str] = []  # only these (a re-plan after a transfer failed); empty: all
    skus: list[str] = []
    avoid: list[str] = []


class PlanReplenishmentResult(BaseModel):
    run_id: str
    policy_version: int
    proposals: int
    units: int  # proposed with a source
    unfilled: int  # needs no source could fill
    waiting_for_approval: int
    transfers: list[TransferPlan]  # to start now (the policy applies its proposals)


class StartTransferInput(BaseModel):
    plan: TransferPlan
    now: datetime


class TransferEventInput(BaseModel):
    signal: TransferSignal


class CancelTransferInput(BaseModel):
    transfer_id: str
    why: str
    now: datetime


class TransferLostInput(BaseModel):
    transfer_id: str
    now: datetime


class StartTransfersInput(BaseModel):
    plans: list[TransferPlan]


class StartRunInput(BaseModel):
    workflow_id: str
    run: ReplenishmentRunInput


class ReplenishmentActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @defn
    def plan_replenishment(self, input: PlanReplenishmentInput) -> PlanReplenishmentResult:
        """Propose what each store needs, record the proposals (once per run) and return
        the transfers to start when the policy applies them itself."""
        with unit_of_work(self.engine) as session:
            policy = replenishment.active_policy(session)
            scoped = policy.model_copy(
                update={
                    "stores": input.stores or policy.stores,
                    "skus": input.skus or policy.skus,
                }
            )
            today = input.now.date()
            facts = replenishment.PlanFacts(session, scoped, today)
            proposals = plan(
                scoped,
                today,
                facts.calendar,
                facts.stores,
                facts.sources,
                facts.places,
                frozenset(input.avoid),
            )
            rows, plans = replenishment.save_proposals(
                session, input.run_id, scoped, proposals, input.now
            )
        return PlanReplenishmentResult(
            run_id=input.run_id,
            policy_version=policy.version,
            proposals=len(rows),
            units=sum(row.qty for row in rows if row.source_node_id),
            unfilled=sum(1 for row in rows if row.status == "unfilled"),
            waiting_for_approval=sum(1 for row in rows if row.status == "proposed"),
            transfers=plans,
        )

    @defn
    def start_transfer(self, input: StartTransferInput) -> Transfer:
        """Hold the units at the source, take its picking slot, open the supply line at
        the store; a source that no longer has the units refuses it (nothing moves)."""
        with read_only(self.engine) as session:
            network = read_network(session)
        source = network.nodes.get(input.plan.source_node_id)
        destination = network.nodes.get(input.plan.destination_node_id)
        holidays = set(network.calendar.holidays)
        try:
            if source is None or destination is None:
                raise InsufficientStock("its source or its store left the network")
            with unit_of_work(self.engine) as session:
                return transfers.start(
                    session,
                    input.plan,
                    source,
                    destination,
                    first_pick_day(source, input.now),
                    holidays,
                    input.now,
                )
        except InsufficientStock as exc:
            with unit_of_work(self.engine) as session:
                return transfers.refuse(session, input.plan, str(exc), input.now)

    @defn
    def apply_transfer_event(self, input: TransferEventInput) -> TransferNews:
        signal = input.signal
        fingerprint = hashlib.sha256(signal.event.model_dump_json().encode()).hexdigest()
        with unit_of_work(self.engine) as session:
            resale_rate = sourcing_policy(session).return_resale_rate
            return _refused_as_failure(
                lambda: transfers.apply_event(
                    session,
                    signal.node_id,
                    signal.event,
                    fingerprint,
                    resale_rate,
                    signal.received_at,
                )
            )

    @defn
    def cancel_transfer(self, input: CancelTransferInput) -> TransferNews:
        with unit_of_work(self.engine) as session:
            return _refused_as_failure(
                lambda: transfers.cancel(session, input.transfer_id, input.why, input.now)
            )

    @defn
    def declare_transfer_lost(self, input: TransferLostInput) -> TransferNews:
        with unit_of_work(self.engine) as session:
            return transfers.declare_lost(session, input.transfer_id, input.now)


class WorkflowStarts:
    """Workflows a workflow starts without becoming their parent: each lives its own life
    (a transfer outlives the plan that made it), and its id makes a second start the same
    workflow. Started through the client, not as child workflows, so that no closed parent
    is ever told of a child's end."""

    @defn
    async def start_transfers(self, input: StartTransfersInput) -> int:
        client, queue = activity.client(), activity.info().task_queue
        for transfer in input.plans:
            await client.start_workflow(
                TRANSFER_WORKFLOW,
                transfer,
                id=transfer_workflow_id(transfer.transfer_id),
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        return len(input.plans)

    @defn
    async def start_replenishment_run(self, input: StartRunInput) -> None:
        await activity.client().start_workflow(
            REPLENISHMENT_WORKFLOW,
            input.run,
            id=input.workflow_id,
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )


def first_pick_day(source: Node, now: datetime) -> date:
    """The source's own today, or tomorrow once its cut-off has passed."""
    local = now.astimezone(ZoneInfo(source.timezone))
    return local.date() + timedelta(days=1 if local.time() >= source.cutoff else 0)


def _refused_as_failure(work: Callable[[], TransferNews]) -> TransferNews:
    """A business refusal (an event that no longer fits) fails the activity for good: the
    workflow notes it, retrying cannot help."""
    try:
        return work()
    except DomainError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
