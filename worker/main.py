"""Build and run the OMS worker. Tests build theirs with the same functions."""

import asyncio
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.carriers import CarrierActivities, CarrierGateway, SimulatedCarrier
from activities.field_watch import FieldWatchActivities
from activities.incidents import IncidentActivities
from activities.inventory import InventoryActivities
from activities.notifications import (
    LogSink,
    NotificationActivities,
    NotificationSink,
    WebhookSink,
    relay_outbox,
)
from activities.orders import OrderActivities
from activities.preorders import PreorderActivities
from activities.reconcile import ReconcileActivities, ReconcileInput
from activities.replenishment import (
    ReplenishmentActivities,
    ReplenishmentRunInput,
    WorkflowStarts,
)
from config import Settings, get_settings, tracing
from config.logs import configure_logging
from config.temporal import connect_temporal
from db.engine import make_engine
from db.migrate import upgrade_at_start
from workflows.contracts import (
    FIELD_WATCH_ID,
    RECONCILE_SCHEDULE_ID,
    RECONCILE_WORKFLOW,
    REPLENISHMENT_SCHEDULE_ID,
    REPLENISHMENT_WORKFLOW,
)
from workflows.field_watch import FieldWatchInput, FieldWatchWorkflow
from workflows.incident import IncidentWorkflow
from workflows.order import OrderWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.replenishment import ReplenishmentWorkflow
from workflows.supply_news import SupplyNewsWorkflow
from workflows.transfer import TransferWorkflow

WORKFLOWS = [
    OrderWorkflow,
    IncidentWorkflow,
    FieldWatchWorkflow,
    ReconcileWorkflow,
    SupplyNewsWorkflow,
    TransferWorkflow,
    ReplenishmentWorkflow,
]

log = logging.getLogger("oms.worker")
GRACE = timedelta(seconds=20)


def build_activities(
    engine: Engine,
    carrier: CarrierGateway | None = None,
    sinks: list[NotificationSink] | None = None,
) -> list:
    """Every activity of the OMS, bound to its dependencies."""
    inventory = InventoryActivities(engine)
    preorders = PreorderActivities(engine)
    carrier = carrier or SimulatedCarrier(engine)
    carriers = CarrierActivities(carrier)
    notifications = NotificationActivities(engine, sinks if sinks is not None else [LogSink()])
    orders = OrderActivities(engine)
    incidents = IncidentActivities(engine)
    watch = FieldWatchActivities(engine)
    reconciliation = ReconcileActivities(engine, carrier)
    replenishment = ReplenishmentActivities(engine)
    starts = WorkflowStarts()
    return [
        starts.start_transfers,
        starts.start_replenishment_run,
        replenishment.plan_replenishment,
        replenishment.start_transfer,
        replenishment.apply_transfer_event,
        replenishment.cancel_transfer,
        replenishment.declare_transfer_lost,
        reconciliation.reconcile,
        watch.find_late_handovers,
        incidents.find_touched,
        incidents.find_touched_page,
        incidents.save_outcomes,
        inventory.source_order,
        inventory.reserve_stock,
        inventory.release_stock,
        inventory.commit_stock,
        inventory.write_off_short_pick,
        inventory.ship_unheld,
        inventory.book_capacity,
        inventory.release_capacity,
        preorders.plan_preorder,
        preorders.hold_preorder,
        preorders.preorder_news,
        preorders.plan_held,
        carriers.book_carrier,
        carriers.cancel_booking,
        notifications.notify,
        orders.record_order,
    ]


def default_sinks(settings: Settings) -> list[NotificationSink]:
    sinks: list[NotificationSink] = [LogSink()]
    if settings.webhook_url:
        sinks.append(WebhookSink(settings.webhook_url, settings.webhook_secret.get_secret_value()))
    return sinks


