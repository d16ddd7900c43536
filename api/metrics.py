"""Counters the API process keeps itself (Prometheus)."""

from prometheus_client import CollectorRegistry, Histogram

REGISTRY = CollectorRegistry()

PROMISE_SECONDS = Histogram(
    "oms_promise_seconds",
    "Time to answer a promise, in the engine",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
    registry=REGISTRY,
)
