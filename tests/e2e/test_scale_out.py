"""Scale-out, proven: the production shape without containers. One PostgreSQL, one Temporal
(the dev server), two `oms worker` and two `oms api` processes with the same settings;
orders placed through both APIs and driven to the doorstep by signed field events sent to
either, while one worker is killed outright and one API restarted. Every order is
delivered once, the ledger balances, and the figure it measures (orders/s end to end) is
the one docs/operations.md quotes.

`OMS_SCALE_ORDERS` runs it with fewer orders while developing (500 by default, what CI runs).
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import Engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.auth import sign_request
from db.engine import make_engine, read_only
from db.ledger_check import ledger_problems
from tests.e2e.test_end_to_end import free_port, wait_for_port
from tests.networks import order_body, small_network

pytestmark = [pytest.mark.e2e, pytest.mark.scale, pytest.mark.postgres]

BIN = Path(sys.executable).parent
ORDERS = int(os.environ.get("OMS_SCALE_ORDERS", "500"))
# How many checkouts place orders at once, and how many field messages are in flight: a
# steady crowd, not one request per order fired at once (that measures the backlog).
CHECKOUTS_AT_ONCE = 8
FIELD_AT_ONCE = 16
# A real client gives up at some point: an API down longer than this is a failure.
RETRY_FOR_SECONDS = 60.0
# The whole run, placing to the last delivery (measured: well under this; see the docs).
RUN_DEADLINE_SECONDS = 600.0
API_SAMPLE = 50  # orders read back through the API at the end (all of them from the database)
KEYS = {role: f"scale-{role}-{uuid.uuid4().hex}" for role in ("checkout", "support", "admin")}
# Stock enough for every order (1 or 2 units of SKU-1, every fifth also a SKU-2), spread
# over both DCs so that both nodes pick and both carriers carry.
STOCK = {("SKU-1", "DC-PARIS"): 2 * ORDERS, ("SKU-1", "DC-LYON"): 2 * ORDERS}
STOCK[("SKU-2", "DC-LYON")] = ORDERS
DESTINATIONS = [  # Lyon goes to the Lyon DC, Paris and Lille to the Paris DC
    {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83},
    {"postal_code": "75011", "country": "FR", "lat": 48.86, "lon": 2.38},
    {"postal_code": "59000", "country": "FR", "lat": 50.63, "lon": 3.07},
]


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process, from /proc (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU of every PostgreSQL process on the machine (other tests' included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def cpu_report(parts: list["Part"]) -> dict[str, float]:
    used = {part.name: part.cpu() for part in parts}
    used["postgres (all)"] = postgres_cpu()
    used["test clients"] = cpu_seconds(os.getpid())
    used["machine busy"], used["machine total"] = machine_busy()
    return used


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@dataclass
class Part:
    """One OMS process: what it runs, its log, and every start of it."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: IO[bytes]
    process: subprocess.Popen | None = None
    starts: int = 0
    cpu_before: float = 0.0  # CPU seconds of the runs of it that ended

    def cpu(self) -> float:
        """CPU seconds it has used, every start of it included (for what limits the rate)."""
        alive = self.process is not None and self.process.poll() is None
        return self.cpu_before + (cpu_seconds(self.process.pid) if alive and self.process else 0)

    def ending(self) -> None:
        """Called just before it is stopped or killed: its CPU so far still counts."""
        if self.process is not None:
            self.cpu_before += cpu_seconds(self.process.pid)

    def start(self) -> subprocess.Popen:
        self.log.write(f"--- {self.name} start {self.starts + 1} ---\n".encode())
        self.log.flush()
        self.process = subprocess.Popen(
            [str(BIN / "oms"), *self.args], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.starts += 1
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def reap(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Run:
    """What the clients saw, for the assertions and the figures."""

    placed: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    field_done: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)
    unavailable: list[str] = field(default_factory=list)
    answered_after_restart: int = 0
    restarted: asyncio.Event = field(default_factory=asyncio.Event)
    chaos: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    samples: list[str] = field(default_factory=list)  # progress every few seconds
    connections: int = 0  # the most seen open to PostgreSQL at once

    def mark(self, what: str) -> str:
        return (
            f"{time.monotonic() - self.started:.0f}s {what}: {len(self.placed)} placed, "
            f"{len(self.released)} released, {len(self.delivered)} delivered"
        )


async def with_retries(
    run: Run, what: str, send: Callable[[], Awaitable[httpx.Response]], via: int = 0
) -> httpx.Response:
    """Send until an answer that is not a 503, as a client of a replicated API does: the
    API it reached may be restarting (connection refused or dropped). Every call here is
    idempotent (an order id, an event id), so sending again changes nothing."""
    deadline = time.monotonic() + RETRY_FOR_SECONDS
    pause = 0.2
    while True:
        try:
            response = await send()
            if response.status_code != 503:
                if via == 1 and run.restarted.is_set():
                    run.answered_after_restart += 1
                return response
            problem, kind = f"503 {response.text[:200]}", "503"
        except httpx.TransportError as exc:
            problem, kind = repr(exc), type(exc).__name__
        run.retries[f"{what} {kind}"] += 1
        if kind == "503":
            run.unavailable.append(problem)
        assert time.monotonic() < deadline, f"{what}: no answer for {RETRY_FOR_SECONDS}s: {problem}"
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)


