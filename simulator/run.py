"""Run a scenario on the real OMS: its order and incident workflows and activities (in
`oms worker` processes), on a Temporal time-skipping server whose virtual clock advances in
steps, its API (in this process) and a fresh database. Checkout, the field and support act
through the API at the virtual time their actions fall due.
"""

import asyncio
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from google.protobuf.empty_pb2 import Empty
from sqlmodel import Session
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import GrpcCompression, RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli.children import dying_with_parent
from config import Settings
from config.settings import ROLES
from db.engine import make_engine
from db.migrate import upgrade
from db.reports import orders_by_status
from domain.order import CLOSED_STATUSES, OrderStatus
from domain.policy import PRESETS
from simulator.demand import Cart, carts
from simulator.field import Field
from simulator.oms_client import OmsClient
from simulator.report import build_report
from simulator.scenario import Scenario, weeks_until
from simulator.stall import Waiting, waiting_on
from simulator.stores import Stores
from simulator.supply import SupplyField
from workflows import search_attributes

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
OMS = Path(sys.executable).parent / "oms"
WORKERS = 2  # worker processes: the machine's cores, not one interpreter's lock, set the pace
TASK_QUEUE = "simulation"
CONCURRENCY = 24  # API calls in flight at once, as many checkouts and field systems would be
OPEN = [s.value for s in OrderStatus if s not in CLOSED_STATUSES]


STALL_AFTER = timedelta(seconds=60)  # wall time with virtual time frozen: say what holds it
CONFIRM_AFTER = timedelta(seconds=30)  # then, nothing outstanding moved either: stop
# Frozen this long, stop even if something moves: a local activity retried inside its
# workflow task (backoff under the SDK's 1-minute local retry threshold) keeps the task alive
# with heartbeats, new history events each time, and holds the clock for good all the same.
GIVE_UP_AFTER = timedelta(minutes=10)
STEP_RPC_TIMEOUT = timedelta(minutes=5)  # one call; the watchdog, not this, judges a stall
WATCH_EVERY = 5.0  # seconds between two reads of the virtual clock while a step runs


class RehearsalStalled(RuntimeError):
    """Virtual time stopped for good: something the test server counts as running never ends."""


