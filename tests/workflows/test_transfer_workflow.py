"""The transfer workflow as the stores live it: DC-PARIS sends 20 x SKU-1 to STORE-LILLE,
which holds 12. Once through a worker killed on the way (the real `oms worker` process,
PostgreSQL), the units reach the shelf once; once on the time-skipping server, the
shuttle never arrives, the units are declared lost and the store is planned again."""

import asyncio
import signal
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from activities.replenishment import PlanReplenishmentResult
from db import future_stock, ledger, transfers
from db.engine import make_engine, read_only, unit_of_work
from db.network import load_network
from db.tables import ProposalRow, StockRow, SupplyRow
from domain.network import NetworkDocument
from domain.transfer import (
    LOST_AFTER_DAYS,
    Transfer,
    TransferEntry,
    TransferEvent,
    TransferPlan,
    TransferSignal,
    TransferStatus,
)
from tests.networks import small_network
from tests.reliability.test_crashes import Oms, Receiver, connect
from worker.main import build_worker
from workflows.contracts import TransferSignalName, transfer_workflow_id
from workflows.transfer import TransferWorkflow

STOCK = {
    ("SKU-1", "DC-PARIS"): 50,
    ("SKU-1", "DC-LYON"): 30,
    ("SKU-1", "STORE-LILLE"): 12,
}
UNITS = 20  # Paris to Lille
T = TypeVar("T")


# The time-skipping test server sometimes stops advancing for good, every process idle
# (issue 18: seen in rehearsals, and once here in a full run). A wait past this is that
# stall, not the transfer's doing: the test says so and skips rather than hang.
STALL_SECONDS = 240


async def past_stall(waiting: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(waiting, timeout=STALL_SECONDS)
    except TimeoutError:
        pytest.skip("the time-skipping test server stalled (issue 18), not the transfer")


def load(engine: Engine, lille_safety_stock: int = 0) -> None:
    document = small_network(STOCK)
    for row in document["stock"]:
        if (row["sku"], row["node_id"]) == ("SKU-1", "STORE-LILLE"):
            row["safety_stock"] = lille_safety_stock
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(document))


def paris_to_lille(transfer_id: str) -> TransferPlan:
    return TransferPlan(
        transfer_id=transfer_id,
        source_node_id="DC-PARIS",
        destination_node_id="STORE-LILLE",
        lines=[("SKU-1", UNITS)],
        transit_days=1,
    )


def at_node(node_id: str, kind: str, transfer_id: str, now: datetime) -> TransferSignal:
    """What a node's field system says, as the API hands it to the workflow."""
    return TransferSignal(
        node_id=node_id,
        event=TransferEvent(event_id=uuid.uuid4().hex, type=kind, transfer_id=transfer_id),
        received_at=now,
    )


async def transfer_when(
    engine: Engine, transfer_id: str, status: TransferStatus, seconds: float = 120
) -> tuple[Transfer, list[TransferEntry]]:
    """The transfer as the ledger has it once it reached `status`."""
    deadline = monotonic() + seconds
    found = None
    while monotonic() < deadline:
        with read_only(engine) as session:
            found = transfers.read(session, transfer_id)
        if found is not None and found[0].status == status:
            return found
        await asyncio.sleep(0.1)
    last = found[0].status if found else "nothing"
    raise AssertionError(f"transfer {transfer_id} never became {status}: {last}")


def stock(engine: Engine, node_id: str, sku: str = "SKU-1") -> tuple[int, int]:
    with read_only(engine) as session:
        row = session.get(StockRow, (sku, node_id))
        return (row.on_hand, row.reserved) if row else (0, 0)


def supply_line(engine: Engine, transfer_id: str) -> SupplyRow:
    """The store's supply line for the transfer's one line (SKU-1)."""
    with read_only(engine) as session:
        line = session.get(SupplyRow, f"{transfer_id}.0")
    assert line is not None and (line.kind, line.node_id) == ("transfer", "STORE-LILLE")
    return line


@pytest.mark.postgres
@pytest.mark.e2e
async def test_a_transfer_with_its_worker_killed_on_the_way_reaches_the_store_once(
    tmp_path, pg_url
):
    engine = make_engine(pg_url)
    load(engine)
    receiver = Receiver()
    oms = Oms(tmp_path, pg_url, receiver.url)
    transfer_id = "T-CRASH-1"
    try:
        oms.start_temporal()
        oms.start_worker()
        client = await connect(oms.port)
        handle = await client.start_workflow(
            TransferWorkflow.run,
            paris_to_lille(transfer_id),
            id=transfer_workflow_id(transfer_id),
            task_queue=oms.env["OMS_TASK_QUEUE"],
        )
        await transfer_when(engine, transfer_id, TransferStatus.RELEASED)
        assert stock(engine, "DC-PARIS") == (50, UNITS)  # held: online orders cannot take it

        picked = at_node("DC-PARIS", "picked", transfer_id, datetime.now(UTC))
        await handle.signal(TransferSignalName.NODE_EVENT, picked)
        await transfer_when(engine, transfer_id, TransferStatus.PICKED)
        shipped = at_node("DC-PARIS", "shipped", transfer_id, datetime.now(UTC))
        await handle.signal(TransferSignalName.NODE_EVENT, shipped)
        oms.kill(oms.worker)  # while it takes the shipment through the ledger
        assert oms.worker is not None and oms.worker.returncode == -signal.SIGKILL
        oms.start_worker()
        await transfer_when(engine, transfer_id, TransferStatus.SHIPPED, seconds=180)

        received = at_node("STORE-LILLE", "received", transfer_id, datetime.now(UTC))
        await handle.signal(TransferSignalName.NODE_EVENT, received)
        await handle.signal(TransferSignalName.NODE_EVENT, received)  # the store's retry
        _, timeline = await transfer_when(engine, transfer_id, TransferStatus.RECEIVED)
        result = await asyncio.wait_for(handle.result(), timeout=60)
    finally:
        oms.stop()
        receiver.server.shutdown()

    assert result.status == TransferStatus.RECEIVED
    assert [entry.type for entry in timeline] == ["released", "picked", "shipped", "received"]
    assert stock(engine, "STORE-LILLE") == (12 + UNITS, 0)  # on the shelf once
    assert stock(engine, "DC-PARIS") == (50 - UNITS, 0)  # left once, nothing held any more
    line = supply_line(engine, transfer_id)
    assert (line.status, line.received) == ("closed", UNITS)
    with read_only(engine) as session:
        assert ledger.balance_problems(session) == []
        assert future_stock.balance_problems(session) == []
    engine.dispose()


