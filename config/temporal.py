"""Connecting to any Temporal with the OMS's data converter (pydantic payloads).

The connection follows Temporal's own client configuration (`temporalio.envconfig`): the
`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` variables or a
profile of `temporal.toml` (`TEMPORAL_PROFILE`, `TEMPORAL_CONFIG_FILE`). So the same image
runs against the local dev server, a self-hosted cluster with mTLS, or Temporal Cloud.
`OMS_TEMPORAL_ADDRESS` and `OMS_TEMPORAL_NAMESPACE`, when set, win over them.
"""

import logging
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import GrpcCompression

from config.settings import Settings


def connect_options(settings: Settings) -> dict[str, Any]:
    """Address, namespace, TLS and API key: Temporal's configuration, then the OMS's."""
    options: dict[str, Any] = dict(ClientConfigProfile.load().to_client_connect_config())
    if "temporal_address" in settings.model_fields_set or not options.get("target_host"):
        options["target_host"] = settings.temporal_address
    if "temporal_namespace" in settings.model_fields_set or not options.get("namespace"):
        options["namespace"] = settings.temporal_namespace
    return options


log = logging.getLogger("oms.temporal")
_RUNTIMES: dict[str, Runtime] = {}


def runtime(settings: Settings) -> Runtime:
    """The SDK's runtime: with its metrics (`temporal_...` series: workflow and activity
    task latencies, poll results, sticky cache, request failures) served for Prometheus
    at `temporal_metrics_address` when set. One per process and address."""
    address = settings.temporal_metrics_address
    if not address:
        return Runtime.default()
    if address not in _RUNTIMES:
        metrics = PrometheusConfig(bind_address=address, durations_as_seconds=True)
        try:
            _RUNTIMES[address] = Runtime(telemetry=TelemetryConfig(metrics=metrics))
        except Exception as exc:  # the address taken (several API processes): go on without
            log.warning("Temporal SDK metrics not served at %s: %s", address, exc)
            _RUNTIMES[address] = Runtime.default()
    return _RUNTIMES[address]


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        **connect_options(settings),
        runtime=runtime(settings),
        data_converter=pydantic_data_converter,
        grpc_compression=GrpcCompression.GZIP
        if settings.temporal_compression == "gzip"
        else GrpcCompression.NONE,
    )
