"""Counters the API process keeps itself (Prometheus)."""

from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

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
