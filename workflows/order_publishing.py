"""What an order shows the world from workflow code: notices to the parties, its search
attributes, its read model (each with a revision), all in the background."""

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Notification
    from activities.orders import RecordOrderInput
    from domain.order_lifecycle import Notice, OrderLifecycle
    from workflows import order_calls as call
    from workflows import search_attributes as sa


class OrderPublisher:
    def __init__(self) -> None:
        self.revision = 0
        self._background: list[asyncio.Future[Any]] = []

    def send(self, notice: Notice, order_id: str) -> None:
        """A notice the rules decided: sent in the background, at least once."""
        notification = Notification(
            key=notice.key,
            order_id=order_id,
            recipient=notice.recipient,
            recipient_id=notice.recipient_id,
            topic=notice.topic,
            payload=notice.payload,
        )
        self._background.append(call.notify(notification))

    def save(self, order: OrderLifecycle, wait: bool = False) -> Any:
        """Publish the order's state: search attributes now, read model in the background
        (or, with `wait`, awaitable until it is written)."""
        self.revision += 1
        workflow.upsert_search_attributes(sa.of_order(order.view))
        write = call.record_order(
            RecordOrderInput(view=order.view, timeline=order.timeline, revision=self.revision)
        )
        self._background.append(write)
        return write if wait else None

    async def finish(self) -> None:
        """Wait for what is still being sent or written (each gives up on its own)."""
        results = await asyncio.gather(*self._background, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                workflow.logger.warning("background activity gave up: %s", result)
