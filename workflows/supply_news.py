"""The supply news workflow: one per supply event that touched pre-orders, id
`supply-news-{event_id}`. It tells each order concerned (a signal: the order reads what
became of its units in the ledger, in its own history). Started by the API after the
event applied; the same event sent again starts nothing new."""

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from workflows.contracts import SUPPLY_NEWS_WORKFLOW, OrderSignal, order_workflow_id
    from workflows.order_messages import SupplyNewsSignal

SIGNAL_BATCH = 100  # orders told at a time


class SupplyNewsInput(BaseModel):
    event_id: str
    supply_id: str
    orders: list[str]


class SupplyNewsReport(BaseModel):
    told: list[str]
    closed: list[str]  # orders that had ended: nothing to tell


@workflow.defn(name=SUPPLY_NEWS_WORKFLOW)
class SupplyNewsWorkflow:
    @workflow.run
    async def run(self, input: SupplyNewsInput) -> SupplyNewsReport:
        return await tell_orders(input)


async def tell_orders(input: SupplyNewsInput) -> SupplyNewsReport:
    """Signal each order its supply news, a batch at a time; an order that ended hears
    nothing (it has nothing left to wait for)."""
    news = SupplyNewsSignal(event_id=input.event_id, supply_id=input.supply_id)
    told: list[str] = []
    closed: list[str] = []
    for start in range(0, len(input.orders), SIGNAL_BATCH):
        batch = input.orders[start : start + SIGNAL_BATCH]
        sent = await asyncio.gather(
            *(
                workflow.get_external_workflow_handle(order_workflow_id(order_id)).signal(
                    OrderSignal.SUPPLY_NEWS, news
                )
                for order_id in batch
            ),
            return_exceptions=True,
        )
        for order_id, result in zip(batch, sent, strict=True):
            (closed if isinstance(result, BaseException) else told).append(order_id)
    return SupplyNewsReport(told=told, closed=closed)
