"""Incidents from warehouses, stores and carriers; the exception queue for support."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import (
    Admin,
    CallerDep,
    EngineDep,
    Field,
    NowDep,
    SessionDep,
    SettingsDep,
    Support,
    TemporalDep,
)
from api.paging import cursor_after, read_cursor
from db import incidents
from db import orders as read_model
from db.engine import unit_of_work
from db.network import read_network
from db.tables import SkuRow
from domain.errors import DuplicateEventConflict
from domain.ids import Id
from domain.incidents import Incident, IncidentOutcome
from domain.order import TimelineEntry
from workflows.contracts import INCIDENT_REPORT, INCIDENT_WORKFLOW, incident_workflow_id
from workflows.incident_messages import IncidentInput, IncidentReport

router = APIRouter(tags=["incidents"])


class IncidentAccepted(BaseModel):
    incident_id: str
    type: str
    workflow_id: str
    first_time: bool


class IncidentLifted(BaseModel):
    incident_id: str
    status: str


class IncidentView(BaseModel):
    incident: Incident
    status: str
    touched: list[str]
    outcomes: list[IncidentOutcome]
    timeline: list[TimelineEntry]


class ExceptionItem(BaseModel):
    order_id: str
    customer_id: str
    reason: str | None
    promised_by: str | None
    since: datetime


class ExceptionQueue(BaseModel):
    orders: list[ExceptionItem]
    next_cursor: str | None = None  # pass as `cursor` for the next page; None: no more


@router.post(
    "/v1/incidents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IncidentAccepted,
    dependencies=Field,
)
async def report_incident(
    incident: Incident,
    caller: CallerDep,
    engine: EngineDep,
    settings: SettingsDep,
    client: TemporalDep,
    request: Request,
    now: NowDep,
) -> IncidentAccepted:
    """A node losing capacity or closing, a carrier out, a count below the ledger: the OMS
    reroutes the orders it touches. The same incident_id sent again applies once. Days
    run at most 60 days and end yesterday at the earliest. A node's system reports about
    its own node, a carrier's about itself (admin about any)."""
    if incident.carrier_id:
        caller.check("carrier", incident.carrier_id)
    if incident.node_id:
        caller.check("node", incident.node_id)
    too_old = incident.out_of_date(now.date())
    if too_old is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, too_old)
    with unit_of_work(engine) as session:
        _check_references(session, incident)
        stored, first = incidents.record(session, incident)
        if stored != incident:
            raise DuplicateEventConflict(
                f"incident {incident.incident_id} was already received with a different body"
            )
    workflow_id = incident_workflow_id(incident.incident_id)
    await _start(client, settings.task_queue, workflow_id, incident)
    request.app.state.supply_chain.invalidate()  # promise stops offering what broke
    return IncidentAccepted(
        incident_id=incident.incident_id,
        type=incident.type,
        workflow_id=workflow_id,
        first_time=first,
    )


@router.post(
    "/v1/incidents/{incident_id}/lift", response_model=IncidentLifted, dependencies=[Admin]
)
def lift_incident(incident_id: Id, engine: EngineDep, request: Request) -> IncidentLifted:
    """The incident is over (or was reported by mistake): promises and plans stop counting
    it at once; orders it already moved stay where they are. Lifting twice changes nothing."""
    with unit_of_work(engine) as session:
        row = incidents.lift(session, incident_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    request.app.state.supply_chain.invalidate()  # the promise offers what it took away
    return IncidentLifted(incident_id=incident_id, status=incidents.LIFTED)


@router.get("/v1/incidents/{incident_id}", response_model=IncidentView, dependencies=[Support])
async def incident_history(
    incident_id: str, session: SessionDep, client: TemporalDep
) -> IncidentView:
    """The incident, the orders it touched and what became of each."""
    row = incidents.get(session, incident_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    try:
        handle = client.get_workflow_handle(incident_workflow_id(incident_id))
        report = await handle.query(INCIDENT_REPORT, result_type=IncidentReport)
    except RPCError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"incident history unavailable: {exc.message}"
        ) from exc
    touched, outcomes = report.touched, report.outcomes
    listed = incidents.touched_orders(session, incident_id)
    if listed is not None:  # told a page at a time: the database holds every run's part
        touched, saved = listed
        known = {o.order_id for o in saved}
        outcomes = [*saved, *(o for o in report.outcomes if o.order_id not in known)]
    return IncidentView(
        incident=report.incident,
        status=row.status,
        touched=touched,
        outcomes=outcomes,
        timeline=report.timeline,
    )


@router.get("/v1/exceptions", response_model=ExceptionQueue, dependencies=[Support])
def exception_queue(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ExceptionQueue:
    """Orders the OMS could not reroute on its own, the longest waiting first, with the
    reason, a page at a time (`next_cursor`)."""
    rows = read_model.exceptions(session, limit, read_cursor(cursor), channel=caller.channel)
    last = rows[-1] if len(rows) == limit else None
    return ExceptionQueue(
        orders=[
            ExceptionItem(
                order_id=row.order_id,
                customer_id=row.customer_id,
                reason=row.view.get("reason"),
                promised_by=row.promised_by.isoformat() if row.promised_by else None,
                since=row.updated_at,
            )
            for row in rows
        ],
        next_cursor=cursor_after(last.updated_at, last.order_id) if last else None,
    )


def _check_references(session, incident: Incident) -> None:
    network = read_network(session)
    if incident.node_id and incident.node_id not in network.nodes:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown node {incident.node_id}")
    carriers = {c.id: c for c in network.carriers}
    if incident.carrier_id:
        carrier = carriers.get(incident.carrier_id)
        if carrier is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown carrier {incident.carrier_id}")
        if incident.service_id and incident.service_id not in {s.id for s in carrier.services}:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"carrier {incident.carrier_id} has no service {incident.service_id}",
            )
    if incident.sku and session.get(SkuRow, incident.sku) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {incident.sku}")


async def _start(client: Client, task_queue: str, workflow_id: str, incident: Incident) -> None:
    try:
        await client.start_workflow(
            INCIDENT_WORKFLOW,
            IncidentInput(incident=incident),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # handled already: a replay changes nothing
