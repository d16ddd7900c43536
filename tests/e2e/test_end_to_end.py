"""The whole OMS as it runs: `oms temporal`, `oms worker` and `oms api` as processes, HTTP only."""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.auth import sign_request
from tests.networks import moments_ago, order_body, small_network

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
KEYS = {role: f"e2e-{role}-{uuid.uuid4().hex}" for role in ("checkout", "support", "admin")}
SECRET = uuid.uuid4().hex * 2
ENV: dict[str, str] = {}  # what the running OMS was started with, beyond the machine's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def oms(tmp_path_factory) -> Iterator[httpx.Client]:
    data = tmp_path_factory.mktemp("oms")
    temporal_port, api_port = free_port(), free_port()
    ENV.update(
        {
            "OMS_DATA_DIR": str(data),
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "OMS_API_PORT": str(api_port),
            "OMS_API_KEYS": ",".join(f"{role}:{key}" for role, key in KEYS.items()),
            "OMS_SIGNING_SECRET": SECRET,
            "OMS_TASK_QUEUE": f"e2e-{uuid.uuid4().hex[:6]}",
        }
    )
    env = {**os.environ, **ENV}
    oms = str(BIN / "oms")
    logs = open(data / "processes.log", "wb")  # noqa: SIM115 (closed at teardown)
    processes = [
        subprocess.Popen(
            [oms, "temporal", "--ui-port", str(free_port())],
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        wait_for_port(temporal_port, processes[0])
        for part in ("worker", "api"):
            processes.append(
                subprocess.Popen([oms, part], env=env, stdout=logs, stderr=subprocess.STDOUT)
            )
        wait_for_port(api_port, processes[-1])
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as http:
            yield http
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def make_partner(http: httpx.Client, partner_id: str, kind: str, ids: list[str]) -> dict:
    """A field system's key and signing secret, made by the admin."""
    body = {"partner_id": partner_id, "kind": kind, "ids": ids}
    made = http.post("/v1/admin/partners", json=body, headers=auth("admin"))
    assert made.status_code == 201, made.text
    return made.json()


def field_post(http: httpx.Client, path: str, body: dict, partner: dict) -> httpx.Response:
    """An event as the partner's system sends it: its key, signed with its own secret."""
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    secret = partner["signing_secret"]
    headers = {
        "Authorization": f"Bearer {partner['key']}",
        "Content-Type": "application/json",
        "X-OMS-Timestamp": timestamp,
        "X-OMS-Signature": "sha256=" + sign_request(secret, timestamp, "POST", path, raw),
    }
    return http.post(path, content=raw, headers=headers)


def wait_status(http: httpx.Client, order_id: str, status: str) -> dict:
    body: dict = {}
    for _ in range(300):
        response = http.get(f"/v1/orders/{order_id}", headers=auth("support"))
        body = response.json()
        if response.status_code == 200 and body["status"] == status:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{order_id} never reached {status}: {body}")


def test_an_order_goes_from_checkout_to_the_doorstep_over_http(oms: httpx.Client):
    assert oms.get("/healthz").json()["status"] == "ok"
    loaded = oms.post("/v1/admin/network", json=small_network(), headers=auth("admin"))
    assert loaded.status_code == 200, loaded.text

    oid = f"E2E-{uuid.uuid4().hex[:6]}"
    placed = oms.post("/v1/orders", json=order_body(oid, [("SKU-1", 2)]), headers=auth("checkout"))
    assert placed.status_code == 202, placed.text
    order = wait_status(oms, oid, "released")
    shipment = order["shipments"][0]
    sid, node, carrier = shipment["shipment_id"], shipment["node_id"], shipment["carrier_id"]
    wms = make_partner(oms, f"wms-{oid}", "node", [node])
    carrier_api = make_partner(oms, f"carrier-{oid}", "carrier", [carrier])

    for kind in ("picked", "shipped"):
        event = {"event_id": uuid.uuid4().hex, "type": kind, "order_id": oid, "shipment_id": sid}
        assert field_post(oms, f"/v1/nodes/{node}/events", event, wms).status_code == 202
        wait_status(oms, oid, kind)
    delivered = {
        "event_id": uuid.uuid4().hex,
        "type": "delivered",
        "shipment_id": sid,
        "at": moments_ago(),
    }
    # Each system speaks only for itself: the node's cannot say the parcel was delivered.
    assert field_post(oms, f"/v1/carriers/{carrier}/events", delivered, wms).status_code == 403
    sent = field_post(oms, f"/v1/carriers/{carrier}/events", delivered, carrier_api)
    assert sent.status_code == 202
    order = wait_status(oms, oid, "delivered")
    assert order["otif"]["on_time"] is True and order["otif"]["in_full"] is True

    history = oms.get(f"/v1/orders/{oid}/history", headers=auth("support")).json()["events"]
    steps = [event["type"] for event in history]
    for step in (
        "placed",
        "sourced",
        "reserved",
        "booked",
        "released",
        "picked",
        "shipped",
        "delivered",
        "order_delivered",
    ):
        assert step in steps, steps
    assert steps.index("sourced") < steps.index("reserved") < steps.index("booked")
    assert any(e["summary"].startswith("Told customer") for e in history)

    stock = oms.get("/v1/inventory/SKU-1", headers=auth("support")).json()
    at_node = next(n for n in stock["nodes"] if n["node_id"] == node)
    assert at_node["reserved"] == 0 and at_node["on_hand"] == {"DC-LYON": 28, "DC-PARIS": 48}[node]

    listed = oms.get("/v1/orders", params={"status": "delivered"}, headers=auth("support")).json()
    assert oid in [o["order_id"] for o in listed["orders"]]


def test_the_cli_loads_a_network_file(tmp_path: Path):
    network = small_network()
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network))
    env = {**os.environ, "OMS_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [str(BIN / "oms"), "network", "load", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["nodes"] == 4
    path.write_text(
        json.dumps({**network, "stock": [{"sku": "NOPE", "node_id": "DC-LYON", "on_hand": 1}]})
    )
    refused = subprocess.run(
        [str(BIN / "oms"), "network", "load", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "unknown sku NOPE" in refused.stderr


def test_the_cli_reports_otif(tmp_path: Path):
    env = {**os.environ, "OMS_DATA_DIR": str(tmp_path / "data")}
    # Loading nothing creates the database.
    subprocess.run(
        [str(BIN / "oms"), "network", "load", "/dev/null"], env=env, capture_output=True, timeout=60
    )
    done = subprocess.run(
        [
            str(BIN / "oms"),
            "report",
            "otif",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-31",
            "--group-by",
            "cause",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OTIF 2026-12-01 .. 2026-12-31: 0 orders")


def test_the_cli_manages_partners_whose_keys_the_api_takes(oms: httpx.Client, tmp_path: Path):
    loaded = oms.post("/v1/admin/network", json=small_network(), headers=auth("admin"))
    assert loaded.status_code == 200
    env = {**os.environ, **ENV}  # the running API's settings: its database, its secrets

    def partners(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "oms"), "partners", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = partners("create", "paris-wms", "--kind", "node", "--ids", "DC-PARIS")
    assert made.returncode == 0, made.stderr
    issued = json.loads(made.stdout)
    count = {"event_id": uuid.uuid4().hex, "type": "count", "sku": "SKU-1",
             "node_id": "DC-PARIS", "qty": 48}  # fmt: skip
    assert field_post(oms, "/v1/inventory/events", count, issued).status_code == 200
    elsewhere = {**count, "event_id": uuid.uuid4().hex, "node_id": "DC-LYON", "qty": 0}
    assert field_post(oms, "/v1/inventory/events", elsewhere, issued).status_code == 403

    listed = partners("list")
    assert issued["key"] not in listed.stdout and issued["signing_secret"] not in listed.stdout
    assert "paris-wms" in listed.stdout
    assert partners("create", "paris-wms", "--kind", "node", "--ids", "DC-PARIS").returncode == 2
    assert partners("rotate", "nobody").returncode == 2

    assert partners("revoke", "paris-wms").returncode == 0
    again = {**count, "event_id": uuid.uuid4().hex}
    assert field_post(oms, "/v1/inventory/events", again, issued).status_code == 401
