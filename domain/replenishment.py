"""Store replenishment: the demand a store will see, the stock it should hold, and the
proposals that bring it there from the best source.

Pure: the planner (activities/replenishment.py) reads the ledger and the calendar, and
hands the facts here. The numbers a proposal was made from travel with it, so that an
operator approving it (or wondering about it) reads why.

- **Forecast.** A store's demand is what it sold in the shop plus the online orders it
  served, per day. Each day's units are divided by the calendar's peak factor of that day
  (a peak's sales say little of a normal day), averaged, shaped by the weekday profile
  once two weeks are known, then multiplied by the peak factor of each day ahead.
- **Target.** Stock for the days of cover (at least until the next plan's transfer can
  arrive: lead time + review days), plus safety stock and the protected shelf. Before a
  peak the cover reaches further, by the policy's peak lead days, so the stores fill up
  while the warehouses still have picking room.
- **Sources.** A warehouse gives only what is left after its own online orders: units
  held, safety stock, and its own online demand of the coming days. Stores give only when
  the policy allows, and never below their own target. The most urgent store (fewest days
  before it runs out) is served first; the source is the cheapest that can give.
"""

import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.geo import distance_km
from domain.ids import Id
from domain.network import Calendar
from domain.shipping_calendar import MAX_LOOKAHEAD_DAYS, weekday

WEEK_DAYS = 7
PROFILE_AFTER_DAYS = 14  # a weekday profile needs two of each weekday


class ReplenishmentPolicy(BaseModel):
    """The retailer's replenishment rules, edited without code and versioned like the
    sourcing policy (`PUT /v1/admin/replenishment-policy`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Annotated[str, Field(min_length=1, max_length=100)] = "peak-aware"
    version: int = 0  # given by the OMS when the policy is saved
    # Days of forecast demand a store holds after a plan (at least until the next plan's
    # transfer can arrive: lead time + review days).
    days_of_cover: Annotated[float, Field(ge=0, le=60)] = 3.0
    review_days: Annotated[int, Field(ge=1, le=30)] = 1  # days between two plans
    history_days: Annotated[int, Field(ge=7, le=365)] = 28  # sales the forecast reads
    # Before a peak, the cover reaches this many days further, so the stores fill up ahead
    # of the rush while the warehouses still have picking room.
    peak_lead_days: Annotated[int, Field(ge=0, le=60)] = 7
    min_qty: Annotated[int, Field(ge=1, le=100_000)] = 1  # smaller moves are not worth a line
    max_qty: Annotated[int | None, Field(ge=1, le=1_000_000)] = None  # per store and SKU
    stores: Annotated[list[Id], Field(max_length=5000)] = []  # empty: every store
    skus: Annotated[list[Id], Field(max_length=10_000)] = []  # empty: every SKU a store holds
    sources: Literal["warehouses", "warehouses_and_stores"] = "warehouses"
    # A warehouse keeps its own online demand of this many days (peak factor included).
    source_keep_days: Annotated[float, Field(ge=0, le=60)] = 2.0
    # Of a source's free picking slots on a day, the share transfers may take (one slot per
    # transfer, from one source to one store): the rest is the online orders'.
    source_capacity_share: Annotated[float, Field(gt=0, le=1)] = 0.3
    auto_apply: bool = True  # False: proposals wait for an approval
    transit_days: Annotated[int, Field(ge=0, le=30)] = 1  # the shuttle, source to store
    cost_per_transfer: Annotated[float, Field(ge=0, le=1_000_000)] = 25.0  # a shuttle stop
    cost_per_km: Annotated[float, Field(ge=0, le=10_000)] = 0.8  # per transfer
    cost_per_unit: Annotated[float, Field(ge=0, le=100_000)] = 0.15  # picking and handling

    def covers(self, store_id: str, sku: str) -> bool:
        return (not self.stores or store_id in self.stores) and (not self.skus or sku in self.skus)


DEFAULT_REPLENISHMENT_POLICY = ReplenishmentPolicy()


# --- Forecast -------------------------------------------------------------------------


def peak_factor(calendar: Calendar, day: date) -> float:
    """How many times a normal day's demand the calendar expects on `day`."""
    factors = [p.demand_factor for p in calendar.peaks if p.from_ <= day <= p.to]
    return max(factors, default=1.0)


class Forecast(BaseModel):
    """Demand expected per day ahead, and what it was made of."""

    base_per_day: float  # a normal day's units, peaks taken out
    weekday_index: list[float]  # Monday first; 1.0 each until two weeks are known
    days: list[date]
    units: list[float]  # per day of `days`

    @property
    def total(self) -> float:
        return sum(self.units)

    @property
    def busiest_factor(self) -> float:
        return (
            max((u / self.base_per_day for u in self.units), default=1.0)
            if self.base_per_day
            else 1.0
        )


