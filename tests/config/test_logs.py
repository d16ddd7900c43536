"""JSON logs an operator can follow an order by: every line written inside an activity
names the workflow, the run, the order, the activity and its attempt."""

import io
import json
import logging
import uuid

from temporalio.client import Client

from config.logs import JsonLines, TemporalContext
from domain.order import OrderStatus
from tests.networks import order_body
from tests.workflows.test_order_workflow import start, wait_for
from worker.main import build_worker


async def test_a_line_logged_in_an_activity_says_which_order_and_attempt(
    client: Client, task_queue: str, engine
):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    handler.addFilter(TemporalContext())
    notifications = logging.getLogger("oms.notifications")  # the log sink of every notice
    notifications.addHandler(handler)
    level = notifications.level
    notifications.setLevel(logging.INFO)
    try:
        order_id = f"L-{uuid.uuid4().hex[:6]}"
        async with build_worker(client, task_queue, engine):
            handle = await start(client, task_queue, order_body(order_id, [("SKU-1", 1)]))
            await wait_for(handle, lambda s: s.view.status == OrderStatus.RELEASED)
    finally:
        notifications.removeHandler(handler)
        notifications.setLevel(level)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [told] = [line for line in lines if "release_for_picking" in line["message"]]
    assert told["order_id"] == order_id
    assert told["workflow_id"] == f"order-{order_id}" and told["run_id"]
    assert (told["workflow_type"], told["activity"], told["attempt"]) == (
        "OrderWorkflow",
        "notify",
        1,
    )
    assert told["level"] == "info" and told["logger"] == "oms.notifications"


def test_a_line_outside_any_workflow_carries_no_made_up_context():
    record = logging.LogRecord("oms.api", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    TemporalContext().filter(record)

    line = json.loads(JsonLines().format(record))

    assert line["message"] == "hello you" and line["level"] == "warning"
    assert "workflow_id" not in line and "order_id" not in line
