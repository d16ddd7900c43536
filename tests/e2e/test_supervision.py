"""`oms run` keeps the OMS up: a worker killed outright is started again, and the orders
go on; Ctrl-C or SIGTERM stops everything, and nothing is left running."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_end_to_end import free_port, wait_for_port
from tests.networks import order_body
from tests.simulator.test_nothing_left_behind import running_descendants, still_running

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
KEYS = {role: f"sup-{role}-{uuid.uuid4().hex}" for role in ("checkout", "support", "admin")}


def workers_of(pid: int) -> set[int]:
    found = set()
    for child in running_descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in command and b"cli.main" in command:
            found.add(child)
    return found


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"never: {what}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_worker_is_started_again_and_the_orders_go_on(tmp_path: Path):
    api_port = free_port()
    env = {
        **os.environ,
        "OMS_DATA_DIR": str(tmp_path / "data"),
        "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "OMS_TEMPORAL_UI_PORT": str(free_port()),
        "OMS_API_PORT": str(api_port),
        "OMS_API_KEYS": ",".join(f"{role}:{key}" for role, key in KEYS.items()),
        "OMS_SIGNING_SECRET": uuid.uuid4().hex * 2,
        "OMS_TASK_QUEUE": f"sup-{uuid.uuid4().hex[:6]}",
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen([str(BIN / "oms"), "run"], env=env, stdout=out, stderr=out)
    try:
        wait_for_port(api_port, run, timeout=120)
        [first] = wait_until(lambda: workers_of(run.pid), 30, "a worker")
        os.kill(first, signal.SIGKILL)
        [second] = wait_until(lambda: workers_of(run.pid) - {first}, 30, "a new worker")
        assert "the worker stopped (code -9)" in log.read_text()
        assert run.poll() is None  # the rest stayed up
        oid = f"S-{uuid.uuid4().hex[:6]}"
        checkout = {"Authorization": f"Bearer {KEYS['checkout']}"}
        support = {"Authorization": f"Bearer {KEYS['support']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as http:
            placed = http.post(
                "/v1/orders", json=order_body(oid, [("SKU-001", 1)]), headers=checkout
            )
            assert placed.status_code == 202, placed.text
            wait_until(
                lambda: (
                    http.get(f"/v1/orders/{oid}", headers=support).json()["status"] == "released"
                ),
                60,
                "the order released by the new worker",
            )
        everything = running_descendants(run.pid)
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0, log.read_text()
        wait_until(lambda: not still_running(everything), 30, "every part stopped")
    finally:
        if run.poll() is None:
            run.kill()