def forecast(
    history: dict[date, int], since: date, today: date, days: Iterable[date], calendar: Calendar
) -> Forecast:
    """Demand per day ahead from the daily units from `since` to yesterday (a day without
    a sale counts as 0): the average normal day, the weekday profile, the peak factor."""
    past = [since + timedelta(days=n) for n in range((today - since).days)]
    normal = {d: history.get(d, 0) / peak_factor(calendar, d) for d in past}
    base = sum(normal.values()) / len(normal) if normal else 0.0
    index = [1.0] * WEEK_DAYS
    if len(normal) >= PROFILE_AFTER_DAYS and base > 0:
        for wd in range(WEEK_DAYS):
            of_day = [units for d, units in normal.items() if d.weekday() == wd]
            index[wd] = (sum(of_day) / len(of_day)) / base if of_day else 1.0
    ahead = list(days)
    units = [base * index[d.weekday()] * peak_factor(calendar, d) for d in ahead]
    return Forecast(base_per_day=base, weekday_index=index, days=ahead, units=units)


def cover_days(
    policy: ReplenishmentPolicy, today: date, lead_days: int, calendar: Calendar
) -> tuple[list[date], bool]:
    """The days a store's stock must last after a plan, and whether a peak stretched them:
    the days of cover, at least until the next plan's transfer arrives, and before a peak
    the policy's peak lead days more."""
    length = max(math.ceil(policy.days_of_cover), lead_days + policy.review_days)
    peak_soon = any(
        peak_factor(calendar, today + timedelta(days=n)) > 1.0
        for n in range(length + policy.peak_lead_days)
    )
    if peak_soon:
        length += policy.peak_lead_days
    return [today + timedelta(days=n) for n in range(length)], peak_soon


# --- Positions and proposals ----------------------------------------------------------


class StoreStock(BaseModel):
    """One SKU at one store, as the ledger has it, and the store's recent demand."""

    store_id: str
    sku: str
    on_hand: int
    reserved: int = 0  # held for orders: leaving soon
    safety_stock: int = 0
    protection_qty: int = 0  # the store's shelf that online orders may not take
    inbound: int = 0  # transfers on their way, not received yet
    history: dict[date, int] = {}  # units sold or served per day (store-local days)
    known_since: date | None = None  # the first day the OMS heard of the store

    @property
    def position(self) -> int:
        return self.on_hand - self.reserved + self.inbound


class SourceStock(BaseModel):
    """One SKU at a node that may give it: its free units, and its own online demand."""

    node_id: str
    sku: str
    on_hand: int
    reserved: int = 0
    safety_stock: int = 0
    protection_qty: int = 0
    online_history: dict[date, int] = {}  # units it shipped for online orders per day
    known_since: date | None = None


class Place(BaseModel):
    """A node as the planner sees it."""

    node_id: str
    type: Literal["warehouse", "store"]
    lat: float
    lon: float
    open_days: list[str]
    slots_today: int = 0  # source: picking slots transfers may take on its next day
    receive_per_day: int | None = None  # store: units it can receive a day (None: no limit)


class SourceChoice(BaseModel):
    node_id: str
    free: int  # units it could give
    distance_km: float
    cost: float  # of moving the proposal's units from it
    why_not: str | None = None  # for the sources passed over


class Explanation(BaseModel):
    """The numbers a proposal was made from, and a sentence for the operator."""

    summary: str
    forecast_per_day: float  # a normal day (peaks taken out)
    forecast_over_cover: float
    cover_days: int
    peak_ahead: bool
    busiest_factor: float
    on_hand: int
    reserved: int
    inbound: int
    safety_stock: int
    protection_qty: int
    target: int
    need: int
    source: SourceChoice | None
    passed_over: list[SourceChoice] = []
    eta: date | None = None


class Proposal(BaseModel):
    store_id: str
    sku: str
    qty: int
    source_node_id: str | None  # None: nothing could give it (the need stays, explained)
    cost: float
    eta: date | None
    explanation: Explanation


class StoreNeed(BaseModel):
    stock: StoreStock
    forecast: Forecast
    target: int
    peak_ahead: bool

    @property
    def need(self) -> int:
        return max(0, self.target - self.stock.position)

    @property
    def days_left(self) -> float:
        """Days before the store runs out at the forecast rate (the most urgent first)."""
        left, stock = 0.0, self.stock.position
        for units in self.forecast.units:
            if units <= 0:
                left += 1
                continue
            if stock < units:
                return left + max(stock, 0) / units
            stock -= int(units)
            left += 1
        return left


