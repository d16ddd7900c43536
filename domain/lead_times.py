"""Lead times learned from the field: how long each node really takes to hand a parcel over,
and how late each carrier lane really runs.

Everything here is learned from what the OMS hears through its API: a shipment's release
(its own decision), the node's `shipped` event (or, for click and collect, the parcel
ready at the counter) and the carrier's `delivered` event. Published cut-offs and transit
bands are the cold start; the field's own record replaces them as it builds up.

A node's lead time depends on when work reaches it (a release at 02:00 waits for the
morning shift, one at 11:00 does not), so it is kept per hour of the node's day, pooled
with the neighbouring hours while an hour has too few shipments. The promise does not add
one high quantile to another (that would stack two safety margins): it mixes the chance
of each handover day with the chance of each transit delay, and promises the first day
whose chance of delivery reaches the policy's confidence.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from domain.incidents import Incident
from domain.network import CarrierService, Node
from domain.shipping_calendar import add_delivery_days, delivery_date, delivery_days_between

SHIP = "ship"  # handed over to a carrier, by the node's cut-off
COLLECT = "collect"  # ready at the store's own counter, by the end of the day

# Fewer shipments started at a node than this: its configured preparation time. Handed
# over or not: a morning of work with nothing handed over yet says the node is slow.
MIN_NODE_SAMPLES = 10
MIN_LANE_SAMPLES = 30  # fewer deliveries than this on a lane: its published band
COHORT = 100  # the most recent shipments per node, kind and start hour: a rolling window
LANE_WINDOW = 400  # the most recent deliveries per carrier lane
POINTS = 200  # a lead-time distribution is kept as this many equally likely values
UNKNOWN_SHARE = 0.1  # more still open than this past every handover: the node is unknown
TAIL_HOURS = 12.0  # beyond every handover seen, what is still open is planned this late
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Handover:
    """When a parcel released now leaves its node: each day with its chance (sum 1)."""

    days: tuple[tuple[date, float], ...]

    @classmethod
    def certain(cls, day: date) -> "Handover":
        return cls(((day, 1.0),))

    @property
    def first(self) -> date:
        return self.days[0][0]

    def at(self, confidence: float) -> date:
        """The first day by which the parcel has left with at least `confidence`."""
        return _quantile(self.days, confidence)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One shipment as the field reported it (a row of the shipments' outcomes)."""

    node_id: str
    kind: str  # SHIP or COLLECT
    started_at: datetime  # released, or the start of its picking day if that was later
    handed_over_at: datetime | None  # shipped, or ready at the counter; None: not yet
    carrier_id: str | None = None
    service_id: str | None = None
    distance_km: float | None = None
    delivered_at: datetime | None = None
    ship_by: datetime | None = None  # the handover the plan counted on


@dataclass(slots=True)
class NodeLeadTimes:
    """A node's lead times for one kind of handover, in hours from the start of the work,
    by the node-local hour the work started."""

    configured_hours: float
    by_hour: list[tuple[float, ...]]  # 24 sorted tuples, each pooled to enough samples
    samples: tuple[float, ...] = ()  # every start hour together, sorted
    # Per start hour, the longest lead time actually seen: above it, the values stand for
    # parcels still open (planned late by the promise, but no evidence of lateness).
    seen_by_hour: list[float] = field(default_factory=lambda: [math.inf] * 24)

    @property
    def learned(self) -> bool:
        return bool(self.by_hour[0])

    def hours(self, start_hour: int) -> tuple[float, ...]:
        """The lead times to plan a start at this hour with (cold start: the configured)."""
        pooled = self.by_hour[start_hour % 24]
        return pooled if pooled else (self.configured_hours,)

    def quantile(self, start_hour: int | None, confidence: float) -> float:
        """The lead time at `confidence` for work starting at this hour (None: any hour)."""
        values = self.hours(start_hour) if start_hour is not None else self.samples
        if not self.learned or not values:
            return self.configured_hours
        return values[min(len(values) - 1, max(0, math.ceil(confidence * len(values)) - 1))]