async def field_post(
    run: Run, apis: list[httpx.AsyncClient], via: int, path: str, body: dict, partner: dict
) -> httpx.Response:
    """A signed field event, signed again on every try (the timestamp is part of it)."""
    raw = json.dumps(body).encode()

    def send() -> Awaitable[httpx.Response]:
        timestamp = str(int(time.time()))
        signature = sign_request(partner["signing_secret"], timestamp, "POST", path, raw)
        headers = {
            "Authorization": f"Bearer {partner['key']}",
            "Content-Type": "application/json",
            "X-OMS-Timestamp": timestamp,
            "X-OMS-Signature": "sha256=" + signature,
        }
        return apis[via].post(path, content=raw, headers=headers)

    return await with_retries(run, body["type"], send, via)


def order_of(n: int, tag: str) -> dict:
    lines = [("SKU-1", 1 + n % 2)] + ([("SKU-2", 1)] if n % 5 == 0 else [])
    body = order_body(f"SC-{tag}-{n:04d}", lines)
    body["delivery"]["address"] = DESTINATIONS[n % len(DESTINATIONS)]
    return body


async def listed(run: Run, http: httpx.AsyncClient, status: str) -> list[dict]:
    """Every order of the run with this status, from the read model, a page at a time."""
    found: list[dict] = []
    cursor = None
    while True:
        params = {"status": status, "limit": "500", **({"cursor": cursor} if cursor else {})}
        page = await with_retries(
            run,
            "list",
            partial(http.get, "/v1/orders", params=params, headers=auth("support")),
        )
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["orders"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


async def drive(
    run: Run,
    apis: list[httpx.AsyncClient],
    order: dict,
    partners: dict[str, dict],
    gate: asyncio.Semaphore,
) -> None:
    """The field's part for one released order: each shipment picked and shipped by its
    node's system, delivered by its carrier's, each event to either API."""
    oid = order["order_id"]
    first = int(oid.rsplit("-", 1)[1])
    async with gate:
        for n, shipment in enumerate(order["shipments"]):
            sid, node, carrier = (
                shipment["shipment_id"],
                shipment["node_id"],
                shipment["carrier_id"],
            )
            for step, kind in enumerate(("picked", "shipped")):
                event = {"event_id": f"{sid}-{kind}", "type": kind, "order_id": oid,
                         "shipment_id": sid}  # fmt: skip
                via = (first + n + step) % 2
                path = f"/v1/nodes/{node}/events"
                sent = await field_post(run, apis, via, path, event, partners[node])
                assert sent.status_code == 202, (oid, kind, sent.text)
            # Dated now: a carrier's scan is dated when it happened (not the promised day).
            delivered = {"event_id": f"{sid}-delivered", "type": "delivered", "shipment_id": sid,
                         "at": datetime.now(UTC).isoformat()}  # fmt: skip
            via = (first + n + 2) % 2
            path = f"/v1/carriers/{carrier}/events"
            sent = await field_post(run, apis, via, path, delivered, partners[carrier])
            assert sent.status_code == 202, (oid, "delivered", sent.text)
    run.field_done.add(oid)


async def checkout(
    run: Run, apis: list[httpx.AsyncClient], bodies: list[dict], gate: asyncio.Semaphore
) -> None:
    async def place(n: int, body: dict) -> None:
        async with gate:
            http = apis[n % 2]  # alternating, as a load balancer would
            placed = await with_retries(
                run,
                "place",
                lambda: http.post("/v1/orders", json=body, headers=auth("checkout")),
                n % 2,
            )
            assert placed.status_code == 202, (body["order_id"], placed.text)
            run.placed.add(body["order_id"])

    await asyncio.gather(*(place(n, body) for n, body in enumerate(bodies)))


async def chaos(run: Run, workers: list[Part], apis: list[Part], api_port: int) -> None:
    """While orders flow: one worker killed outright (no replacement: the other carries
    on), then one API stopped as a deploy stops it and started again on its port."""
    while len(run.released) < ORDERS // 5:
        await asyncio.sleep(0.2)
    victim = workers[0].process
    assert victim is not None
    workers[0].ending()
    victim.send_signal(signal.SIGKILL)
    run.chaos.append(run.mark("worker killed"))
    while len(run.released) < ORDERS // 2:
        await asyncio.sleep(0.2)
    restarting = apis[1]
    assert restarting.process is not None
    restarting.process.send_signal(signal.SIGTERM)
    # Its CPU is read as late as possible: it drains its requests before it exits.
    cpu = 0.0
    while restarting.process.poll() is None:
        cpu = cpu_seconds(restarting.process.pid) or cpu
        await asyncio.sleep(0.05)
    restarting.cpu_before += cpu
    code = await asyncio.to_thread(restarting.process.wait, 60)
    # uvicorn drains its requests, then raises the signal again so that its parent sees
    # what stopped it (uvicorn 0.29 on): -15 is a clean stop, as 0 is.
    assert code in (0, -signal.SIGTERM), f"the API stopped with {code}"
    run.chaos.append(run.mark("API stopped"))
    restarted = restarting.start()
    await asyncio.to_thread(wait_for_port, api_port, restarted)
    run.restarted.set()
    run.chaos.append(run.mark("API back"))


def progress(engine: Engine, prefix: str) -> dict[str, str]:
    """Each order's status in the read model's table. The test's own bookkeeping reads it
    straight: listing hundreds of delivered orders through the API twice a second would
    load the two cores the figure is measured on. The field learns of released orders
    through the API, as a field system does."""
    with read_only(engine) as session:
        rows = session.execute(
            text("SELECT order_id, status FROM orders WHERE order_id LIKE :prefix"),
            {"prefix": f"{prefix}%"},
        ).all()
    return {oid: status for oid, status in rows}


def connections(engine: Engine) -> int:
    """Connections open to the run's database (its pools: workers, APIs, this test)."""
    with read_only(engine) as session:
        return session.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        ).scalar_one()