def store_need(
    policy: ReplenishmentPolicy,
    stock: StoreStock,
    today: date,
    lead_days: int,
    calendar: Calendar,
) -> StoreNeed:
    """What one store should hold of one SKU after today's plan, and why."""
    days, peak_ahead = cover_days(policy, today, lead_days, calendar)
    ahead = forecast(stock.history, _since(policy, stock.known_since, today), today, days, calendar)
    target = math.ceil(ahead.total - 1e-9) + stock.safety_stock + stock.protection_qty
    return StoreNeed(stock=stock, forecast=ahead, target=target, peak_ahead=peak_ahead)


def _since(policy: ReplenishmentPolicy, known_since: date | None, today: date) -> date:
    """The first day of history the forecast reads: the policy's window, or the day the
    OMS began to hear of the node if later (days before it are unknown, not zero)."""
    window = today - timedelta(days=policy.history_days)
    if known_since is None:
        return window
    return min(max(window, known_since), today - timedelta(days=1))


def lead_days(
    source: Place, today: date, transit_days: int, store: Place, holidays: set[date]
) -> int:
    """Days from today until a transfer from `source` can be on the store's shelf: picked
    on the source's next open day, carried, received on the store's next open day."""
    picked = next_open_day(source.open_days, today, holidays)
    return (arrival_day(picked, transit_days, store.open_days, holidays) - today).days


def arrival_day(picked: date, transit_days: int, open_days: list[str], holidays: set[date]) -> date:
    """The day a transfer picked on `picked` is on the store's shelf."""
    return next_open_day(open_days, picked + timedelta(days=transit_days), holidays)


def next_open_day(open_days: list[str], day: date, holidays: set[date]) -> date:
    for _ in range(MAX_LOOKAHEAD_DAYS):
        if weekday(day) in open_days and day not in holidays:
            return day
        day += timedelta(days=1)
    return day


def plan(
    policy: ReplenishmentPolicy,
    today: date,
    calendar: Calendar,
    stores: list[StoreStock],
    sources: list[SourceStock],
    places: dict[str, Place],
    avoid: frozenset[str] = frozenset(),
) -> list[Proposal]:
    """Proposals that bring each store up to its target from the best sources, most
    urgent store first, within the sources' free units and picking slots and the stores'
    receiving room, never from a source to `avoid` (it just failed the store). A need
    nothing can fill is proposed with no source, explained."""
    holidays = set(calendar.holidays)
    free = {
        (s.node_id, s.sku): _free_to_give(policy, s, today, calendar)
        for s in sources
        if s.node_id not in avoid
    }
    slots = {node_id: place.slots_today for node_id, place in places.items()}
    trips: set[tuple[str, str]] = set()  # (source, store): one transfer, one slot, many SKUs
    room = {node_id: place.receive_per_day for node_id, place in places.items()}
    needs = []
    for stock in stores:
        if not policy.covers(stock.store_id, stock.sku) or stock.store_id not in places:
            continue
        store = places[stock.store_id]
        nearest = _nearest_lead(policy, store, places, today, holidays)
        need = store_need(policy, stock, today, nearest, calendar)
        if need.need >= policy.min_qty:
            needs.append(need)
        elif policy.sources == "warehouses_and_stores" and stock.store_id not in avoid:
            # A store above its target may give what it holds beyond it (not what is
            # still on its way to it).
            shelf = stock.on_hand - stock.reserved - stock.safety_stock - stock.protection_qty
            beyond = min(shelf, stock.position - need.target)
            free[(stock.store_id, stock.sku)] = max(0, beyond)
    needs.sort(key=lambda n: (n.days_left, n.stock.store_id, n.stock.sku))
    proposals = []
    for need in needs:
        proposals.extend(_fill(policy, need, today, places, free, slots, trips, room, holidays))
    return proposals


def _nearest_lead(
    policy: ReplenishmentPolicy,
    store: Place,
    places: dict[str, Place],
    today: date,
    holidays: set[date],
) -> int:
    leads = [
        lead_days(p, today, policy.transit_days, store, holidays)
        for p in places.values()
        if p.type == "warehouse"
    ]
    return min(leads, default=policy.transit_days + 1)


def _free_to_give(
    policy: ReplenishmentPolicy, source: SourceStock, today: date, calendar: Calendar
) -> int:
    """Units a source may give: on hand less what orders hold, safety stock, protection,
    and its own online demand of the coming days."""
    keep_days = [today + timedelta(days=n) for n in range(math.ceil(policy.source_keep_days))]
    since = _since(policy, source.known_since, today)
    own = forecast(source.online_history, since, today, keep_days, calendar).total
    keep = source.reserved + source.safety_stock + source.protection_qty + math.ceil(own)
    return max(0, source.on_hand - keep)