@dataclass(slots=True)
class FieldPerformance:
    """What the field taught the OMS: lead times per node, delays per carrier lane."""

    lead: dict[tuple[str, str], NodeLeadTimes] = field(default_factory=dict)
    # (service id, band max km) -> extra delivery days with their chance; pooled per
    # service under (service id, None) for bands with too few deliveries.
    lanes: dict[tuple[str, float | None], tuple[tuple[int, float], ...]] = field(
        default_factory=dict
    )
    summaries: dict[str, "NodeFigures"] = field(default_factory=dict)
    open_work: dict[str, dict[date, int]] = field(default_factory=dict)  # node -> day -> count
    fleet: dict[tuple[str, str], NodeLeadTimes] = field(default_factory=dict)  # by node type

    def lead_times(self, node: Node, kind: str) -> NodeLeadTimes:
        """The node's own record; while it has too little, its fleet's (the nodes of its
        type: a new store works like the other stores); else its configured time."""
        known = self.lead.get((node.id, kind)) or self.fleet.get((node.type, kind))
        if known is not None:
            return known
        return NodeLeadTimes(node.preparation_hours, [()] * 24)

    def handover(self, node: Node, kind: str, start: datetime) -> Handover:
        """The chance of each handover day for work that reaches `node` at `start`."""
        local = start.astimezone(ZoneInfo(node.timezone))
        begun = local.hour + local.minute / 60
        deadline = _hours(node.cutoff) if kind == SHIP else 24.0
        counts: Counter[int] = Counter()
        values = self.lead_times(node, kind).hours(local.hour)
        for lead in values:
            ready = begun + lead
            offset = int(ready // 24)
            if ready - 24 * offset > deadline:
                offset += 1  # past the cut-off: it leaves with the next pickup
            counts[offset] += 1
        total = len(values)
        day = local.date()
        return Handover(
            tuple((day + timedelta(days=offset), n / total) for offset, n in sorted(counts.items()))
        )

    def backlogged(self, node: Node, now: datetime) -> bool:
        """True when the work due today at the node cannot be handed over before its cut-off
        at the pace it has shown: the node is full for today, whatever its daily counter."""
        figures = self.summaries.get(node.id)
        if figures is None or not figures.throughput_per_hour:
            return False
        local = now.astimezone(ZoneInfo(node.timezone))
        left = _hours(node.cutoff) - (local.hour + local.minute / 60)
        if left <= 0:
            return False  # past the cut-off: today is gone anyway
        due = sum(n for day, n in self.open_work.get(node.id, {}).items() if day <= local.date())
        return due > figures.throughput_per_hour * left

    def chance_in_time(
        self, node: Node, kind: str, started_at: datetime, now: datetime, deadline: datetime
    ) -> float:
        """The chance that work started at `started_at`, not handed over by `now`, is
        handed over by `deadline`: among the node's past lead times longer than what this
        one has taken so far, the share short enough."""
        lead = self.lead_times(node, kind)
        if not lead.learned:
            return 1.0  # nothing learned yet: no ground to call it late
        hour = started_at.astimezone(ZoneInfo(node.timezone)).hour
        taken = (now - started_at).total_seconds() / HOUR
        allowed = (deadline - started_at).total_seconds() / HOUR
        values = lead.hours(hour)
        seen = lead.seen_by_hour[hour]
        longer = [hours for hours in values if hours > taken]
        if not longer:
            return 0.0  # it already took longer than the node ever did, and all left
        # Parcels still open past every handover seen: when many are (a day still under
        # way), no evidence either way, so counted as making it: a node is only called
        # late on what it has shown. When few are, they are the stragglers.
        unknown = sum(hours > seen for hours in values) > UNKNOWN_SHARE * len(values)
        return sum(h <= allowed or (unknown and h > seen) for h in longer) / len(longer)

    def lane(self, service: CarrierService, km: float) -> tuple[tuple[int, float], ...] | None:
        """Extra days the lane adds to the published band, with their chance; None: the
        published band holds (nothing learned yet)."""
        if not self.lanes:
            return None
        found = self.lanes.get((service.id, service.band_for(km)))
        return found if found is not None else self.lanes.get((service.id, None))


def deliver_on(
    handover: Handover,
    service: CarrierService,
    km: float,
    holidays: frozenset[date],
    lane: tuple[tuple[int, float], ...] | None,
    confidence: float,
) -> date | None:
    """The first day the parcel is delivered by with at least `confidence`: each handover
    day's chance times each transit delay's chance."""
    if lane is None and len(handover.days) == 1:
        return delivery_date(handover.first, service, km, holidays)
    outcomes: list[tuple[date, float]] = []
    for day, chance in handover.days:
        published = delivery_date(day, service, km, holidays)
        if published is None:
            return None
        for extra, share in lane or ((0, 1.0),):
            outcomes.append((add_delivery_days(published, extra, holidays), chance * share))
    outcomes.sort()
    return _quantile(outcomes, confidence)


class NodeFigures(BaseModel):
    """A node's record, as support and operators see it."""

    shipments: int = 0  # handed over, in the learning window
    on_time_handover_rate: float | None = None  # handed over by the plan's cut-off
    throughput_per_hour: float | None = None  # handovers in its busiest recent hour
    backlog: int = 0  # released to it and not handed over yet


class LeadTimeFigures(BaseModel):
    """A node's lead time for one kind of handover, as learned."""

    shipments: int  # in the learning window
    learned: bool  # enough of them to plan with (else the configured preparation time)
    hours_at_confidence: float  # over every start hour
    median_hours: float
    by_start_hour: dict[int, float]  # at the confidence, for work starting at that hour


class NodePerformance(BaseModel):
    """`GET /v1/nodes/{id}/performance`: what the OMS learned of a node."""

    node_id: str
    configured_preparation_hours: float
    cutoff: time
    confidence: float
    ship: LeadTimeFigures
    collect: LeadTimeFigures | None  # stores that hand over at their own counter
    figures: NodeFigures


def node_performance(
    node: Node, performance: FieldPerformance, confidence: float
) -> NodePerformance:
    def figures(kind: str) -> LeadTimeFigures:
        lead = performance.lead_times(node, kind)
        return LeadTimeFigures(
            shipments=len(lead.samples),
            learned=lead.learned,
            hours_at_confidence=round(lead.quantile(None, confidence), 2),
            median_hours=round(lead.quantile(None, 0.5), 2),
            by_start_hour={h: round(lead.quantile(h, confidence), 2) for h in range(24)},
        )

    return NodePerformance(
        node_id=node.id,
        configured_preparation_hours=node.preparation_hours,
        cutoff=node.cutoff,
        confidence=confidence,
        ship=figures(SHIP),
        collect=figures(COLLECT) if node.click_and_collect else None,
        figures=performance.summaries.get(node.id, NodeFigures()),
    )


def learn(
    outcomes: Iterable[Outcome],
    nodes: Mapping[str, Node],
    services: Mapping[str, CarrierService],
    holidays: frozenset[date],
    now: datetime,
    open_work: Mapping[str, Mapping[date, int]] | None = None,
    outages: Iterable[Incident] = (),
) -> FieldPerformance:
    """Learn from the field's record: the shipments whose work started, newest start first,
    handed over or not yet (at `now`); `open_work` is the work released to each node and
    not handed over yet, by the node-local day it can start. A parcel that travelled in a
    reported carrier `outages` says nothing of its lane on ordinary days."""
    outages = list(outages)
    cohorts: dict[tuple[str, str, int], list[tuple[float, bool]]] = defaultdict(list)
    lanes: dict[tuple[str, float], list[int]] = defaultdict(list)
    on_time: Counter[str] = Counter()
    judged: Counter[str] = Counter()
    handed: Counter[tuple[str, str]] = Counter()
    hourly: dict[str, Counter[datetime]] = defaultdict(Counter)
    open_work = open_work or {}
    for outcome in outcomes:
        node = nodes.get(outcome.node_id)
        done = outcome.handed_over_at is not None
        if node is None or (not done and outcome.started_at > now):
            continue  # work not started yet says nothing of how long it takes
        if done:
            assert outcome.handed_over_at is not None
            hourly[node.id][outcome.handed_over_at.replace(minute=0, second=0, microsecond=0)] += 1
        hour = outcome.started_at.astimezone(ZoneInfo(node.timezone)).hour
        cohort = cohorts[(node.id, outcome.kind, hour)]
        if len(cohort) < COHORT:
            # Not handed over yet: it has taken at least this long (a censored time).
            until = outcome.handed_over_at or now
            cohort.append((max(0.0, (until - outcome.started_at).total_seconds() / HOUR), done))
            if done:
                handed[(node.id, outcome.kind)] += 1
                if outcome.ship_by is not None:
                    judged[node.id] += 1
                    on_time[node.id] += outcome.handed_over_at <= outcome.ship_by  # type: ignore[operator]
        extra = _lane_delay(outcome, node, services, holidays, outages, now)
        if extra is not None:
            service = services[outcome.service_id or ""]
            band = service.band_for(outcome.distance_km or 0.0)
            for lane in ((service.id, band), (service.id, None)):
                if band is not None and len(lanes[lane]) < LANE_WINDOW:  # type: ignore[index]
                    lanes[lane].append(extra)  # type: ignore[index]
    performance = FieldPerformance()
    fleets: dict[tuple[str, str, int], list[tuple[float, bool]]] = defaultdict(list)
    for (node_id, kind, hour), cohort in cohorts.items():
        fleets[(nodes[node_id].type, kind, hour)] += cohort
    for key in {k[:2] for k in cohorts}:
        learned = _learned(cohorts, key, nodes[key[0]].preparation_hours)
        if learned is not None:
            performance.lead[key] = learned
    for key in {k[:2] for k in fleets}:
        learned = _learned(fleets, key, 0.0)
        if learned is not None:
            performance.fleet[key] = learned
    for lane, extras in lanes.items():
        if len(extras) >= MIN_LANE_SAMPLES:
            counts = Counter(max(0, e) for e in extras)
            performance.lanes[lane] = tuple(  # type: ignore[index]
                (e, n / len(extras)) for e, n in sorted(counts.items())
            )
    performance.open_work = {node_id: dict(days) for node_id, days in open_work.items()}
    for node_id in set(open_work) | {node_id for node_id, _ in handed}:
        shipments = handed[(node_id, SHIP)] + handed[(node_id, COLLECT)]
        hours = hourly[node_id]
        busiest = max(hours.values(), default=0)
        # A pace is shown over a day of work at least, not in the first hours of a surge.
        shown = bool(hours) and max(hours) - min(hours) >= timedelta(days=1)
        performance.summaries[node_id] = NodeFigures(
            shipments=shipments,
            on_time_handover_rate=(
                round(on_time[node_id] / judged[node_id], 4) if judged[node_id] else None
            ),
            # What it has shown it can do; too few shipments prove nothing yet.
            throughput_per_hour=busiest if shown and shipments >= MIN_NODE_SAMPLES else None,
            backlog=sum(open_work.get(node_id, {}).values()),
        )
    return performance


def _learned(
    cohorts: Mapping[tuple[str, str, int], list[tuple[float, bool]]],
    key: tuple[str, str],
    configured: float,
) -> NodeLeadTimes | None:
    """Lead times from the cohorts of one node (or fleet) and kind; None with too few."""
    by_hour = [cohorts.get((*key, hour), []) for hour in range(24)]
    everything = [seen for cohort in by_hour for seen in cohort]
    if len(everything) < MIN_NODE_SAMPLES:
        return None  # too little seen: the configured preparation time serves
    pooled = _pooled_by_hour(by_hour)
    return NodeLeadTimes(
        configured,
        [_lead_times(seen) for seen in pooled],
        _lead_times(everything),
        [max((h for h, done in seen if done), default=0.0) for seen in pooled],
    )


def _pooled_by_hour(by_hour: list[list[tuple[float, bool]]]) -> list[list[tuple[float, bool]]]:
    """Each start hour's shipments, widened to the neighbouring hours until there are
    enough. A shipment borrowed from a later hour keeps its ready time (work released at
    01:00 and at 06:00 both wait for the morning shift), one from an earlier hour keeps its
    lead time (the shift is on): whichever is longer, so borrowing never flatters."""
    pooled = []
    for hour in range(24):
        seen = list(by_hour[hour])
        spread = 0
        while len(seen) < MIN_NODE_SAMPLES and spread < 12:
            spread += 1
            seen += by_hour[(hour - spread) % 24]
            if spread < 12:
                seen += [(lead + spread, done) for lead, done in by_hour[(hour + spread) % 24]]
        pooled.append(seen)
    return pooled


def _lead_times(seen: list[tuple[float, bool]]) -> tuple[float, ...]:
    """The lead-time distribution as POINTS equally likely values, from shipments handed
    over (`True`) and shipments still at the node (`False`, known to take longer than their
    time so far): the Kaplan-Meier estimate. Without the ones still open, the first hours
    of a busy day would teach that the node is fast, as only its quick parcels are out.
    What is still open beyond every handover seen is put TAIL_HOURS past the longest."""
    if not seen:
        return ()
    ordered = sorted(seen, key=lambda x: (x[0], not x[1]))  # handovers before censorings
    at_risk = len(ordered)
    surviving = 1.0
    steps: list[tuple[float, float]] = []  # (lead, share handed over by then)
    i = 0
    while i < len(ordered):
        lead = ordered[i][0]
        handed = left = 0
        while i < len(ordered) and ordered[i][0] == lead:
            handed += ordered[i][1]
            left += not ordered[i][1]
            i += 1
        if handed:
            surviving *= 1 - handed / at_risk
            steps.append((lead, 1 - surviving))
        at_risk -= handed + left
    tail = ordered[-1][0] + TAIL_HOURS
    values = []
    step = 0
    for k in range(POINTS):
        share = (k + 0.5) / POINTS
        while step < len(steps) and steps[step][1] < share - 1e-12:
            step += 1
        values.append(steps[step][0] if step < len(steps) else tail)
    return tuple(values)


def _lane_delay(
    outcome: Outcome,
    node: Node,
    services: Mapping[str, CarrierService],
    holidays: frozenset[date],
    outages: list[Incident],
    now: datetime,
) -> int | None:
    """Delivery days the carrier took beyond its published band, from the day it collected
    the parcel (so a node that missed its cut-off is not blamed on the carrier). Only for
    parcels due by now: of the ones still travelling, the delivered would be the quick
    ones. One due and not delivered counts as late by its days overdue so far. None for
    a parcel not due yet, or caught in a reported outage."""
    if outcome.kind != SHIP or outcome.handed_over_at is None:
        return None
    service = services.get(outcome.service_id or "")
    if service is None:
        return None
    tz = ZoneInfo(node.timezone)
    collected = collected_on(outcome.handed_over_at, node)
    published = delivery_date(collected, service, outcome.distance_km or 0.0, holidays)
    today = now.astimezone(tz).date()
    if published is None or published >= today:
        return None  # not due before today: what came of it says nothing yet
    arrived = outcome.delivered_at.astimezone(tz).date() if outcome.delivered_at else None
    for outage in outages:
        if (
            outage.carrier_id == outcome.carrier_id
            and outage.service_id in (None, service.id)
            and outage.from_ is not None
            and outage.to is not None
            and outage.from_ <= (arrived or today)
            and outage.to >= collected
        ):
            return None
    return delivery_days_between(published, arrived or today, holidays)


def collected_on(handed_over_at: datetime, node: Node) -> date:
    """The day a carrier takes a parcel handed over at a node: after the cut-off, the next."""
    local = handed_over_at.astimezone(ZoneInfo(node.timezone))
    return local.date() + timedelta(days=1 if local.time() > node.cutoff else 0)


def _hours(at: time) -> float:
    return at.hour + at.minute / 60 + at.second / HOUR


def _quantile(outcomes: Iterable[tuple[date, float]], confidence: float) -> date:
    """The first day whose cumulated chance reaches `confidence` (outcomes sorted)."""
    reached = 0.0
    last = None
    for day, chance in outcomes:
        reached += chance
        last = day
        if reached >= confidence - 1e-9:
            return day
    assert last is not None, "no outcome to take a quantile of"
    return last