class VirtualClock:
    """The test server's clock, read without a call: between steps it runs at wall speed."""

    def __init__(
        self,
        client: Client,
        show: Callable[[str], None] = lambda _: None,
        stall_after: timedelta = STALL_AFTER,
        confirm_after: timedelta = CONFIRM_AFTER,
    ):
        self.client = client
        self.show = show
        self.stall_after = stall_after.total_seconds()
        self.confirm_after = confirm_after.total_seconds()
        self._base = datetime.min
        self._wall = 0.0

    async def sync(self) -> datetime:
        answer = await self.client.test_service.get_current_time(Empty())
        self._base = answer.time.ToDatetime().replace(tzinfo=UTC)
        self._wall = time.monotonic()
        return self._base

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._wall)

    async def advance_to(self, target: datetime) -> None:
        """Let virtual time run to `target`; it only moves while no activity or workflow task
        is outstanding, so a busy peak hour can take minutes of wall time. Raises
        RehearsalStalled when it stops moving for good (see _watch)."""
        now = await self.sync()
        if target <= now:
            return
        request = SleepRequest()
        request.duration.FromTimedelta(target - now)
        sleep = asyncio.ensure_future(
            self.client.test_service.unlock_time_skipping_with_sleep(
                request, timeout=STEP_RPC_TIMEOUT
            )
        )
        try:
            await self._watch(sleep, target)
        finally:
            # On a stall: the server's own timer still takes the lock back at `target`.
            sleep.cancel()
        await self.sync()

    async def _watch(self, sleep: asyncio.Future, target: datetime) -> None:
        """Wait for the step, reading the clock meanwhile. While held, the server's clock
        runs at wall speed; a skip ahead of wall time is progress. Frozen for `stall_after`:
        say which workflows hold it; frozen `confirm_after` more with nothing outstanding
        changed (no attempt, heartbeat or history event), or frozen GIVE_UP_AFTER whatever
        moves: stop, since retrying the step would wait on the same task."""
        seen, seen_wall = self._base, self._wall
        suspect: Waiting | None = None
        suspected_at = 0.0
        gave_up = False  # the call timed out: the server's sleep goes on, watch its clock
        while True:
            if gave_up:
                await asyncio.sleep(WATCH_EVERY)
            else:
                await asyncio.wait({sleep}, timeout=WATCH_EVERY)
                if sleep.done():
                    error = sleep.exception()
                    if error is None:
                        return
                    if not (
                        isinstance(error, RPCError)
                        and error.status == RPCStatusCode.DEADLINE_EXCEEDED
                    ):
                        raise error
                    gave_up = True
            now = await self.sync()
            if gave_up and now >= target:  # the server's sleep re-locks at `target`
                return await self._settled()
            if (now - seen).total_seconds() - (self._wall - seen_wall) > 1:
                seen, seen_wall, suspect = now, self._wall, None
                continue
            frozen = time.monotonic() - seen_wall
            if suspect is None and frozen >= self.stall_after:
                suspect, suspected_at = await waiting_on(self.client), time.monotonic()
                self.show(
                    f"{seen:%a %d %b %H:%M} stall? virtual time has not moved for "
                    f"{frozen:.0f} s of wall time (stepping to {target:%H:%M}): "
                    f"{suspect.describe()}"
                )
            elif suspect is not None and time.monotonic() - suspected_at >= self.confirm_after:
                again = await waiting_on(self.client)
                if (
                    again.fingerprint() == suspect.fingerprint()
                    or frozen >= GIVE_UP_AFTER.total_seconds()
                ):
                    raise RehearsalStalled(
                        f"virtual time stopped at {seen:%a %d %b %H:%M:%S} (stepping to "
                        f"{target:%a %d %b %H:%M}) for {frozen:.0f} s of wall time: "
                        f"{again.describe()}"
                    )
                self.show(f"{seen:%a %d %b %H:%M} still frozen, but work moves: {again.describe()}")
                suspect, suspected_at = again, time.monotonic()

    async def _settled(self) -> None:
        """Until the server's clock runs at wall speed again: its lock is back."""
        while True:
            before, wall = await self.sync(), self._wall
            await asyncio.sleep(0.5)
            if (await self.sync() - before).total_seconds() - (self._wall - wall) < 0.1:
                return


@dataclass
class Progress:
    """What the run has done so far, for the operator's screen and the backlog chart."""

    carts: int = 0
    placed: int = 0
    lost_carts: int = 0  # the promise offered nothing: the customer left
    backlog: list[dict[str, Any]] = field(default_factory=list)


async def simulate(
    scenario: Scenario,
    policy_name: str = "balanced",
    show: Callable[[str], None] = lambda _: None,
    logs: Path | None = None,
    postgres: str | None = None,
    replenish: bool = True,
) -> dict[str, Any]:
    """Run `scenario` under one sourcing policy and return its report (report.json), on a
    fresh database: SQLite, or one made on the PostgreSQL server `postgres` (an admin URL)
    and dropped after. The workers' logs go to `logs` (default: a temporary folder). With
    `replenish`, the scenario's store replenishment policy plans every day (if it has one)."""
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="oms-sim-") as tmp,
        scratch_database(Path(tmp), postgres) as url,
    ):
        logs = logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        upgrade(url)
        engine = make_engine(url)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(guarded_test_server(Path(tmp))),
            data_converter=pydantic_data_converter,
        )
        try:
            client = await _client(env)
            await search_attributes.register(client)
            replenishment = replenish and scenario.replenishment is not None
            return await _run(
                scenario, policy_name, show, engine, client, started, logs, replenishment
            )
        finally:
            await env.shutdown()
            engine.dispose()


