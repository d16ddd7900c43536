"""Tracing with OpenTelemetry: one trace from the API request to the order's workflow, its
activities and their database statements, off unless the standard `OTEL_*` settings ask.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or
`OTEL_TRACES_EXPORTER` (`otlp`, `console`; `none` is off) is set, and `OTEL_SDK_DISABLED`
is not `true`. The rest is the SDK's own settings: `OTEL_SERVICE_NAME` (default `oms-api`,
`oms-worker`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, the exporter's
`OTEL_EXPORTER_OTLP_*` (headers, timeout; OTLP over HTTP/protobuf, port 4318).

Off, neither the SDK nor an exporter nor an instrumentation is imported (FastAPI imports
the small API package itself), and every function here returns at its first line.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy import Engine

log = logging.getLogger("oms.tracing")

_provider: TracerProvider | None = None
# Engines already traced: an API and a worker in one process (tests) may share one.
_engines: weakref.WeakSet = weakref.WeakSet()


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the OTEL_* settings ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


def start(service: str, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process if the settings ask (or with this exporter, which
    a test gives). `service` names the process unless OTEL_SERVICE_NAME does."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None and not wanted():
        return False
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, but attributes
    # given here would win: the process's name only when the operator gave none.
    named = os.environ.get("OTEL_SERVICE_NAME", "").strip()
    provider = TracerProvider(resource=Resource.create({} if named else {SERVICE_NAME: service}))
    if exporter is not None:  # a test reads its spans at once
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:  # off the request's path: spans leave in batches, from a thread of their own
        for each in _exporters():
            provider.add_span_processor(BatchSpanProcessor(each))
    # Not made the global provider: it is passed to each instrumentation below. FastAPI
    # (0.165 on) traces by itself once a global provider is set, which would trace apps
    # this process left untraced (a test's), and a second start could not replace it.
    _provider = provider
    # Outgoing HTTP (the webhooks): every httpx transport of the process, with the
    # request's `traceparent` so the receiver can join the trace.
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    log.info("tracing on: service %s", named or service)
    return True


def _exporters() -> list[SpanExporter]:
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            )
            if protocol.strip() != "http/protobuf":
                # gRPC would bring grpcio (tens of MB) for the same spans: the collector
                # takes HTTP on 4318 as well.
                log.warning("OTLP protocol %s is not installed: sending http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name and name != "none":
            log.warning("OTEL_TRACES_EXPORTER %s is not supported (otlp, console): ignored", name)
    return exporters


def flush() -> None:
    """Send the spans still waiting (the CLI leaves with os._exit: no atexit runs)."""
    if _provider is not None:
        _provider.force_flush()


def stop() -> None:
    """Send what waits and turn tracing off (a test's end)."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    _provider.shutdown()
    _provider = None


def temporal_interceptors() -> list[Any]:
    """Temporal's tracing interceptor for a client, and so for the workers built on it:
    the start of a workflow, its run, each activity's start and run, as spans, the context
    carried in Temporal's headers from the API to the worker."""
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(_provider.get_tracer("temporalio"))]


def instrument_app(app: FastAPI) -> None:
    """A server span per request (the route's template as its name), the caller's
    `traceparent` honoured. Probes and scrapes are not traced unless the operator says
    otherwise (OTEL_PYTHON_FASTAPI_EXCLUDED_URLS)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=os.environ.get(
            "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "/healthz$,/livez$,/metrics$"
        ),
        # A span for each ASGI message sent or received says nothing the request's does not.
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: Engine) -> None:
    """A span per SQL statement on this engine (and per connection taken)."""
    if _provider is None or engine in _engines:
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    # The instrumentor's instrument(engine=) works once per process (it is a singleton);
    # its EngineTracer, which it builds the same way, takes any number of engines.
    meter = get_meter("opentelemetry.instrumentation.sqlalchemy", __version__)
    usage = meter.create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)
    _engines.add(engine)


def log_context() -> dict[str, str]:
    """The current trace and span ids for a log line, when tracing is on."""
    if _provider is None:
        return {}
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }
