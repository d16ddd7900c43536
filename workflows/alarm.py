"""One timer for the next deadline of a workflow, kept while the deadline stays the same:
each Temporal timer started or cancelled costs the server a task, and an order waits for
events many times between two deadlines."""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow


class Alarm:
    def __init__(self) -> None:
        self._at: datetime | None = None
        self._timer: asyncio.Future[None] | None = None

    def set(self, deadline: datetime | None) -> None:
        """Ring at `deadline` (None: never); the running timer serves if it is the same."""
        if deadline == self._at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._at, self._timer = deadline, None
        if deadline is not None:
            wait = max(deadline - workflow.now(), timedelta(seconds=1))
            self._timer = asyncio.ensure_future(workflow.sleep(wait))

    def ringing(self) -> bool:
        return self._timer is not None and self._timer.done()

    def stop(self) -> None:
        """It rang: the next deadline needs a new timer."""
        self._at = self._timer = None