async def flow(
    run: Run,
    apis: list[httpx.AsyncClient],
    bodies: list[dict],
    partners: dict[str, dict],
    workers: list[Part],
    api_parts: list[Part],
    api_port: int,
    engine: Engine,
    prefix: str,
) -> None:
    """Checkout, the field and the chaos at once, until every order is delivered."""
    ids = {body["order_id"] for body in bodies}
    field_gate = asyncio.Semaphore(FIELD_AT_ONCE)
    tasks = [
        asyncio.create_task(checkout(run, apis, bodies, asyncio.Semaphore(CHECKOUTS_AT_ONCE))),
        asyncio.create_task(chaos(run, workers, api_parts, api_port)),
    ]
    deadline = time.monotonic() + RUN_DEADLINE_SECONDS
    turn, sampled = 0, time.monotonic()
    try:
        while run.delivered != ids:
            assert time.monotonic() < deadline, (
                f"{len(run.delivered)} of {ORDERS} delivered in {RUN_DEADLINE_SECONDS}s; "
                f"{run.chaos}"
            )
            for task in tasks:  # a client that failed says why now, not at the deadline
                if task.done():
                    task.result()
            http = apis[turn % 2]
            turn += 1
            for order in await listed(run, http, "released"):
                oid = order["order_id"]
                if oid in ids and oid not in run.released:
                    run.released.add(oid)
                    tasks.append(asyncio.create_task(drive(run, apis, order, partners, field_gate)))
            statuses = await asyncio.to_thread(progress, engine, prefix)
            run.delivered = {oid for oid, status in statuses.items() if status == "delivered"}
            gone = {
                oid: s for oid, s in statuses.items() if s in ("failed", "exception", "cancelled")
            }
            assert not gone, f"{len(gone)} orders did not go through: {sorted(gone.items())[:5]}"
            if time.monotonic() - sampled > 5:
                run.connections = max(run.connections, await asyncio.to_thread(connections, engine))
                run.samples.append(run.mark("at"))
                sampled = time.monotonic()
            await asyncio.sleep(0.5)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def inventory(http: httpx.AsyncClient, sku: str) -> dict[str, dict]:
    answer = await http.get(f"/v1/inventory/{sku}", headers=auth("support"))
    assert answer.status_code == 200, answer.text
    return {n["node_id"]: n for n in answer.json()["nodes"]}


