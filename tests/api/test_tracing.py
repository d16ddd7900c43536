"""Tracing (config/tracing.py): one trace from the checkout's request through Temporal to
the activities' SQL, off by default, and a webhook carrying its trace to the receiver."""

import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from activities.notifications import Notification, WebhookSink
from api.app import create_app
from config import Settings, tracing
from config.logs import JsonLines, TemporalContext
from config.temporal import connect_temporal
from db.engine import make_engine
from tests.api.conftest import KEYS, PARTNER_SECRET, SECRET
from tests.networks import order_body
from worker.main import build_worker


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.start("oms-test", exporter=exporter)
    yield exporter
    tracing.stop()


def chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """The span's name and its ancestors' names, up to the trace's root."""
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_one_trace_from_the_order_request_to_the_activities_sql(
    spans: InMemorySpanExporter,
    dev_env: WorkflowEnvironment,
    task_queue: str,
    engine: Engine,
    sqlite_url: str,
):
    settings = Settings(
        api_keys=",".join(f"{role}:{key}" for role, key in KEYS.items()),
        signing_secret=SECRET,
        partner_secret=PARTNER_SECRET,
        task_queue=task_queue,
        database_url=sqlite_url,
        temporal_address=dev_env.client.service_client.config.target_host,
    )
    client = await connect_temporal(settings)  # the processes' own way: interceptors on
    app = create_app(settings, engine=engine, temporal_client=client)
    transport = httpx.ASGITransport(app=app)
    order_id = f"TR-{uuid.uuid4().hex[:8]}"
    # The worker's engine of its own, as in its own process: each is traced where it is built.
    worker_engine = make_engine(sqlite_url)
    async with build_worker(client, task_queue, worker_engine):
        async with httpx.AsyncClient(transport=transport, base_url="http://oms") as http:
            placed = await http.post(
                "/v1/orders",
                json=order_body(order_id, [("SKU-1", 1)]),
                headers={"Authorization": f"Bearer {KEYS['checkout']}"},
            )
            assert placed.status_code == 202, placed.text
            for _ in range(200):
                order = await http.get(
                    f"/v1/orders/{order_id}",
                    headers={"Authorization": f"Bearer {KEYS['support']}"},
                )
                if order.json().get("status") == "released":
                    break
            assert order.json()["status"] == "released"
    worker_engine.dispose()

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    [request] = [
        s
        for s in finished
        if s.kind == trace.SpanKind.SERVER
        and dict(s.attributes or {}).get("http.route") == "/v1/orders"
    ]
    in_trace = [s for s in finished if s.context.trace_id == request.context.trace_id]
    sql = [
        s
        for s in in_trace
        if s.parent is not None
        and by_id.get(s.parent.span_id, request).name.startswith("RunActivity:")
        and any(k.startswith("db.") for k in s.attributes or {})
    ]
    assert sql, sorted({s.name for s in in_trace})
    # From a database statement up: its activity's run and start, the API's start of the
    # order's workflow, the HTTP request the checkout made (the trace's root).
    path = chain(sql[0], by_id)
    assert path[0].startswith(("SELECT", "INSERT", "UPDATE", "BEGIN"))
    assert path[1].startswith("RunActivity:")
    assert path[2:] == [
        path[1].replace("Run", "Start", 1),
        "StartWorkflow:OrderWorkflow",
        request.name,
    ]
    # The workflow's run is a span of its own under its start, beside the activities:
    # Temporal's interceptor ends a workflow's spans at once (an order lives for weeks).
    [run] = [s for s in in_trace if s.name == "RunWorkflow:OrderWorkflow"]
    assert chain(run, by_id) == [run.name, "StartWorkflow:OrderWorkflow", request.name]
    assert (run.attributes or {})["temporalWorkflowID"] == f"order-{order_id}"
    # The whole order, up to its release, is that one trace.
    names = {s.name for s in in_trace}
    assert {"RunActivity:source_order", "RunActivity:reserve_stock"} <= names
    assert "RunActivity:book_carrier" in names
    assert request.resource.attributes["service.name"] == "oms-test"
    # Ids and SQL with placeholders: the customer's email and address stay out of traces.
    told = json.dumps([dict(s.attributes or {}) for s in finished], default=str)
    assert "anna@example.com" not in told and "69001" not in told and "45.76" not in told


def test_tracing_is_off_without_otel_settings_and_imports_no_sdk(tmp_path):
    # A process of its own: the test session has loaded the SDK by now. (FastAPI imports
    # the OpenTelemetry API, a few small modules, whatever the OMS does.)
    code = (
        "import sys\n"
        "from api.app import create_app\n"
        "from config import Settings, tracing\n"
        "from config.temporal import connect_temporal\n"
        "import worker.main\n"
        "app = create_app(Settings())\n"
        "assert not tracing.start('oms-api')\n"
        "assert tracing.temporal_interceptors() == []\n"
        "assert 'OpenTelemetryMiddleware' not in repr(app.user_middleware)\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.instrumentation')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(heavy))\n"
        "assert not loaded, loaded\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OMS_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "environ, wanted",
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_the_standard_otel_settings_turn_tracing_on(environ: dict, wanted: bool):
    assert tracing.wanted(environ) is wanted


def test_a_webhook_carries_its_trace_to_the_receiver(spans: InMemorySpanExporter):
    received: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.headers.get("traceparent", ""))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = WebhookSink(f"http://127.0.0.1:{server.server_port}/hook", "whsec_" + "A" * 32)
        sink.send(
            Notification(
                key="A-1:n1:shipped",
                order_id="A-1",
                recipient="customer",
                recipient_id="C-1",
                topic="shipped",
            )
        )
    finally:
        server.shutdown()
    [sent] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    [traceparent] = received
    assert traceparent.split("-")[1:3] == [
        format(sent.context.trace_id, "032x"),
        format(sent.context.span_id, "016x"),
    ]


def test_json_logs_carry_the_trace_and_span_ids_when_tracing_is_on(spans):
    record = logging.LogRecord("oms.test", logging.INFO, __file__, 1, "reserved", None, None)
    context = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    with trace.use_span(trace.NonRecordingSpan(context)):
        TemporalContext().filter(record)
    line = json.loads(JsonLines().format(record))
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["span_id"] == "b7ad6b7169203331"


def test_json_logs_say_no_trace_when_tracing_is_off():
    record = logging.LogRecord("oms.test", logging.INFO, __file__, 1, "reserved", None, None)
    TemporalContext().filter(record)
    assert "trace_id" not in json.loads(JsonLines().format(record))
