"""Sourcing an order from workflow code: plan on fresh figures, hold the stock, and plan
again when another order took it in between. Holds nothing unless it says so."""

from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import ReserveStockInput, SourceOrderInput
    from activities.preorders import HoldPreorderInput, PlanHeldInput, PlanPreorderInput
    from domain.errors import Refusal
    from domain.order import OrderLine, Shipment
    from domain.order_lifecycle import OrderLifecycle
    from domain.preorder import PreorderHeld
    from domain.sourcing import SourcingPlan
    from workflows import order_calls as call
    from workflows.failures import detail, reason, refusal


@dataclass
class Unplaced:
    """Why lines could not be placed, the units missing per line, and whether incoming
    supply would serve them (a pre-order; `supply_on`: its day, as orders placed before
    pre-orders held anything were told)."""

    reason: str
    supply_on: str | None = None
    missing: dict[str, int] = field(default_factory=dict)
    preorder: bool = False


class OrderSourcing:
    def __init__(self, order: OrderLifecycle, rounds: int) -> None:
        self._order = order
        self._rounds = rounds
        self._round = 0  # sourcing rounds so far: each holds stock under its own ids
        self.held_round: int | None = None  # the round of the last plan held
        self.preorder_round: int | None = None  # the round a pre-order holds under
        self._later_holds = 0  # holds added to the pre-order's round since

    async def plan(
        self, lines: list[OrderLine], avoid: set[str], preorder: bool = False
    ) -> SourcingPlan:
        """The best plan for `lines` on fresh figures, away from `avoid`, holding nothing
        (an ActivityError says why there is none, and, `preorder`, whether incoming supply
        would serve the units missing)."""
        order = self._order.order
        promised = self._order.view.promised_by
        return await call.source_order(
            SourceOrderInput(
                order_id=order.order_id,
                lines=lines,
                delivery=order.delivery.model_copy(update={"promised_by": promised}),
                now=workflow.now(),
                exclude_nodes=sorted(avoid),
                preorder=preorder,
            )
        )

    async def plan_and_hold(
        self, lines: list[OrderLine], cause: str | None = None, preorder: bool = False
    ) -> SourcingPlan | Unplaced:
        """Plan `lines` (avoiding nodes that failed this order), then hold the stock; if
        another order took it in between, plan again."""
        for _ in range(self._rounds):
            self._round += 1
            try:
                plan = await self.plan(lines, self._order.avoid, preorder)
            except ActivityError as err:
                return Unplaced(
                    reason(err),
                    detail(err, "next_supply_on"),
                    detail(err, "missing") or {},
                    bool(detail(err, "preorder")),
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

    async def hold_preorder(
        self, lines: list[OrderLine], missing: dict[str, int] | None = None
    ) -> PreorderHeld | Unplaced:
        """Hold a pre-order's units: on hand in stock, the rest on incoming supply. The
        first hold opens the pre-order's round; later ones (supply that will not come,
        replaced) join it, so that its shipments find every unit under one round."""
        order = self._order.order
        for _ in range(self._rounds):
            if self.preorder_round is None:
                self._round += 1
                round, tag = self._round, ""
            else:
                self._later_holds += 1
                round, tag = self.preorder_round, f"+{self._later_holds}"
            try:
                held = await call.plan_preorder(
                    PlanPreorderInput(
                        order_id=order.order_id,
                        lines=lines,
                        missing=missing,
                        delivery=order.delivery,
                        now=workflow.now(),
                    )
                )
                await call.hold_preorder(
                    HoldPreorderInput(order_id=order.order_id, round=round, tag=tag, held=held)
                )
            except ActivityError as err:
                if refusal(err) != Refusal.INSUFFICIENT_STOCK:
                    return Unplaced(reason(err))
                self._order.note("reservation_missed", f"{reason(err)}; trying again")
                missing = None  # work it out again on fresh figures
                continue
            self.preorder_round = round
            return held
        return Unplaced(
            f"stock and supply kept selling out while holding ({self._rounds} attempts)"
        )

    async def plan_held(self) -> SourcingPlan | None:
        """The pre-order's shipments, on the units it holds once all have arrived; None
        when they cannot go as one plan under the policy."""
        assert self.preorder_round is not None
        order = self._order.order
        try:
            plan = await call.plan_held(
                PlanHeldInput(
                    order_id=order.order_id,
                    round=self.preorder_round,
                    lines=order.lines,
                    delivery=order.delivery,
                    now=workflow.now(),
                )
            )
        except ActivityError as err:
            self._order.note("preorder_replanned", f"{reason(err)}; sourcing it again")
            return None
        self._order.sourced(plan, "its pre-order's units arrived")
        self.held_round = self.preorder_round
        return plan

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
