"""Crashes: 300 orders in flight, the worker killed (SIGKILL) at random moments and the
Temporal server itself restarted on its persisted database. Every order finishes
delivered; no stock is held twice, no shipment booked twice, and every notification
reaches its receiver at least once, deduplicated there by its key."""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from db import ledger
from db.engine import make_engine, unit_of_work
from db.network import load_network
from db.tables import CarrierBookingRow, OutboxRow, ReservationRow
from domain.network import NetworkDocument
from domain.order import OrderStatus
from tests.networks import order_body, small_network
from tests.workflows.test_order_workflow import carrier_event, node_event, start
from workflows.order import OrderWorkflow

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

ORDERS = 300
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """The customer-messaging system: counts deliveries per idempotency key."""

    def __init__(self):
        self.deliveries: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                receiver.deliveries[key] = receiver.deliveries.get(key, 0) + 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Oms:
    """The Temporal server and the worker as processes we can kill."""

    def __init__(self, tmp: Path, pg_url: str, webhook: str):
        self.port = free_port()
        self.env = {
            **os.environ,
            "OMS_DATA_DIR": str(tmp),
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "OMS_DATABASE_URL": pg_url,
            "OMS_TASK_QUEUE": f"crash-{uuid.uuid4().hex[:6]}",
            "OMS_WEBHOOK_URL": webhook,
            "OMS_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "OMS_SIGNING_SECRET": "crash-test-secret-" + "x" * 20,
        }
        self.log = open(tmp / "processes.log", "ab")  # noqa: SIM115 (closed in stop)
        self.temporal: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def _spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(BIN / "oms"), *args], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def start_temporal(self) -> None:
        self.temporal = self._spawn("temporal", "--ui-port", str(free_port()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise AssertionError("the Temporal server did not come up")

    def start_worker(self) -> None:
        self.worker = self._spawn("worker")

    def kill(self, process: subprocess.Popen | None) -> None:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        for process in (self.worker, self.temporal):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.log.close()


async def connect(port: int) -> Client:
    for _ in range(100):
        try:
            return await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        except Exception:
            await asyncio.sleep(0.3)
    raise AssertionError("cannot reach Temporal")


async def test_orders_survive_worker_kills_and_a_server_restart(tmp_path, pg_url):
    engine = make_engine(pg_url)
    network = small_network({("SKU-1", "DC-LYON"): 1000, ("SKU-1", "DC-PARIS"): 1000})
    for node in network["nodes"]:
        node["pick_capacity_per_day"] = 100_000
    with unit_of_work(engine) as session:
        load_network(session, NetworkDocument.model_validate(network))
    receiver = Receiver()
    oms = Oms(tmp_path, pg_url, receiver.url)
    rng = random.Random(7)
    try:
        oms.start_temporal()
        oms.start_worker()
        client = await connect(oms.port)
        run = uuid.uuid4().hex[:5]
        ids = [f"K{run}-{n}" for n in range(ORDERS)]
        handles = await asyncio.gather(
            *(
                start(client, oms.env["OMS_TASK_QUEUE"], order_body(oid, [("SKU-1", 1 + n % 3)]))
                for n, oid in enumerate(ids)
            )
        )

        async def chaos() -> None:
            for _ in range(3):  # the worker dies mid-flight, three times
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                oms.kill(oms.worker)
                await asyncio.sleep(rng.uniform(0.2, 1.5))
                oms.start_worker()
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            oms.kill(oms.temporal)  # the server goes down hard and comes back on its file
            oms.kill(oms.worker)
            await asyncio.sleep(1.0)
            oms.start_temporal()
            oms.start_worker()

        async def drive(handle) -> OrderStatus:
            """Act as the node and the carrier for one order until it is delivered."""
            sent: set[tuple[str, str]] = set()
            for _ in range(3000):
                try:
                    state = await handle.query(OrderWorkflow.state)
                except Exception:
                    await asyncio.sleep(0.5)  # worker or server down: try again
                    continue
                if state.view.status in (OrderStatus.DELIVERED, OrderStatus.FAILED):
                    return state.view.status
                try:
                    for shipment in state.view.shipments:
                        sid, node = shipment.shipment_id, shipment.node_id
                        if shipment.status == "released" and (sid, "shipped") not in sent:
                            await handle.signal(
                                OrderWorkflow.node_event,
                                node_event(node, "shipped", state.view.order_id, sid),
                            )
                            sent.add((sid, "shipped"))
                        elif shipment.status == "shipped" and (sid, "delivered") not in sent:
                            await handle.signal(
                                OrderWorkflow.carrier_event,
                                carrier_event(
                                    shipment.carrier_id, "delivered", sid, shipment.shipped_at
                                ),
                            )
                            sent.add((sid, "delivered"))
                except Exception:
                    pass  # the signal is sent again on the next round
                await asyncio.sleep(0.3)
            return state.view.status

        client_task = asyncio.gather(*(drive(h) for h in handles))
        await chaos()
        statuses = await asyncio.wait_for(client_task, timeout=600)
        # let the last notifications drain before looking
        for _ in range(120):
            with unit_of_work(engine) as session:
                pending = session.exec(select(OutboxRow).where(OutboxRow.status != "sent")).all()
            if not pending:
                break
            await asyncio.sleep(0.5)
    finally:
        oms.stop()

    assert statuses == [OrderStatus.DELIVERED] * ORDERS
    with unit_of_work(engine) as session:
        assert ledger.balance_problems(session) == []
        holds = session.exec(select(ReservationRow)).all()
        assert all(h.status == "committed" for h in holds)
        units: dict[str, int] = {}
        for hold in holds:
            units[hold.order_id] = units.get(hold.order_id, 0) + hold.qty
        assert units == {oid: 1 + n % 3 for n, oid in enumerate(ids)}  # held once each
        bookings = session.exec(select(CarrierBookingRow)).all()
        assert len(bookings) == ORDERS and all(b.status == "booked" for b in bookings)
        outbox = session.exec(select(OutboxRow)).all()
    assert all(row.status == "sent" for row in outbox)
    keys = {row.key for row in outbox}
    assert keys == set(receiver.deliveries)  # each notification arrived, under its key
    assert all(count >= 1 for count in receiver.deliveries.values())
    report = {
        "notifications": len(keys),
        "redelivered": sum(c - 1 for c in receiver.deliveries.values()),
    }
    print(json.dumps(report))  # noqa: T201
    engine.dispose()