@pytest.mark.timeout(RUN_DEADLINE_SECONDS + 300)
async def test_two_workers_and_two_apis_deliver_every_order_once_through_a_kill_and_a_restart(
    pg_url: str, tmp_path: Path
):
    assert pg_url.startswith("postgresql+psycopg://")  # the production database, not SQLite
    temporal_port, api_ports = free_port(), [free_port(), free_port()]
    settings = {
        "OMS_DATA_DIR": str(tmp_path / "data"),
        "OMS_DATABASE_URL": pg_url,
        "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "OMS_API_KEYS": ",".join(f"{role}:{key}" for role, key in KEYS.items()),
        "OMS_SIGNING_SECRET": uuid.uuid4().hex * 2,
        "OMS_PARTNER_SECRET": uuid.uuid4().hex * 2,
        "OMS_OPTION_SECRET": uuid.uuid4().hex * 2,
        "OMS_TASK_QUEUE": f"scale-{uuid.uuid4().hex[:6]}",
    }
    env = {**os.environ, **settings}
    log = (tmp_path / "processes.log").open("wb")
    temporal = Part("temporal", ["temporal", "--ui-port", str(free_port())], env, log)
    workers = [Part(f"worker-{n}", ["worker"], env, log) for n in (1, 2)]
    api_parts = [
        Part(f"api-{n}", ["api"], {**env, "OMS_API_PORT": str(port)}, log)
        for n, port in enumerate(api_ports, 1)
    ]
    parts = [temporal, *workers, *api_parts]
    tag = uuid.uuid4().hex[:6]
    bodies = [order_of(n, tag) for n in range(ORDERS)]
    run = Run()
    try:
        wait_for_port(temporal_port, temporal.start())
        for part in (*workers, *api_parts):
            part.start()
        for part, port in zip(api_parts, api_ports, strict=True):
            assert part.process is not None
            wait_for_port(port, part.process)
        limits = httpx.Limits(max_connections=FIELD_AT_ONCE + CHECKOUTS_AT_ONCE + 4)
        apis = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits)
            for port in api_ports
        ]
        engine = make_engine(pg_url)
        try:
            loaded = await apis[0].post(
                "/v1/admin/network", json=small_network(STOCK), headers=auth("admin")
            )
            assert loaded.status_code == 200, loaded.text
            # Partners made through either API work through both: they live in the database.
            partners: dict[str, dict] = {}
            network = small_network()
            targets = [("node", n["id"]) for n in network["nodes"]]
            targets += [("carrier", c["id"]) for c in network["carriers"]]
            for n, (kind, target) in enumerate(targets):
                body = {"partner_id": f"{kind}-{target.lower()}", "kind": kind, "ids": [target]}
                made = await apis[n % 2].post(
                    "/v1/admin/partners", json=body, headers=auth("admin")
                )
                assert made.status_code == 201, made.text
                partners[target] = made.json()
            before = {sku: await inventory(apis[0], sku) for sku in ("SKU-1", "SKU-2")}

            cpu_at_start = cpu_report(parts)
            run.started = started = time.monotonic()
            await flow(
                run, apis, bodies, partners, workers, api_parts, api_ports[1], engine, f"SC-{tag}-"
            )
            seconds = time.monotonic() - started
            cpu = {k: v - cpu_at_start[k] for k, v in cpu_report(parts).items()}
            rate = ORDERS / seconds
            # The figure docs/operations.md quotes, with what happened on the way.
            sys.stderr.write(
                f"\nscale-out: {ORDERS} orders delivered in {seconds:.1f} s = {rate:.2f} "
                f"orders/s (2 workers, one killed; 2 APIs, one restarted); {run.chaos}; "
                f"client retries {dict(run.retries)}; 503s {Counter(run.unavailable)}\n"
                + "\n".join(run.samples)
                + "\nCPU seconds during the run: "
                + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
                + f"; at most {run.connections} PostgreSQL connections\n"
            )

            assert len(run.chaos) == 3, run.chaos  # killed, stopped and back: mid-run
            assert all(f" {ORDERS} delivered" not in step for step in run.chaos), run.chaos
            assert workers[0].process is not None and workers[0].process.poll() == -9
            assert workers[1].process is not None and workers[1].process.poll() is None
            assert api_parts[1].starts == 2 and run.answered_after_restart > 0
            assert run.field_done == {body["order_id"] for body in bodies}
            checking = time.monotonic()
            await check_every_order(run, apis, bodies, engine)
            await check_the_ledger(apis[1], engine, bodies, before)
            cost = await check_temporal(
                settings["OMS_TEMPORAL_ADDRESS"], tag, bodies[1]["order_id"]
            )
            sys.stderr.write(
                f"{cost}; checks took {time.monotonic() - checking:.1f} s; "
                f"retries {dict(run.retries)}; 503s {Counter(run.unavailable)}\n"
            )
        finally:
            engine.dispose()
            for http in apis:
                await http.aclose()
    finally:
        for part in reversed(parts):
            part.stop()
        for part in parts:
            part.reap()
        log.close()
    assert all(part.process is None or part.process.poll() is not None for part in parts)


