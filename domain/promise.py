"""The delivery promise: what can we offer this cart, and by when can we really deliver?

It plans each option with the sourcing engine itself, on the same supply chain (ATP,
picking capacity, cut-offs, carrier transit, holidays), so that a promised date is one the
order can be sourced for. Lines nobody has on hand can be promised from future supply
(purchase orders, expected returns) as pre-orders. During a peak, options that make the
peak's guarantee date are promised by that date ("before the 24th").
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.geo import distance_km
from domain.ids import Id, Instant
from domain.order import OrderLine
from domain.policy import DEFAULT_POLICY, SourcingPolicy
from domain.preorder import PreorderPlan, plan_preorder
from domain.sourcing import Destination, SourcingPlan, Unsourceable, source_order
from domain.supply_chain import SupplyChain

Method = Literal["home_standard", "home_express", "click_and_collect"]

COLLECT_RADIUS_KM = 50.0
MAX_COLLECT_STORES = 3


class CartLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Id
    qty: Annotated[int, Field(gt=0, le=10_000)]


class PromiseDestination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postal_code: Annotated[str, Field(min_length=1, max_length=16)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


# How far a cart's `at` may be from the API's now. A promise is made from today's stock,
# capacity and incidents, and its options are held for an order placed now: `at` is now as
# the checkout sees it, whose clock may be off, or which may send a local time with the
# wrong offset (at most 14 hours). A day covers that; beyond it the answer would be a
# guess on stock that will not be there, and an option valid far longer than it should.
PROMISE_CLOCK_SKEW = timedelta(days=1)


def promise_time_refusal(at: datetime, now: datetime) -> str | None:
    """Why a promise cannot be asked for `at`, or None if it can: within a day of `now`."""
    if abs(at - now) <= PROMISE_CLOCK_SKEW:
        return None
    return (
        f"at {at.isoformat()} is more than a day from now ({now.isoformat(timespec='seconds')}): "
        "a promise is for a cart now"
    )


class PromiseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: Annotated[list[CartLine], Field(min_length=1, max_length=50)]
    destination: PromiseDestination
    at: Instant | None = None  # default: now; within a day of it (PROMISE_CLOCK_SKEW)

    @model_validator(mode="after")
    def _sane_quantities(self) -> "PromiseRequest":
        per_sku: dict[str, int] = {}
        for line in self.lines:
            per_sku[line.sku] = per_sku.get(line.sku, 0) + line.qty
        too_many = sorted(sku for sku, qty in per_sku.items() if qty > 10_000)
        if too_many:
            raise ValueError(f"more than 10,000 units of {', '.join(too_many)} in one cart")
        return self


class OptionLine(BaseModel):
    sku: str
    qty: int
    node_id: str
    source: Literal["on_hand", "purchase_order", "customer_return", "transfer"]
    supply_id: str | None = None
    available_on: date


class DeliveryOption(BaseModel):
    option_id: str = ""  # signed by the API: the order is held to this option's date
    method: Method
    store_id: str | None = None
    promised_by: date
    estimated_by: date  # the plan's own date; earlier than promised_by in a peak
    guaranteed: bool = False  # promised by the peak's guarantee date
    cost: float
    split: bool
    preorder: bool = False
    lines: list[OptionLine]


class Unavailable(BaseModel):
    sku: str
    reason: str


class Promise(BaseModel):
    options: list[DeliveryOption]
    unavailable: list[Unavailable] = []


def promise(
    request: PromiseRequest,
    chain: SupplyChain,
    now: datetime,
    policy: SourcingPolicy = DEFAULT_POLICY,
) -> Promise:
    """Every delivery option for the cart, fastest first within each method."""
    lines = _order_lines(request.lines)
    home = Destination(lat=request.destination.lat, lon=request.destination.lon)
    stores = [
        store
        for store in _collect_stores(chain, request.destination.lat, request.destination.lon)
        if store.id not in policy.excluded_nodes
    ]
    # One read of the supply chain serves every option (collection stores always listed).
    outlook = chain.outlook(policy)
    learned = outlook.performance is not None
    offers = chain.offers([line.sku for line in lines], {s.id for s in stores}, now, learned)
    options: list[DeliveryOption] = []
    unavailable: list[Unavailable] = []
    carriers = chain.carriers_on(now.date())
    home_methods: tuple[tuple[Method, tuple[str, ...]], ...] = (
        ("home_standard", ("standard",)),
        ("home_express", ("express",)),
    )
    for method, kinds in home_methods:
        try:
            plan = source_order(
                lines,
                home,
                offers,
                carriers,
                chain.holidays,
                now,
                policy=policy,
                kinds=kinds,
                explain=False,
                outlook=outlook,
            )
        except Unsourceable as short:
            if method == "home_express" or not short.missing:
                continue
            preorder = plan_preorder(lines, short.missing, home, chain, now, policy)
            if preorder is None:
                unavailable = _unavailable(lines, short.missing, chain)
                continue
            options.append(_preorder_option(chain, now, preorder, "home_standard", None))
            continue
        options.append(_option(chain, now, method, None, plan))

    for store in stores:
        at_store = Destination(lat=store.lat, lon=store.lon, pickup_node_id=store.id)
        try:
            plan = source_order(
                lines,
                at_store,
                offers,
                carriers,
                chain.holidays,
                now,
                policy=policy,
                explain=False,
                outlook=outlook,
            )
        except Unsourceable as short:
            # Not on the shelves: on its way to the store (a transfer), or to a warehouse?
            preorder = (
                plan_preorder(lines, short.missing, at_store, chain, now, policy)
                if short.missing
                else None
            )
            if preorder is not None:
                options.append(
                    _preorder_option(chain, now, preorder, "click_and_collect", store.id)
                )
            continue
        options.append(_option(chain, now, "click_and_collect", store.id, plan))
    if options:
        unavailable = []
    elif not unavailable:
        unavailable = [
            Unavailable(
                sku=line.sku,
                reason="in stock, but only in more shipments or split "
                f"lines than policy {policy.name} allows",
            )
            for line in lines
        ]
    return Promise(options=options, unavailable=unavailable)


def _order_lines(cart: list[CartLine]) -> list[OrderLine]:
    merged: dict[str, int] = {}
    for line in cart:
        merged[line.sku] = merged.get(line.sku, 0) + line.qty
    return [
        OrderLine(line_id=str(n), sku=sku, qty=qty)
        for n, (sku, qty) in enumerate(merged.items(), 1)
    ]


def _collect_stores(chain: SupplyChain, lat: float, lon: float):
    near = []
    for node in chain.nodes:
        if node.type == "store" and node.click_and_collect:
            km = distance_km(lat, lon, node.lat, node.lon)
            if km <= COLLECT_RADIUS_KM:
                near.append((km, node.id, node))
    return [node for _, _, node in sorted(near)[:MAX_COLLECT_STORES]]


def _preorder_option(
    chain: SupplyChain,
    now: datetime,
    preorder: PreorderPlan,
    method: Method,
    store_id: str | None,
) -> DeliveryOption:
    from_supply = [
        OptionLine(
            sku=pick.sku,
            qty=pick.qty,
            node_id=pick.supply.node_id,
            source=pick.supply.kind,
            supply_id=pick.supply.supply_id,
            available_on=pick.supply.eta,
        )
        for pick in preorder.from_supply
    ]
    plan = preorder.on_hand.model_copy(update={"deliver_by": preorder.deliver_by})
    return _option(chain, now, method, store_id, plan, from_supply, round(preorder.supply_cost, 2))


def _option(
    chain: SupplyChain,
    now: datetime,
    method: Method,
    store_id: str | None,
    plan: SourcingPlan,
    from_supply: list[OptionLine] | None = None,
    supply_cost: float = 0.0,
) -> DeliveryOption:
    lines = [
        OptionLine(
            sku=x.sku, qty=x.qty, node_id=s.node_id, source="on_hand", available_on=s.ship_on
        )
        for s in plan.shipments
        for x in s.lines
    ]
    lines += from_supply or []
    promised_by, guaranteed = plan.deliver_by, False
    day = now.date()
    for peak in chain.calendar.peaks if method != "home_express" else ():  # express: speed
        if (
            peak.guarantee_by
            and peak.from_ <= day <= peak.to
            and plan.deliver_by <= peak.guarantee_by
        ):
            # In the peak the fastest date is uncertain: commit to the guarantee instead.
            promised_by, guaranteed = peak.guarantee_by, True
    nodes = {line.node_id for line in lines}
    return DeliveryOption(
        method=method,
        store_id=store_id,
        promised_by=promised_by,
        estimated_by=plan.deliver_by,
        guaranteed=guaranteed,
        cost=round(sum(s.cost for s in plan.shipments) + supply_cost, 2),
        split=len(nodes) > 1,
        preorder=bool(from_supply),
        lines=lines,
    )


def _unavailable(
    lines: list[OrderLine], missing: dict[str, int], chain: SupplyChain
) -> list[Unavailable]:
    out = []
    for line in lines:
        short = missing.get(line.line_id)
        if not short:
            continue
        if line.sku not in chain.atp and line.sku not in chain.supply:
            reason = "unknown or never stocked"
        else:
            reason = f"{short} of {line.qty} not available to promise, and no supply covers them"
        out.append(Unavailable(sku=line.sku, reason=reason))
    return out
