"""`oms worker` serves the Temporal SDK's metrics for Prometheus, and stops cleanly on
SIGTERM (a container stopping, `oms run` restarting it): it stops polling, lets running
activities finish, and exits 0."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_end_to_end import free_port

BIN = Path(sys.executable).parent


def test_the_worker_shows_its_metrics_and_stops_cleanly_on_sigterm(
    dev_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path
):
    log = tmp_path / "worker.log"
    metrics_port = free_port()
    env = {
        **os.environ,
        "OMS_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "OMS_DATABASE_URL": sqlite_url,
        "OMS_TASK_QUEUE": f"tq-{uuid.uuid4().hex[:6]}",
        "OMS_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
    }
    with log.open("w") as out:
        worker = subprocess.Popen(
            [str(BIN / "oms"), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "worker on task queue" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert "temporal_" in metrics  # the SDK's own series: polls, task latencies, ...
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()
        assert "worker stopped" in log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()


def test_the_api_finishes_the_requests_it_has_begun_on_sigterm(
    dev_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path
):
    log = tmp_path / "api.log"
    port = free_port()
    key = f"checkout-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "OMS_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "OMS_DATABASE_URL": sqlite_url,
        "OMS_API_PORT": str(port),
        "OMS_API_KEYS": f"checkout:{key}",
        "OMS_SIGNING_SECRET": uuid.uuid4().hex * 2,
    }
    with log.open("w") as out:
        api = subprocess.Popen(
            [str(BIN / "oms"), "api"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert api.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # A cart whose body is still arriving when the process is told to stop: a caller
        # mid-request when a container stops, or `oms run` restarting the API.
        body = (
            b'{"lines": [{"sku": "SKU-1", "qty": 1}], "destination": {"postal_code": "69001",'
            b' "country": "FR", "lat": 45.76, "lon": 4.83}}'
        )
        head = (
            f"POST /v1/promise HTTP/1.1\r\nHost: oms\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as caller:
            caller.sendall(head + body[:20])
            time.sleep(0.5)  # the request has begun: the API reads its body
            api.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            caller.sendall(body[20:])
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = caller.recv(65536)
                assert chunk, answer
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert api.wait(timeout=30) == 0, log.read_text()
        with socket.socket() as late:  # and it took no new caller after the signal
            assert late.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if api.poll() is None:
            api.kill()
