"""Connecting to any Temporal with the OMS's data converter (pydantic payloads).

The connection follows Temporal's own client configuration (`temporalio.envconfig`): the
`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` variables or a
profile of `temporal.toml` (`TEMPORAL_PROFILE`, `TEMPORAL_CONFIG_FILE`). So the same image
runs against the local dev server, a self-hosted cluster with mTLS, or Temporal Cloud.
`OMS_TEMPORAL_ADDRESS` and `OMS_TEMPORAL_NAMESPACE`, when set, win over them.
With `OMS_PAYLOAD_KEYS`, every client encrypts what it hands Temporal (config/payload_codec.py).
"""

import dataclasses
import logging
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import GrpcCompression

from config import tracing
from config.payload_codec import EncryptionCodec, parse_payload_keys
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


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads; with `OMS_PAYLOAD_KEYS`, encrypted before they leave the process."""
    keys = parse_payload_keys(settings.payload_keys.get_secret_value())
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        # A failure's message and stack trace go into the history too, and a validation
        # error quotes its input (an email, an address): encrypted with the payloads.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect_temporal(settings: Settings) -> Client:
    if settings.env == "prod" and not settings.payload_keys.get_secret_value():
        # Not refused: the histories are as safe as the Temporal cluster, which may be
        # trusted (its own access control and disk encryption); said at every start.
        log.warning(
            "OMS_PAYLOAD_KEYS is not set: customer emails and addresses are stored in clear "
            "in Temporal's histories and shown by its Web UI"
        )
    return await Client.connect(
        **connect_options(settings),
        runtime=runtime(settings),
        data_converter=data_converter(settings),
        grpc_compression=GrpcCompression.GZIP
        if settings.temporal_compression == "gzip"
        else GrpcCompression.NONE,
        # With tracing on, the client's spans, and its workers' (a worker takes the
        # interceptors of the client it is built on): none otherwise.
        interceptors=tracing.temporal_interceptors(),
    )
