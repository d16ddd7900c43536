"""Sourcing an order from workflow code: plan on fresh figures, hold the stock, and plan
again when another order took it in between. Holds nothing unless it says so."""

from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import ReserveStockInput, SourceOrderInput
    from domain.errors import Refusal
    from domain.order import OrderLine, Shipment
    from domain.order_lifecycle import OrderLifecycle
    from domain.sourcing import SourcingPlan
    from workflows import order_calls as call
    from workflows.failures import detail, reason, refusal


@dataclass
class Unplaced:
    """Why lines could not be placed, when incoming supply would cover them (ISO day),
    and the units missing per line."""

    reason: str
    supply_on: str | None = None
    missing: dict[str, int] = field(default_factory=dict)


class OrderSourcing:
    def __init__(self, order: OrderLifecycle, rounds: int) -> None:
        self._order = order
        self._rounds = rounds
        self._round = 0  # sourcing rounds so far: each holds stock under its own ids
        self.held_round: int | None = None  # the round of the last plan held

    async def plan(self, lines: list[OrderLine], avoid: set[str]) -> SourcingPlan:
        """The best plan for `lines` on fresh figures, away from `avoid`, holding nothing
        (an ActivityError says why there is none)."""
        order = self._order.order
        promised = self._order.view.promised_by
        return await call.source_order(
            SourceOrderInput(
                order_id=order.order_id,
                lines=lines,
                delivery=order.delivery.model_copy(update={"promised_by": promised}),
                now=workflow.now(),
                exclude_nodes=sorted(avoid),
            )
        )

    async def plan_and_hold(
        self, lines: list[OrderLine], cause: str | None = None
    ) -> SourcingPlan | Unplaced:
        """Plan `lines` (avoiding nodes that failed this order), then hold the stock; if
        another order took it in between, plan again."""
        for _ in range(self._rounds):
            self._round += 1
            try:
                plan = await self.plan(lines, self._order.avoid)
            except ActivityError as err:
                return Unplaced(
                    reason(err), detail(err, "next_supply_on"), detail(err, "missing") or {}
                )
            self._order.sourced(plan, cause)
            try:
                order_id = self._order.view.order_id
                await call.reserve_stock(
                    ReserveStockInput(order_id=order_id, round=self._round, plan=plan)
                )
            except ActivityError as err:
                if refusal(err) != Refusal.INSUFFICIENT_STOCK:
                    return Unplaced(reason(err))
                self._order.note("reservation_missed", f"{reason(err)}; sourcing again")
                continue
            self._order.note("reserved", f"Reserved {sum(s.units for s in plan.shipments)} units")
            self.held_round = self._round
            return plan
        return Unplaced(f"stock kept selling out while reserving ({self._rounds} attempts)")

    async def kept_elsewhere(self, shipment: Shipment) -> bool:
        """Would another node deliver the shipment's units by the promised date? (A plan,
        holding nothing.)"""
        lines = [
            OrderLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in shipment.lines if x.qty
        ]
        try:
            elsewhere = await self.plan(lines, {*self._order.avoid, shipment.node_id})
        except ActivityError:
            return False
        promised = self._order.view.promised_by
        return promised is None or elsewhere.deliver_by <= promised
