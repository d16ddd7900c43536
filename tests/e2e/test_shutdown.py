"""`oms worker` serves the Temporal SDK's metrics for Prometheus, and stops cleanly on
SIGTERM (a container stopping, `oms run` restarting it): it stops polling, lets running
activities finish, and exits 0."""

import os
import signal
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