def _fill(
    policy: ReplenishmentPolicy,
    need: StoreNeed,
    today: date,
    places: dict[str, Place],
    free: dict[tuple[str, str], int],
    slots: dict[str, int],
    trips: set[tuple[str, str]],
    room: dict[str, int | None],
    holidays: set[date],
) -> list[Proposal]:
    stock = need.stock
    store = places[stock.store_id]
    wanted = need.need if policy.max_qty is None else min(need.need, policy.max_qty)
    can_receive = room.get(stock.store_id)
    if can_receive is not None:
        wanted = min(wanted, can_receive)
    if wanted <= 0:  # the store's back room is full for today's transfers
        return [_proposal(need, 0, None, [], None, "the store can receive no more today")]
    ranked: list[tuple[float, SourceChoice]] = []
    passed: list[SourceChoice] = []
    for (node_id, sku), units in free.items():
        if sku != stock.sku or node_id == stock.store_id or node_id not in places:
            continue
        place = places[node_id]
        km = distance_km(place.lat, place.lon, store.lat, store.lon)
        take = min(units, wanted)
        cost = _cost(policy, km, take)
        choice = SourceChoice(node_id=node_id, free=units, distance_km=round(km, 1), cost=cost)
        if units <= 0:
            passed.append(choice.model_copy(update={"why_not": "nothing free after its own needs"}))
        elif slots.get(node_id, 0) <= 0 and (node_id, stock.store_id) not in trips:
            passed.append(choice.model_copy(update={"why_not": "no picking slot left today"}))
        else:
            # Cheapest per unit moved; a source that can give it all before one that cannot.
            ranked.append(((take < wanted, cost / take, km), choice))  # type: ignore[arg-type]
    ranked.sort(key=lambda pair: pair[0])
    proposals: list[Proposal] = []
    left = wanted
    for number, (_, choice) in enumerate(ranked):
        if left < policy.min_qty:
            break
        take = min(free[(choice.node_id, stock.sku)], left)
        source = places[choice.node_id]
        eta = today + timedelta(days=lead_days(source, today, policy.transit_days, store, holidays))
        chosen = choice.model_copy(update={"cost": _cost(policy, choice.distance_km, take)})
        others = [c for _, c in ranked[number + 1 :]] + passed
        free[(choice.node_id, stock.sku)] -= take
        if (choice.node_id, stock.store_id) not in trips:
            slots[choice.node_id] -= 1
            trips.add((choice.node_id, stock.store_id))
        left -= take
        proposals.append(_proposal(need, take, chosen, others, eta))
    if room.get(stock.store_id) is not None:
        room[stock.store_id] = max(0, (room[stock.store_id] or 0) - (wanted - left))
    if not proposals:
        proposals.append(_proposal(need, 0, None, passed, None))
    return proposals


def _cost(policy: ReplenishmentPolicy, km: float, units: int) -> float:
    return round(
        policy.cost_per_transfer + policy.cost_per_km * km + policy.cost_per_unit * units, 2
    )


def _proposal(
    need: StoreNeed,
    qty: int,
    source: SourceChoice | None,
    passed_over: list[SourceChoice],
    eta: date | None,
    why_none: str = "no source can give it",
) -> Proposal:
    stock, ahead = need.stock, need.forecast
    peak = f" (peak ahead, up to x{ahead.busiest_factor:.1f})" if need.peak_ahead else ""
    cover = (
        f"{ahead.total:.0f} units forecast over {len(ahead.days)} days{peak}"
        f" + safety {stock.safety_stock} + protected {stock.protection_qty}"
        f" = target {need.target}; has {stock.on_hand} on hand"
        f"{f', {stock.reserved} held for orders' if stock.reserved else ''}"
        f"{f', {stock.inbound} on the way' if stock.inbound else ''}"
    )
    if source is None:
        summary = f"{stock.store_id} needs {need.need} x {stock.sku} ({cover}); {why_none}"
    else:
        summary = (
            f"{qty} x {stock.sku} to {stock.store_id} from {source.node_id} "
            f"({source.distance_km:.0f} km, {source.free} free after its own needs, "
            f"cost {source.cost:.2f}): {cover}"
        )
    explanation = Explanation(
        summary=summary,
        forecast_per_day=round(ahead.base_per_day, 2),
        forecast_over_cover=round(ahead.total, 1),
        cover_days=len(ahead.days),
        peak_ahead=need.peak_ahead,
        busiest_factor=round(ahead.busiest_factor, 2),
        on_hand=stock.on_hand,
        reserved=stock.reserved,
        inbound=stock.inbound,
        safety_stock=stock.safety_stock,
        protection_qty=stock.protection_qty,
        target=need.target,
        need=need.need,
        source=source,
        passed_over=passed_over[:5],
        eta=eta,
    )
    return Proposal(
        store_id=stock.store_id,
        sku=stock.sku,
        qty=qty,
        source_node_id=source.node_id if source else None,
        cost=source.cost if source else 0.0,
        eta=eta,
        explanation=explanation,
    )
