"""Histories of real orders, kept as test data so that a change of the workflows that
would break orders in flight fails CI (tests/workflows/test_replay.py replays them).

`OMS_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/workflows tests/api` writes
them again from the tests that tell each story; record them only when the stories
change, never to make a replay pass (see docs/reliability.md).
"""

import os
from pathlib import Path

from temporalio.client import Client

HISTORIES = Path(__file__).parent / "workflows" / "histories"


async def keep_history(
    client: Client, workflow_id: str, story: str, run_id: str | None = None
) -> None:
    """Write `workflow_id`'s history (its latest run's, or `run_id`'s) as the story's
    test data, when asked to record."""
    if not os.environ.get("OMS_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{story}.json").write_text(history.to_json())
