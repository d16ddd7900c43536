"""`python -m worker.health`: exit 0 when this container's worker polls its task queue.

The container's healthcheck (docker-compose.yml). A worker process that is up but no longer
polls (cut from Temporal, stuck shutting down) takes no order: a check of the process or of
an open port would call it healthy. The Temporal SDK counts its long polls in flight per task
queue (`temporal_num_pollers`, on the metrics it serves at OMS_TEMPORAL_METRICS_ADDRESS), so
the check reads that, from the worker's own process, without a call to Temporal.
"""

import re
import sys
import urllib.error
import urllib.request

from config import Settings

POLLERS = re.compile(r"^temporal_num_pollers\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$", re.M)


def workflow_pollers(metrics: str, task_queue: str) -> float:
    """Workflow-task polls in flight on the task queue, from Prometheus' text format."""
    total = 0.0
    for match in POLLERS.finditer(metrics):
        labels = match["labels"]
        # Sticky polls are per worker process; the shared queue's are what take new orders.
        if 'poller_type="workflow_task"' in labels and f'task_queue="{task_queue}"' in labels:
            total += float(match["value"])
    return total


def problem(settings: Settings, timeout: float = 3.0) -> str | None:
    """Why the worker is not healthy, or None."""
    address = settings.temporal_metrics_address
    if not address:
        return "OMS_TEMPORAL_METRICS_ADDRESS is not set: the worker's health is read there"
    host, _, port = address.rpartition(":")
    # The worker binds where it is told; the check runs next to it, in its container.
    if host in ("", "0.0.0.0", "[::]"):
        host = "127.0.0.1"
    url = f"http://{host}:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            metrics = answer.read().decode()
    except (OSError, urllib.error.URLError) as exc:
        return f"no worker metrics at {url}: {exc}"
    if workflow_pollers(metrics, settings.task_queue) <= 0:
        return f"the worker does not poll task queue {settings.task_queue}"
    return None


def main() -> int:
    found = problem(Settings())
    if found:
        sys.stderr.write(found + "\n")  # what `docker inspect` shows of a failed check
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
