"""Counters the API keeps itself (Prometheus): per request, so per process.

Several API processes behind one port (`OMS_API_WORKERS` > 1) each count their own
requests, and a scrape lands on one of them. With `PROMETHEUS_MULTIPROC_DIR` set (`oms api`
sets it for its workers), prometheus_client keeps every process's counts in files there
and a scrape of any process sums them all (its multiprocess mode). The figures read from
the database at scrape time (api/routes/reports.py) are not kept here: every process
would tell the same ones.
"""

import os
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess

# prometheus_client chooses where values live (memory or the shared files) from the same
# variable, once, when it is imported: the process's choice for its whole life.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

REGISTRY = CollectorRegistry()

PROMISE_SECONDS = Histogram(
    "oms_promise_seconds",
    "Time to answer a promise, in the engine",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
    registry=REGISTRY,
)

HTTP_SECONDS = Histogram(
    "oms_http_request_seconds",
    "Time to answer an HTTP request, per route (its template), method and status",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    registry=REGISTRY,
)


class RequestMetrics:
    """Times every request by its route's template (`/v1/orders/{order_id}`, never the id
    itself: one series per route). A request refused before routing (no key, too large)
    counts under `unrouted`."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unrouted")
            HTTP_SECONDS.labels(scope["method"], route, str(status)).observe(
                perf_counter() - started
            )


def exposition() -> bytes:
    """This process's counts, or in multiprocess mode every API process's, summed (a dead
    process's counts stay in the sum: a counter does not go back because a worker died)."""
    if not MULTIPROCESS_DIR:
        return generate_latest(REGISTRY)
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=MULTIPROCESS_DIR)
    return generate_latest(merged)


def process_ends() -> None:
    """A process leaving the shared files: only live gauges would need forgetting (none
    is kept here today); its counters stay, on purpose."""
    if MULTIPROCESS_DIR:
        multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIR)