async def test_a_transfer_never_received_is_lost_and_the_store_planned_again(
    ts_env: WorkflowEnvironment, task_queue: str, engine: Engine
):
    # Lille keeps 15 on its shelf (safety stock) and 1 protected from online orders: with
    # no sales, its target is 16, which the 20 on their way cover. Lost, it misses 4.
    load(engine, lille_safety_stock=15)
    transfer_id = f"T-LOST-{uuid.uuid4().hex[:6]}"
    async with build_worker(ts_env.client, task_queue, engine):
        handle = await ts_env.client.start_workflow(
            TransferWorkflow.run,
            paris_to_lille(transfer_id),
            id=transfer_workflow_id(transfer_id),
            task_queue=task_queue,
        )
        await transfer_when(engine, transfer_id, TransferStatus.RELEASED)
        for kind, status in (
            ("picked", TransferStatus.PICKED),
            ("shipped", TransferStatus.SHIPPED),
        ):
            now = await ts_env.get_current_time()
            await handle.signal(
                TransferSignalName.NODE_EVENT, at_node("DC-PARIS", kind, transfer_id, now)
            )
            shipped, _ = await transfer_when(engine, transfer_id, status)
        assert stock(engine, "DC-PARIS") == (50 - UNITS, 0)  # the units left Paris
        assert shipped.eta is not None

        lost = await past_stall(handle.result())  # Lille never says it received them
        replan = ts_env.client.get_workflow_handle(
            f"replan-{transfer_id}-1", result_type=PlanReplenishmentResult
        )
        run = await past_stall(replan.result())
        [again] = run.transfers
        await transfer_when(engine, again.transfer_id, TransferStatus.RELEASED)

    assert lost.status == TransferStatus.LOST
    # Lille had until the end of the third day after the ETA to say it received them.
    last_day = datetime.combine(shipped.eta + timedelta(days=LOST_AFTER_DAYS), time(23, 59), UTC)
    assert last_day <= lost.updated_at < last_day + timedelta(hours=1)
    [lost_line] = lost.lines
    assert (lost_line.shipped, lost_line.received, lost_line.lost) == (UNITS, 0, UNITS)
    with read_only(engine) as session:
        found = transfers.read(session, transfer_id)
        assert found is not None and found[0].status == TransferStatus.LOST
        assert [entry.type for entry in found[1]][-1] == "lost"
    line = supply_line(engine, transfer_id)
    assert (line.status, line.expected, line.received) == ("closed", 0, 0)  # nothing coming
    assert stock(engine, "STORE-LILLE") == (12, 0)  # nothing arrived

    with read_only(engine) as session:
        [proposal] = session.exec(
            select(ProposalRow).where(
                ProposalRow.store_id == "STORE-LILLE", ProposalRow.sku == "SKU-1"
            )
        ).all()
    assert proposal.run_id == run.run_id
    assert (proposal.qty, proposal.source_node_id) == (4, "DC-PARIS")
    assert proposal.explanation["inbound"] == 0  # the lost units are not counted as coming
    assert proposal.status == "applied" and proposal.transfer_id == again.transfer_id
    assert again.lines == [("SKU-1", 4)]
    assert stock(engine, "DC-PARIS") == (50 - UNITS, 4)  # the new transfer holds its units


async def test_a_transfer_its_source_never_ships_is_called_off_and_sent_from_elsewhere(
    ts_env: WorkflowEnvironment, task_queue: str, engine: Engine
):
    load(engine, lille_safety_stock=15)  # without the 20, Lille misses 4
    transfer_id = f"T-IDLE-{uuid.uuid4().hex[:6]}"
    async with build_worker(ts_env.client, task_queue, engine):
        handle = await ts_env.client.start_workflow(
            TransferWorkflow.run,
            paris_to_lille(transfer_id),
            id=transfer_workflow_id(transfer_id),
            task_queue=task_queue,
        )
        released, _ = await transfer_when(engine, transfer_id, TransferStatus.RELEASED)
        assert stock(engine, "DC-PARIS") == (50, UNITS)

        called_off = await past_stall(handle.result())  # Paris never picks: days go by
        replan = ts_env.client.get_workflow_handle(
            f"replan-{transfer_id}-1", result_type=PlanReplenishmentResult
        )
        [again] = (await past_stall(replan.result())).transfers
        await transfer_when(engine, again.transfer_id, TransferStatus.RELEASED)

    assert called_off.status == TransferStatus.CANCELLED
    assert called_off.reason is not None and "not shipped by" in called_off.reason
    assert released.pick_day is not None
    assert called_off.updated_at.date() == released.pick_day + timedelta(days=2)
    assert stock(engine, "DC-PARIS") == (50, 0)  # its units are free again
    assert supply_line(engine, transfer_id).status == "cancelled"
    # The store is served from elsewhere: not from the node that let it down.
    assert (again.source_node_id, again.lines) == ("DC-LYON", [("SKU-1", 4)])
