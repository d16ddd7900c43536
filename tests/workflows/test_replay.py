"""Orders in flight survive a new release: histories of real orders, recorded from the
tests that tell their stories (tests/histories.py), replay on today's workflow code.

A change that would send different commands for the same history (an activity moved, a
timer added, a patch's branch dropped too early) fails here instead of in production,
where it would stop every order started before it."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.histories import HISTORIES
from worker.main import WORKFLOWS

STORIES = sorted(HISTORIES.glob("*.json"))


def test_the_stories_that_matter_are_recorded():
    assert {path.stem for path in STORIES} >= {
        "order-delivered",
        "order-cancelled",
        "order-cancel-refused",
        "order-short-pick-rerouted",
        "order-carrier-outage-rebooked",
        "order-node-closed-repromised",
        "order-exception-partial-accepted",
        "order-exception-retried",
        "order-sla-missed-twice",
        "order-late-handover-moved",
        "incident-carrier-outage",
        "incident-paged",
        "field-watch",
        "order-preorder-served",
        "order-preorder-moved",
        "order-carrier-time-ignored",
    }


@pytest.mark.parametrize("path", STORIES, ids=lambda path: path.stem)
async def test_a_recorded_history_replays_on_todays_code(path: Path):
    history = WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # raises on any nondeterminism