async def check_every_order(
    run: Run, apis: list[httpx.AsyncClient], bodies: list[dict], engine: Engine
) -> None:
    """Each order delivered once: its shipments carry exactly what was ordered, no shipment
    twice, and its history tells one delivery per shipment and one order delivered.

    Every order is read from the read model's rows (what listings serve, written by the
    workflow itself); a sample through `GET /v1/orders/{id}` and its history on both APIs
    must say the same. Not all 500 through the API: each read of a finished order is a
    query its workflow answers by replaying its history on a worker (100 reads took 9-10 s
    here, 16 at once, on the one worker left): minutes for the lot."""
    ids = [body["order_id"] for body in bodies]
    with read_only(engine) as session:
        rows = session.execute(
            text("SELECT order_id, view, timeline FROM orders WHERE order_id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    stored = {oid: (view, timeline) for oid, view, timeline in rows}
    assert sorted(stored) == sorted(ids)
    seen_shipments: Counter[str] = Counter()
    for body in bodies:
        order, timeline = stored[body["order_id"]]
        check_delivered_once(body, order, [entry["type"] for entry in timeline])
        seen_shipments.update(shipment["shipment_id"] for shipment in order["shipments"])
    assert [sid for sid, times in seen_shipments.items() if times > 1] == []

    gate = asyncio.Semaphore(FIELD_AT_ONCE)

    async def through_the_api(n: int, body: dict) -> None:
        oid = body["order_id"]
        async with gate:
            http = apis[n % 2]
            order = await with_retries(
                run, "read", partial(http.get, f"/v1/orders/{oid}", headers=auth("support"))
            )
            history = await with_retries(
                run, "read", partial(http.get, f"/v1/orders/{oid}/history", headers=auth("support"))
            )
        assert order.status_code == 200 and history.status_code == 200, (order.text, history.text)
        check_delivered_once(body, order.json(), [e["type"] for e in history.json()["events"]])
        assert order.json()["shipments"] == stored[oid][0]["shipments"]

    sample = list(enumerate(bodies))[:: max(1, ORDERS // API_SAMPLE)]
    reading = time.monotonic()
    await asyncio.gather(*(through_the_api(n, body) for n, body in sample))
    took = time.monotonic() - reading
    sys.stderr.write(f"{len(sample)} finished orders read twice through the API in {took:.1f} s\n")


def check_delivered_once(body: dict, order: dict, steps: list[str]) -> None:
    oid = order["order_id"]
    assert order["status"] == "delivered", order
    assert order["otif"]["on_time"] and order["otif"]["in_full"], order
    assert order["otif"]["delivered_units"] == order["otif"]["ordered_units"], order
    sent: Counter[str] = Counter()
    for shipment in order["shipments"]:
        assert shipment["status"] == "delivered", order
        for line in shipment["lines"]:
            sent[line["line_id"]] += line["qty"]
    assert sent == Counter({line["line_id"]: line["qty"] for line in body["lines"]}), order
    counted = Counter(steps)
    assert counted["order_delivered"] == 1, (oid, counted)
    assert counted["delivered"] == len(order["shipments"]), (oid, counted)
    assert counted["shipped"] == len(order["shipments"]), (oid, counted)


async def check_the_ledger(
    http: httpx.AsyncClient, engine: Engine, bodies: list[dict], before: dict[str, dict[str, dict]]
) -> None:
    """The ledger balances, through the API and read straight from the database; every
    unit ordered left a node, no more; nothing is still held; one carrier booking per
    shipment (a booking retried after the kill made no second one)."""
    check = await http.get("/v1/admin/ledger-check", headers=auth("admin"))
    assert check.status_code == 200 and check.json()["problems"] == [], check.text
    ordered: Counter[str] = Counter()
    for body in bodies:
        for line in body["lines"]:
            ordered[line["sku"]] += line["qty"]
    for sku, nodes in before.items():
        after = await inventory(http, sku)
        left = sum(nodes[n]["on_hand"] - after[n]["on_hand"] for n in nodes)
        assert left == ordered[sku], (sku, left, ordered[sku])
        assert all(after[n]["reserved"] == 0 for n in after), after
    with read_only(engine) as session:
        assert ledger_problems(session) == []
        ids = [body["order_id"] for body in bodies]
        shipments = session.execute(
            text("SELECT count(*) FROM shipments WHERE order_id = ANY(:ids)"), {"ids": ids}
        ).scalar_one()
        bookings = session.execute(
            text(
                "SELECT status, count(*) FROM carrier_bookings WHERE shipment_id IN "
                "(SELECT shipment_id FROM shipments WHERE order_id = ANY(:ids)) GROUP BY status"
            ),
            {"ids": ids},
        ).all()
    assert dict(bookings) == {"booked": shipments}, (bookings, shipments)


async def check_temporal(address: str, tag: str, sample: str) -> str:
    """One workflow run per order, each completed, as Temporal itself sees it (none failed,
    timed out or terminated, none started twice); and what one order costs the server."""
    client = await Client.connect(address)
    ours = f'WorkflowId STARTS_WITH "order-SC-{tag}-"'
    # An order's read model says delivered just before its workflow returns, and Temporal's
    # visibility follows a moment later: wait for it, a little.
    completed = f'{ours} AND ExecutionStatus = "Completed"'
    deadline = time.monotonic() + 30
    while (done := (await client.count_workflows(completed)).count) < ORDERS:
        assert time.monotonic() < deadline, f"{done} of {ORDERS} order workflows completed"
        await asyncio.sleep(0.5)
    assert (await client.count_workflows(ours)).count == ORDERS
    history = await client.get_workflow_handle(f"order-{sample}").fetch_history()
    kinds = Counter(EventType.Name(event.event_type) for event in history.events)
    return (
        f"order {sample}: {len(history.events)} history events, "
        f"{kinds['EVENT_TYPE_WORKFLOW_TASK_COMPLETED']} workflow tasks, "
        f"{kinds['EVENT_TYPE_ACTIVITY_TASK_SCHEDULED']} activities, "
        f"{kinds['EVENT_TYPE_MARKER_RECORDED']} local activities"
    )
