"""Store replenishment: the daily plan run on demand, its proposals (each explains its
numbers), their approval, and the replenishment policy the retailer edits without code."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDConflictPolicy

from activities.replenishment import PlanReplenishmentResult, ReplenishmentRunInput
from api.deps import Admin, EngineDep, Operator, SessionDep, SettingsDep, TemporalDep
from db import replenishment
from db.engine import unit_of_work
from db.network import known_skus, read_node
from domain.errors import Unavailable
from domain.ids import Id
from domain.replenishment import Explanation, ReplenishmentPolicy
from workflows.contracts import REPLENISHMENT_WORKFLOW, TRANSFER_WORKFLOW, transfer_workflow_id

router = APIRouter(tags=["replenishment"])


class RunBody(BaseModel):
    stores: list[Id] = Field(default=[], max_length=5000)  # empty: every store
    skus: list[Id] = Field(default=[], max_length=10_000)  # empty: every SKU


@router.post("/v1/replenishment/run", response_model=PlanReplenishmentResult, dependencies=[Admin])
async def run_replenishment(
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    request: Request,
    body: RunBody | None = None,
) -> PlanReplenishmentResult:
    """Run the replenishment plan now (the schedule runs it every day): proposals for
    every store (or the ones named), applied at once or left for approval, per policy."""
    body = body or RunBody()
    for store_id in body.stores:
        node = read_node(session, store_id)
        if node is None or node.type != "store":
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown store {store_id}")
    unknown = sorted(set(body.skus) - known_skus(session, body.skus))
    if unknown:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {', '.join(unknown[:5])}")
    stamp = request.app.state.clock().strftime("%Y%m%dT%H%M%S%f")
    try:
        return await client.execute_workflow(
            REPLENISHMENT_WORKFLOW,
            ReplenishmentRunInput(stores=body.stores, skus=body.skus, why="on demand"),
            id=f"replenishment-now-{stamp}",
            task_queue=settings.task_queue,
            result_type=PlanReplenishmentResult,
        )
    except Exception as exc:
        raise Unavailable(f"the replenishment run did not finish: {exc}") from exc


class ProposalView(BaseModel):
    proposal_id: str
    run_id: str
    store_id: str
    sku: str
    qty: int
    source_node_id: str | None
    status: str
    explanation: Explanation
    transfer_id: str | None
    policy_version: int
    created_at: datetime
    decided_at: datetime | None


class ProposalList(BaseModel):
    proposals: list[ProposalView]


@router.get("/v1/replenishment/proposals", response_model=ProposalList, dependencies=[Operator])
def list_proposals(
    session: SessionDep,
    store_id: Id | None = None,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    run_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> ProposalList:
    """Proposals, newest first: what each store gets, from where, and why."""
    rows = replenishment.proposals(session, store_id, status_, run_id, limit)
    return ProposalList(proposals=[ProposalView.model_validate(row.model_dump()) for row in rows])


@router.post(
    "/v1/replenishment/proposals/{proposal_id}/approve",
    response_model=ProposalView,
    dependencies=[Admin],
)
async def approve_proposal(
    proposal_id: Id, engine: EngineDep, client: TemporalDep, settings: SettingsDep
) -> ProposalView:
    """Approve a proposal waiting for it: its transfer starts. Approved already: 409."""
    now = datetime.now(UTC)
    # The decision first (one conditional write: a second approval, or a newer plan that
    # superseded it, is a 409), then the transfer; a transfer that could not be started
    # gives the proposal back to its approvers.
    with unit_of_work(engine) as session:
        plan = replenishment.approval_plan(
            session, proposal_id, replenishment.active_policy(session)
        )
        replenishment.mark_approved(session, proposal_id, plan.transfer_id, now)
    try:
        await client.start_workflow(
            TRANSFER_WORKFLOW,
            plan,
            id=transfer_workflow_id(plan.transfer_id),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except Exception as exc:
        with unit_of_work(engine) as session:
            replenishment.reopen(session, proposal_id)
        raise Unavailable(f"the transfer could not be started: {exc}") from exc
    with unit_of_work(engine) as session:
        return ProposalView.model_validate(
            replenishment.proposal(session, proposal_id).model_dump()
        )


class ReplenishmentPolicyVersions(BaseModel):
    versions: list[ReplenishmentPolicy]


@router.put(
    "/v1/admin/replenishment-policy", response_model=ReplenishmentPolicy, dependencies=[Admin]
)
def save_replenishment_policy(
    policy: ReplenishmentPolicy, engine: EngineDep
) -> ReplenishmentPolicy:
    """Save a replenishment policy as a new version, in force from the next run."""
    with unit_of_work(engine) as session:
        return replenishment.save_policy(session, policy)


@router.get(
    "/v1/admin/replenishment-policy", response_model=ReplenishmentPolicy, dependencies=[Admin]
)
def replenishment_policy(session: SessionDep) -> ReplenishmentPolicy:
    """The replenishment policy in force."""
    return replenishment.active_policy(session)


@router.get(
    "/v1/admin/replenishment-policy/versions",
    response_model=ReplenishmentPolicyVersions,
    dependencies=[Admin],
)
def replenishment_policy_versions(session: SessionDep) -> ReplenishmentPolicyVersions:
    """Every saved version, newest first."""
    return ReplenishmentPolicyVersions(versions=replenishment.policy_versions(session))
