"""The worker container's healthcheck (`python -m worker.health`, docker-compose.yml) is
healthy only while a real `oms worker` polls its task queue."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_end_to_end import free_port
from worker.health import workflow_pollers

BIN = Path(sys.executable).parent


def health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.health"], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.e2e
def test_the_worker_is_healthy_while_it_polls_its_task_queue_and_not_once_stopped(
    dev_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path
):
    log = tmp_path / "worker.log"
    task_queue = f"tq-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "OMS_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "OMS_DATABASE_URL": sqlite_url,
        "OMS_TASK_QUEUE": task_queue,
        # As in compose: bound on every interface, checked on the loopback.
        "OMS_TEMPORAL_METRICS_ADDRESS": f"0.0.0.0:{free_port()}",
    }
    # Before the worker: nothing answers.
    assert health(env).returncode == 1
    with log.open("w") as out:
        worker = subprocess.Popen(
            [str(BIN / "oms"), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while (check := health(env)).returncode != 0:
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, (check.stderr, log.read_text())
            time.sleep(0.5)
        # The same metrics, read for a queue nobody polls: not an open port that passes.
        other = health({**env, "OMS_TASK_QUEUE": "nobody-polls-this"})
        assert other.returncode == 1
        assert "does not poll task queue nobody-polls-this" in other.stderr
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()
        stopped = health(env)
        assert stopped.returncode == 1
        assert "no worker metrics" in stopped.stderr
    finally:
        if worker.poll() is None:
            worker.kill()


def test_without_a_metrics_address_the_check_says_where_it_reads():
    env = {**os.environ, "OMS_TEMPORAL_METRICS_ADDRESS": ""}
    check = health(env)
    assert check.returncode == 1
    assert "OMS_TEMPORAL_METRICS_ADDRESS is not set" in check.stderr


def test_only_workflow_polls_on_the_queue_count():
    metrics = "\n".join(
        [
            "# TYPE temporal_num_pollers gauge",
            'temporal_num_pollers{namespace="default",poller_type="sticky_workflow_task",'
            'service_name="temporal-core-sdk",task_queue="oms-orders"} 4',
            'temporal_num_pollers{namespace="default",poller_type="workflow_task",'
            'service_name="temporal-core-sdk",task_queue="oms-orders"} 0',
            'temporal_num_pollers{namespace="default",poller_type="workflow_task",'
            'service_name="temporal-core-sdk",task_queue="other"} 2',
        ]
    )
    # Sticky polls alone do not take new orders, nor another queue's polls.
    assert workflow_pollers(metrics, "oms-orders") == 0
    assert workflow_pollers(metrics.replace("} 0", "} 1"), "oms-orders") == 1
