"""Reconciliation: what an order workflow ended from outside (terminated, failed, timed out,
or cancelled before it could clean up) left behind is given back, and the order marked
failed; an order whose workflow still runs is never touched.

Run every hour by a Temporal Schedule (workflows/reconcile.py), by `oms reconcile`, and by
`POST /v1/admin/reconcile`; `GET /v1/admin/reconcile` only looks.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.carriers import CarrierGateway
from db import holdings, transfers
from db.engine import read_only, unit_of_work
from domain.transfer import TransferStatus
from workflows.contracts import (
    RECONCILE_SCHEDULE_ID,
    RECONCILE_WORKFLOW,
    order_workflow_id,
    transfer_workflow_id,
)

log = logging.getLogger("oms.reconcile")

AT_ONCE = 20  # workflows described at a time


class Leftover(BaseModel):
    """What a closed order held, and was given back (or would be, when only looking)."""

    order_id: str
    workflow: str  # how its workflow ended: terminated, failed, timed_out, canceled, ..., gone
    units_released: int = 0
    slots_released: list[str] = []
    bookings_cancelled: list[str] = []


class ReconcileReport(BaseModel):
    at: datetime
    fixed: bool  # False: only looked
    checked: int  # orders holding something, or shown open
    running: int  # of those, with a running workflow: left alone
    leftovers: list[Leftover]
    running_without_holds: list[str]  # running, released or picked, holding no stock
    # Transfers whose workflow ended before they were settled: units still held at their
    # source given back, units on their way written off as lost (the store planned again
    # by the next daily plan).
    transfers_given_back: list[str] = []


class ReconcileInput(BaseModel):
    fix: bool = True


async def reconcile(
    engine: Engine, client: Client, carrier: CarrierGateway, fix: bool
) -> ReconcileReport:
    with read_only(engine) as session:
        suspects = sorted(holdings.holders(session))
        empty = holdings.holding_nothing(session)
        moving = sorted(holdings.open_transfers(session))
    ended = await _how_they_ended(client, sorted(set(suspects) | empty), order_workflow_id)
    stopped = await _how_they_ended(client, moving, transfer_workflow_id)
    if fix:
        for transfer_id, ending in stopped.items():
            await asyncio.to_thread(_call_off, engine, transfer_id, ending)
    leftovers = []
    for order_id in suspects:
        how = ended.get(order_id)
        if how is None:
            continue  # running: its workflow gives back what it holds
        leftover = Leftover(order_id=order_id, workflow=how)
        if fix:
            await asyncio.to_thread(_give_back, engine, carrier, leftover)
        leftovers.append(leftover)
    report = ReconcileReport(
        at=datetime.now(UTC),
        fixed=fix,
        checked=len(suspects),
        running=sum(1 for order_id in suspects if order_id not in ended),
        leftovers=leftovers,
        running_without_holds=sorted(order_id for order_id in empty if order_id not in ended),
        transfers_given_back=sorted(stopped),
    )
    if leftovers:
        log.warning(
            "reconcile: %s %d order(s) their workflow left behind: %s",
            "gave back what" if fix else "found what",
            len(leftovers),
            ", ".join(f"{x.order_id} ({x.workflow})" for x in leftovers),
        )
    return report


def _give_back(engine: Engine, carrier: CarrierGateway, leftover: Leftover) -> None:
    why = f"{holdings.RECONCILED} ({leftover.workflow}) without closing the order"
    with unit_of_work(engine) as session:
        given = holdings.give_back(session, leftover.order_id, why, datetime.now(UTC))
    leftover.units_released = given["units_released"]
    leftover.slots_released = given["slots_released"]
    for shipment_id, _carrier_id in given["bookings"]:
        if carrier.cancel(shipment_id):
            leftover.bookings_cancelled.append(shipment_id)


def _call_off(engine: Engine, transfer_id: str, how: str) -> None:
    why = f"its workflow ended ({how}) before the units left"
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        found = transfers.read(session, transfer_id)
        if found is not None and found[0].status == TransferStatus.SHIPPED:
            transfers.declare_lost(session, transfer_id, now)
        else:
            transfers.cancel(session, transfer_id, why, now)


async def _how_they_ended(
    client: Client, order_ids: list[str], workflow_id: Callable[[str], str]
) -> dict[str, str]:
    """How each workflow ended, for those not running (gone: no such workflow)."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(order_id: str) -> tuple[str, str | None]:
        async with gate:
            try:
                described = await client.get_workflow_handle(workflow_id(order_id)).describe()
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return order_id, "gone"
                raise
        status = described.status
        if status in (None, WorkflowExecutionStatus.RUNNING):
            return order_id, None
        return order_id, status.name.lower()

    answers = await asyncio.gather(*(one(order_id) for order_id in order_ids))
    return {order_id: how for order_id, how in answers if how is not None}


class ReconcileActivities:
    def __init__(self, engine: Engine, carrier: CarrierGateway):
        self.engine = engine
        self.carrier = carrier

    @activity.defn(name="reconcile", no_thread_cancel_exception=True)
    async def reconcile(self, input: ReconcileInput) -> ReconcileReport:
        return await reconcile(self.engine, activity.client(), self.carrier, input.fix)


async def reconcile_now(client: Client, task_queue: str, fix: bool) -> ReconcileReport:
    """Run the reconciliation now, in a worker (it holds the carrier's gateway), as a run
    of its own next to the schedule's."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return await client.execute_workflow(
        RECONCILE_WORKFLOW,
        ReconcileInput(fix=fix),
        id=f"{RECONCILE_SCHEDULE_ID}-now-{stamp}",
        task_queue=task_queue,
        result_type=ReconcileReport,
    )