async def _client(env: WorkflowEnvironment) -> Client:
    """The simulator's own connection to the test server: a busy server can leave a
    keep-alive ping unanswered past its timeout, which drops the connection under the
    step in progress; and nothing gains from compressing calls to a server next door."""
    return await Client.connect(
        env.client.service_client.config.target_host,
        data_converter=pydantic_data_converter,
        keep_alive_config=None,
        grpc_compression=GrpcCompression.NONE,
    )


@contextmanager
def scratch_database(folder: Path, postgres: str | None) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{folder / 'oms.db'}"
        return
    name = f"oms_sim_{secrets.token_hex(5)}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _run(
    scenario, policy_name, show, engine, client, started, logs, replenish
) -> dict[str, Any]:
    clock = VirtualClock(client, show)
    shift = weeks_until(scenario.period.start, await clock.sync())
    if shift:
        show(f"the scenario starts in the past: moved {shift} days later, same weekdays")
        scenario = scenario.shifted(shift)
    keys = {role: secrets.token_urlsafe(16) for role in ROLES}
    settings = Settings(
        task_queue=TASK_QUEUE,
        api_keys=",".join(f"{role}:{key}" for role, key in keys.items()),
        signing_secret=secrets.token_urlsafe(24),
        data_dir=Path(tempfile.gettempdir()),
    )
    # The API has its own connections, as in production where it is its own process.
    api_engine = make_engine(engine.url.render_as_string(hide_password=False))
    app = create_app(settings, api_engine, client, clock=clock.now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oms", timeout=60) as http:
        oms = OmsClient(http, keys)
        sim_field = Field(scenario, oms, engine, clock.now)
        suppliers = SupplyField(scenario, oms, sim_field.at)
        stores = Stores(scenario, oms, engine, sim_field.at, clock.now)
        sim_field.on_transfer = stores.transfer_released
        progress = Progress()
        workers = start_workers(client, engine.url.render_as_string(hide_password=False), logs)
        try:
            await _setup(oms, scenario, policy_name, replenish)
            suppliers.plan(scenario.period.start)
            stores.plan()
            await _drive(scenario, clock, oms, sim_field, stores, engine, progress, show, replenish)
        finally:
            stop(workers)
        end = await clock.sync()
    api_engine.dispose()
    return build_report(
        scenario,
        policy_name,
        engine,
        progress,
        sim_field.stats,
        suppliers.stats,
        label=label(policy_name, scenario, replenish),
        stores=stores.figures() if scenario.store_sales or replenish else None,
        refused=oms.refused,
        failed=oms.failed,
        end=end,
        wall_seconds=time.monotonic() - started,
        shifted_days=shift,
    )


def guarded_test_server(folder: Path) -> Path:
    """An executable that starts the test server under simulator.server_guard, so that the
    server ends with this rehearsal even if it is killed."""
    script = folder / "temporal-test-server"
    script.write_text(
        f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m simulator.server_guard "
        f'{shlex.quote(str(TEST_SERVER))} "$@"\n'
    )
    script.chmod(0o755)
    return script


def start_workers(client: Client, url: str, logs: Path) -> list[subprocess.Popen]:
    """`oms worker` processes on the test server and the scenario's database."""
    settings = {
        "OMS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "OMS_TEMPORAL_COMPRESSION": "none",
        "OMS_DATABASE_URL": url,
        "OMS_TASK_QUEUE": TASK_QUEUE,
        "OMS_WORKER_CACHED_WORKFLOWS": "50000",  # every order of the peak stays in memory
        "OMS_WEBHOOK_URL": "",
        "OMS_WORKER_SANDBOX": "false",  # the tests run the same workflows sandboxed
        "OMS_WORKER_ACTIVITY_THREADS": "8",  # fewer threads queue less on SQLite's one writer
    }
    workers = []
    for n in range(1, WORKERS + 1):
        log = (logs / f"worker-{n}.log").open("w")
        workers.append(
            subprocess.Popen(
                [str(OMS), "worker"],
                env={**os.environ, **settings},
                stdout=log,
                stderr=log,
                preexec_fn=dying_with_parent(),  # SIGTERM: they stop cleanly, with us
            )
        )
    return workers


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
        # A frozen worker (SIGSTOP) would only act on SIGTERM once continued.
        worker.send_signal(signal.SIGCONT)
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def label(policy_name: str, scenario: Scenario, replenish: bool) -> str:
    """A run's name in the reports: the policy, and whether the stores were replenished."""
    if scenario.replenishment is None:
        return policy_name
    return f"{policy_name}, {'with' if replenish else 'no'} replenishment"


async def _setup(oms: OmsClient, scenario: Scenario, policy_name: str, replenish: bool) -> None:
    network = scenario.network.model_dump(mode="json", by_alias=True, exclude_none=True)
    status, body = await oms.post("/v1/admin/network", network, role="admin")
    if status != 200:
        raise RuntimeError(f"the scenario's network was refused: {body}")
    # Every node's and carrier's system has its own key and secret, as in the field.
    await oms.register_partners(
        [n.id for n in scenario.network.nodes], [c.id for c in scenario.network.carriers]
    )
    policy = PRESETS[policy_name].model_dump(mode="json", exclude={"version"})
    status, body = await oms.call("PUT", "/v1/admin/sourcing-policy", policy, role="admin")
    if status != 200:
        raise RuntimeError(f"policy {policy_name} was refused: {body}")
    if replenish and scenario.replenishment is not None:
        rules = scenario.replenishment.model_dump(mode="json", exclude={"version"})
        status, body = await oms.call("PUT", "/v1/admin/replenishment-policy", rules, "admin")
        if status != 200:
            raise RuntimeError(f"the replenishment policy was refused: {body}")


async def _drive(
    scenario, clock, oms, sim_field, stores, engine, progress, show, replenish
) -> None:
    period = scenario.period
    step = timedelta(minutes=period.step_minutes)
    queue = carts(scenario)
    progress.carts = len(queue)
    incidents = sorted(scenario.incidents, key=lambda i: i.at)
    limit = period.end + timedelta(days=period.drain_days)
    gate = asyncio.Semaphore(CONCURRENCY)
    placed_this_hour = 0
    next_sample = period.start + timedelta(hours=1)
    # The OMS's daily replenishment plan, started as its Temporal Schedule would (the
    # rehearsal's test server has no schedules).
    next_plan = datetime.combine(period.start.date(), scenario.replenishment_at, UTC)
    next_plan += timedelta(days=1) if next_plan < period.start else timedelta(0)
    t = period.start
    await clock.advance_to(t)
    while True:
        now = clock.now()
        arriving = []
        while queue and queue[0].at <= now:
            arriving.append(queue.pop(0))
        while incidents and incidents[0].at <= now:
            incident = incidents.pop(0)
            body = incident.body(f"SIM-INC-{len(scenario.incidents) - len(incidents)}")
            speaker = ("carrier", body["carrier_id"]) if body.get("carrier_id") else None
            speaker = speaker or ("node", body["node_id"])
            status, answer = await oms.field("/v1/incidents", body, speaker)
            show(f"{now:%a %d %b %H:%M} incident {incident.type}: {status}")
        if replenish and now >= next_plan and now < period.end:
            status, answer = await oms.post("/v1/replenishment/run", {}, role="admin")
            if status == 200:
                show(
                    f"{now:%a %d %b %H:%M} replenishment: {len(answer['transfers'])} transfers, "
                    f"{answer['units']} units, {answer['unfilled']} needs unfilled"
                )
            next_plan += timedelta(days=1)
        placed = await asyncio.gather(
            *(_checkout(oms, sim_field, stores, cart, gate) for cart in arriving)
        )
        progress.placed += sum(placed)
        progress.lost_carts += len(arriving) - sum(placed)
        placed_this_hour += sum(placed)
        sim_field.read_notifications(now)
        await _act(sim_field.due(now), gate)
        while now >= next_sample:
            counts = _counts(engine)
            progress.backlog.append(
                {
                    "at": next_sample.isoformat(),
                    "placed": placed_this_hour,
                    "open": sum(counts.get(s, 0) for s in OPEN),
                    "exceptions": counts.get("exception", 0),
                    "delivered": counts.get("delivered", 0),
                }
            )
            placed_this_hour = 0
            stores.sample_stockouts(next_sample - timedelta(hours=1))
            next_sample += timedelta(hours=1)
            if next_sample.hour % 6 == 0:
                show(_line(now, progress, counts, sim_field))
            # Done when every order is closed (what the field still plans concerns closed
            # orders only), or at the drain limit.
            if not queue and now >= period.end:
                if sum(counts.get(s, 0) for s in OPEN) == 0 or now >= limit:
                    return
        t += step
        await clock.advance_to(t)


async def _checkout(
    oms: OmsClient, sim_field: Field, stores: Stores, cart: Cart, gate: asyncio.Semaphore
) -> bool:
    """A customer asks for the promise, picks an option, and places the order with it."""
    d = cart.destination
    where = {"postal_code": d.postal_code, "country": d.country, "lat": d.lat, "lon": d.lon}
    lines = [{"sku": sku, "qty": qty} for sku, qty in cart.lines]
    async with gate:
        status, answer = await oms.post("/v1/promise", {"lines": lines, "destination": where})
        options = answer["options"] if status == 200 else []
        stores.checkout(
            cart.wants_collect, any(o["method"] == "click_and_collect" for o in options)
        )
        option = _choose(options, cart)
        if option is None:
            return False
        delivery: dict[str, Any] = {"method": "home", "address": where}
        point = (d.lat, d.lon)
        if option["method"] == "click_and_collect":
            delivery = {"method": "click_and_collect", "store_id": option["store_id"]}
            point = sim_field.nodes[option["store_id"]].lat, sim_field.nodes[option["store_id"]].lon
        delivery["option_id"] = option["option_id"]
        body = {
            "order_id": cart.order_id,
            "customer": {"id": cart.customer_id, "email": f"{cart.customer_id}@example.com"},
            "channel": "web",
            "lines": [
                {"line_id": str(i), "sku": s, "qty": q} for i, (s, q) in enumerate(cart.lines, 1)
            ],
            "delivery": delivery,
        }
        sim_field.placed(cart.order_id, point, sim_field.clock(), cart.cancels_after)
        status, _ = await oms.post("/v1/orders", body)
        return status == 202


def _choose(options: list[dict], cart: Cart) -> dict | None:
    by_method: dict[str, dict] = {}
    for option in options:
        by_method.setdefault(option["method"], option)  # the nearest store comes first
    if cart.wants_collect and "click_and_collect" in by_method:
        return by_method["click_and_collect"]
    if cart.wants_express and "home_express" in by_method:
        return by_method["home_express"]
    return by_method.get("home_standard") or next(iter(by_method.values()), None)


async def _act(due: list, gate: asyncio.Semaphore) -> None:
    """Run what fell due: one order's actions in their order, orders side by side."""
    by_order: dict[str, list] = {}
    for item in due:
        by_order.setdefault(item.order_id, []).append(item)

    async def one(items: list) -> None:
        async with gate:
            for item in items:
                await item.act()

    await asyncio.gather(*(one(items) for items in by_order.values()))


def _counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return orders_by_status(session)


def _line(now: datetime, progress: Progress, counts: dict[str, int], sim_field: Field) -> str:
    open_ = sum(counts.get(s, 0) for s in OPEN)
    return (
        f"{now:%a %d %b %H:%M}  placed {progress.placed:>6}/{progress.carts}  open {open_:>5}  "
        f"delivered {counts.get('delivered', 0):>6}  exceptions {counts.get('exception', 0):>4}  "
        f"short picks {sim_field.stats.short_picks:>4}"
    )
