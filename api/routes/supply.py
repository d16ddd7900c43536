"""Future stock: events of the buying and returns systems about supply lines (purchase
orders, customer returns on their way). Each event applies once per event_id; pre-orders
a receipt served, or whose units moved or will not come, are told at once."""

import hashlib

from fastapi import APIRouter, HTTPException, status
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import CallerDep, EngineDep, NodeField, NowDep, SettingsDep, TemporalDep
from db import future_stock
from db.engine import unit_of_work
from db.network import node_exists
from db.policies import active_policy
from db.tables import SkuRow, SupplyRow
from domain.future_stock import OPENS_A_LINE, SupplyEvent, SupplyEventResult
from workflows.contracts import SUPPLY_NEWS_WORKFLOW, supply_news_workflow_id
from workflows.supply_news import SupplyNewsInput

router = APIRouter(prefix="/v1/supply", tags=["supply"])


@router.post("/events", response_model=SupplyEventResult, dependencies=NodeField)
async def supply_event(
    event: SupplyEvent,
    caller: CallerDep,
    engine: EngineDep,
    settings: SettingsDep,
    client: TemporalDep,
    now: NowDep,
) -> SupplyEventResult:
    """A purchase order created, changed, cancelled, shipped by the supplier (asn) or
    received; a customer return authorised or received. Received units serve the
    pre-orders waiting for them, oldest first, before any new order can take them. A
    node's system speaks of the supply lines of its own nodes only."""
    fingerprint = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
    with unit_of_work(engine) as session:
        if event.node_id is not None:
            caller.check("node", event.node_id)
        line = session.get(SupplyRow, event.supply_id)
        if line is not None:
            caller.check("node", line.node_id)  # a line opened at another node is not its
        if event.type in OPENS_A_LINE:
            assert event.sku is not None and event.node_id is not None  # the validator
            if not node_exists(session, event.node_id):
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown node {event.node_id}")
            if session.get(SkuRow, event.sku) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {event.sku}")
        resale_rate = active_policy(session).return_resale_rate
        result = future_stock.apply_event(session, event, fingerprint, resale_rate, now)
    if result.orders:
        # Told through a workflow: durable once started; a retried event (the field's
        # answer lost) starts it again if this call died before.
        await _tell(client, settings.task_queue, event, result.orders)
    return result  # the promise sees the line as it is now within a second


async def _tell(client: Client, task_queue: str, event: SupplyEvent, orders: list[str]) -> None:
    try:
        await client.start_workflow(
            SUPPLY_NEWS_WORKFLOW,
            SupplyNewsInput(event_id=event.event_id, supply_id=event.supply_id, orders=orders),
            id=supply_news_workflow_id(event.event_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # told already: a replay changes nothing
