"""Logs: plain lines for a terminal, or one JSON object per line for a log pipeline
(`OMS_LOG_FORMAT=json`). Every line written inside a workflow or an activity says which
one: workflow id and run id, the order (or transfer) it is about, the activity and its
attempt, so an operator can follow one order through every process. With tracing on
(config/tracing.py), the trace and span ids too: from a log line to its trace."""

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from temporalio import activity, workflow

from config import tracing

LogFormat = Literal["text", "json"]
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Who a workflow id is about: `order-A-1` is order A-1, `transfer-T-9` transfer T-9.
SUBJECTS = {"order-": "order_id", "transfer-": "transfer_id", "incident-": "incident_id"}
CONTEXT = (
    "order_id",
    "transfer_id",
    "incident_id",
    "workflow_id",
    "run_id",
    "workflow_type",
    "activity",
    "attempt",
    "task_queue",
    "trace_id",
    "span_id",
)


class TemporalContext(logging.Filter):
    """Adds the running workflow's or activity's identity to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context: dict[str, Any] = {}
        if activity.in_activity():
            info = activity.info()
            context = {
                "workflow_id": info.workflow_id,
                "run_id": info.workflow_run_id,
                "workflow_type": info.workflow_type,
                "activity": info.activity_type,
                "attempt": info.attempt,
                "task_queue": info.task_queue,
            }
        elif workflow.in_workflow():
            winfo = workflow.info()
            context = {
                "workflow_id": winfo.workflow_id,
                "run_id": winfo.run_id,
                "workflow_type": winfo.workflow_type,
                "task_queue": winfo.task_queue,
            }
        context |= tracing.log_context()  # {} unless tracing is on
        workflow_id = context.get("workflow_id") or ""
        for prefix, key in SUBJECTS.items():
            if workflow_id.startswith(prefix):
                context[key] = workflow_id[len(prefix) :]
        for key, value in context.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the Temporal context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """Set the process's root logger once: its one handler, its format, the context."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT))
    handler.addFilter(TemporalContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
