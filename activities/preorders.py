"""Pre-order activities: hold what is on hand and the future units of supply on its way,
tell the order what became of them, and plan its shipments once they have arrived."""

from dataclasses import replace
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError

from activities import defn
from activities.inventory import destination_of, reservation_requests
from db import future_stock, ledger
from db.engine import read_only, unit_of_work
from db.future_stock import SupplyHoldRequest
from db.performance import PerformanceCache
from db.policies import active_policy
from db.supply_chain import load_supply_chain
from domain.errors import InsufficientStock, Refusal
from domain.order import Delivery, OrderLine
from domain.preorder import (
    PreorderHeld,
    PreorderNews,
    delivery_from,
    plan_preorder,
)
from domain.sourcing import SourcingPlan, Unsourceable, source_order


class PlanPreorderInput(BaseModel):
    order_id: str
    lines: list[OrderLine]
    # Line id -> units nobody has on hand, as sourcing found; None: find out here (the
    # lines may all be on hand by now).
    missing: dict[str, int] | None = None
    delivery: Delivery
    now: datetime


class HoldPreorderInput(BaseModel):
    order_id: str
    round: int  # the pre-order's sourcing round: every hold of it carries it
    tag: str = ""  # tells a later hold in the same round from the first ones
    held: PreorderHeld  # what to hold: the plan of plan_preorder


class PreorderNewsInput(BaseModel):
    order_id: str
    delivery: Delivery
    now: datetime


class PlanHeldInput(BaseModel):
    order_id: str
    round: int
    lines: list[OrderLine]
    delivery: Delivery
    now: datetime


class PreorderActivities:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.performance = PerformanceCache()

    def _chain(self, skus: list[str], now: datetime):
        with read_only(self.engine) as session:
            chain = load_supply_chain(session, skus)
            policy = active_policy(session)
            if policy.lead_times == "learned":
                chain.performance = self.performance.get(session, chain, now)
        return chain, policy

    @defn
    def plan_preorder(self, input: PlanPreorderInput) -> PreorderHeld:
        """What the pre-order would hold: the units on hand in stock, the missing ones on
        the soonest supply that covers them (holding nothing: `hold_preorder` holds it, so
        that a retried call never plans around its own first holds)."""
        chain, policy = self._chain([line.sku for line in input.lines], input.now)
        destination = destination_of(chain, input.delivery)
        missing = input.missing
        if missing is None:
            try:
                on_hand = source_order(
                    input.lines,
                    destination,
                    chain.offers([line.sku for line in input.lines], destination.pickup_node_id),
                    chain.carriers_on(input.now.date()),
                    chain.holidays,
                    input.now,
                    None,
                    policy,
                    ("standard",),
                    outlook=chain.outlook(policy),
                )
            except Unsourceable as exc:
                missing = exc.missing
            else:
                return PreorderHeld(on_hand=on_hand, supply=[], deliver_by=on_hand.deliver_by)
        plan = (
            plan_preorder(input.lines, missing, destination, chain, input.now, policy)
            if missing
            else None  # on hand, but not as one plan under the policy
        )
        if plan is None:
            raise ApplicationError(
                "no incoming supply covers the missing units",
                type=Refusal.UNSOURCEABLE,
                non_retryable=True,
            )
        return plan.to_hold()

    @defn
    def hold_preorder(self, input: HoldPreorderInput) -> None:
        """Hold a pre-order's plan, all in one transaction or none; each hold's id makes a
        retried call hold once. Supply lines are locked before stock rows, as a receipt
        locks them: two such transactions never wait for each other in a circle."""
        stock = reservation_requests(
            self.engine, input.order_id, input.held.on_hand, input.round, input.tag
        )
        supply = [
            SupplyHoldRequest(
                order_id=input.order_id,
                line_id=held.line_id,
                sku=held.sku,
                supply_id=held.supply_id,
                qty=held.qty,
                round=input.round,
                tag=input.tag,
            )
            for held in input.held.supply
        ]
        now = datetime.now(UTC)
        with unit_of_work(self.engine) as session:
            resale_rate = active_policy(session).return_resale_rate
            try:
                future_stock.hold(session, supply, resale_rate, now)
                ledger.reserve(session, stock, now)
            except InsufficientStock as exc:
                raise ApplicationError(
                    str(exc), type=Refusal.INSUFFICIENT_STOCK, non_retryable=True
                ) from exc

    @defn
    def preorder_news(self, input: PreorderNewsInput) -> PreorderNews:
        """The order's holds on future stock as the ledger has them now, and when what is
        still on its way would reach the customer."""
        with read_only(self.engine) as session:
            holds = future_stock.holds_of(session, input.order_id)
        waiting = [hold for hold in holds if hold.status == "held"]
        if not waiting:
            return PreorderNews(holds=holds)
        chain, policy = self._chain([hold.sku for hold in waiting], input.now)
        destination = destination_of(chain, input.delivery)
        days = []
        for hold in waiting:
            line = next(
                (s for s in chain.supply.get(hold.sku, []) if s.supply_id == hold.supply_id),
                None,
            )
            route = line and delivery_from(line, destination, chain, input.now, policy)
            if route:
                days.append(route[0])
        return PreorderNews(holds=holds, deliver_by=max(days) if days else None)

    @defn
    def plan_held(self, input: PlanHeldInput) -> SourcingPlan:
        """The shipments of a pre-order whose units have all arrived: planned on the units
        the order holds (its round's), and nothing else."""
        chain, policy = self._chain([line.sku for line in input.lines], input.now)
        destination = destination_of(chain, input.delivery)
        held: dict[str, dict[str, int]] = {}  # node -> sku -> units held there
        with read_only(self.engine) as session:
            for units in ledger.held_in_round(session, input.order_id, input.round):
                at = held.setdefault(units.node_id, {})
                at[units.sku] = at.get(units.sku, 0) + units.qty
        keep = {*held, destination.pickup_node_id}  # and the store that hands it over
        skus = [line.sku for line in input.lines]
        learned = policy.lead_times == "learned"
        offers = [
            replace(offer, atp=held.get(offer.node.id, {}))
            for offer in chain.offers(skus, set(held), input.now, learned)
            if offer.node.id in keep
        ]
        kinds = ("express",) if input.delivery.service == "express" else ("standard", "express")
        try:
            return source_order(
                input.lines,
                destination,
                offers,
                chain.carriers_on(input.now.date()),
                chain.holidays,
                input.now,
                None,
                policy,
                kinds,
                outlook=chain.outlook(policy),
            )
        except Unsourceable as exc:
            raise ApplicationError(
                f"the units held cannot be shipped as one plan: {exc}",
                type=Refusal.UNSOURCEABLE,
                non_retryable=True,
            ) from exc