def build_worker(
    client: Client,
    task_queue: str,
    engine: Engine,
    sinks: list[NotificationSink] | None = None,
    max_activity_threads: int = 32,
    carrier: CarrierGateway | None = None,
    max_cached_workflows: int = 1000,
    sandboxed: bool = True,
) -> Worker:
    # The activities' SQL as spans under their RunActivity span, when tracing is on; the
    # Temporal spans come with the client's interceptors (config/temporal.py).
    tracing.instrument_engine(engine)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(engine, carrier, sinks),
        activity_executor=ThreadPoolExecutor(max_activity_threads),
        max_concurrent_activities=max_activity_threads,
        # Orders in flight beyond the cache are replayed from history at each event.
        max_cached_workflows=max_cached_workflows,
        workflow_runner=SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner(),
        # On shutdown, running activities get this long to finish before they are cancelled.
        graceful_shutdown_timeout=GRACE,
    )


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    tracing.start("oms-worker")  # when the OTEL_* settings ask; before the client connects
    # The sandbox imports the workflow modules again for every order it starts: compiled
    # once to bytecode, they are not parsed each time (even with PYTHONDONTWRITEBYTECODE).
    sys.dont_write_bytecode = False
    # SIGTERM (a container stopping, `oms run` restarting it) or Ctrl-C, from the start:
    # stop polling, let running activities finish within GRACE, and exit 0.
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    upgrade_at_start(settings.sqlalchemy_url, settings.skip_migrations)
    engine = make_engine(settings.sqlalchemy_url)
    client = await connect_temporal(settings)
    worker = build_worker(
        client,
        settings.task_queue,
        engine,
        default_sinks(settings),
        max_cached_workflows=settings.worker_cached_workflows,
        sandboxed=settings.worker_sandbox,
        max_activity_threads=settings.worker_activity_threads,
    )
    await start_field_watch(client, settings.task_queue)
    await schedule_reconciliation(client, settings.task_queue)
    await schedule_replenishment(client, settings.task_queue)
    log.info("worker on task queue %s at %s", settings.task_queue, settings.temporal_address)
    relay = asyncio.create_task(
        relay_outbox(NotificationActivities(engine, default_sinks(settings)))
    )
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait(
            [running, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if stopping.is_set():
            log.info("stopping: running activities get %s to finish", GRACE)
            await worker.shutdown()
        await running
    finally:
        relay.cancel()
        tracing.flush()  # `oms worker` leaves with os._exit: no atexit sends the last spans
    log.info("worker stopped")


async def start_field_watch(client: Client, task_queue: str) -> None:
    """Start the network's field watch, unless it runs already (every worker asks)."""
    await client.start_workflow(
        FieldWatchWorkflow.run,
        FieldWatchInput(),
        id=FIELD_WATCH_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def main() -> None:
    configure_logging(get_settings().log_format)
    asyncio.run(run_worker())


async def schedule_reconciliation(client: Client, task_queue: str) -> None:
    """The hourly reconciliation (`oms reconcile` does the same by hand)."""
    await _schedule(
        client,
        RECONCILE_SCHEDULE_ID,
        ScheduleActionStartWorkflow(
            RECONCILE_WORKFLOW, ReconcileInput(), id=RECONCILE_SCHEDULE_ID, task_queue=task_queue
        ),
        timedelta(hours=1),
        "run `oms reconcile` instead",
    )


async def schedule_replenishment(client: Client, task_queue: str) -> None:
    """The daily store replenishment plan, at 05:00 UTC, before the stores open and the
    warehouses' first wave (`POST /v1/replenishment/run` does the same on demand)."""
    await _schedule(
        client,
        REPLENISHMENT_SCHEDULE_ID,
        ScheduleActionStartWorkflow(
            REPLENISHMENT_WORKFLOW,
            ReplenishmentRunInput(),
            id=REPLENISHMENT_SCHEDULE_ID,
            task_queue=task_queue,
        ),
        timedelta(days=1),
        "run it with POST /v1/replenishment/run",
        offset=timedelta(hours=5),
    )


async def _schedule(
    client: Client,
    schedule_id: str,
    action: ScheduleActionStartWorkflow,
    every: timedelta,
    instead: str,
    offset: timedelta = timedelta(0),
) -> None:
    """A Temporal Schedule, unless it exists (every worker asks). A server without
    schedules (the rehearsal's test server) is told and skipped."""
    schedule = Schedule(
        action=action,
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=offset)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        pass
    except RPCError as exc:
        log.warning("no %s schedule (%s): %s", schedule_id, exc.message, instead)
