"""Customers of a scenario: who orders what, for where, and when. Deterministic for a seed,
so two policies are compared on exactly the same carts."""

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator.scenario import Demand, Destination, Scenario


@dataclass(frozen=True, slots=True)
class Cart:
    order_id: str
    customer_id: str
    at: datetime
    lines: tuple[tuple[str, int], ...]  # (sku, qty), one line per sku
    destination: Destination
    wants_collect: bool  # takes click and collect when the promise offers it
    wants_express: bool  # pays for express when offered
    cancels_after: timedelta | None  # the customer changes their mind this long after


def orders_per_hour(demand: Demand, at: datetime, tz) -> float:
    """Expected orders in the hour starting at `at`: normal volume x hour of day x peaks."""
    mean = sum(demand.hour_profile) / 24
    rate = demand.orders_per_hour * demand.hour_profile[at.astimezone(tz).hour] / mean
    for peak in demand.peaks:
        if peak.from_ <= at < peak.to:
            rate *= peak.multiplier
    return rate


def carts(scenario: Scenario) -> list[Cart]:
    """Every cart of the period, in time order. Each hour brings its expected count
    (fractions carried over), spread at random within the hour."""
    demand, period = scenario.demand, scenario.period
    rng = random.Random(demand.seed)
    skus = [s.sku for s in scenario.network.skus]
    popularity = popularity_of(demand.sku_popularity, demand.zipf_exponent, skus)
    destinations = demand.destinations
    places = [d.weight for d in destinations]
    sizes, size_weights = zip(*sorted(demand.lines_per_cart.items()), strict=True)
    units, unit_weights = zip(*sorted(demand.units_per_line.items()), strict=True)
    tz = period.start.tzinfo
    out: list[Cart] = []
    carry = 0.0
    hour = period.start
    while hour < period.end:
        carry += orders_per_hour(demand, hour, tz)
        count, carry = int(carry), carry - int(carry)
        for offset in sorted(rng.random() for _ in range(count)):
            chosen: dict[str, int] = {}
            for sku in rng.choices(skus, popularity, k=rng.choices(sizes, size_weights)[0]):
                chosen.setdefault(sku, rng.choices(units, unit_weights)[0])
            n = len(out) + 1
            cancels = rng.random() < demand.cancel_share
            out.append(
                Cart(
                    order_id=f"SIM-{n:06d}",
                    customer_id=f"C-{rng.randrange(1, 10 * (n + 100)):07d}",
                    at=hour + timedelta(seconds=math.floor(offset * 3600)),
                    lines=tuple(chosen.items()),
                    destination=rng.choices(destinations, places)[0],
                    wants_collect=rng.random() < demand.click_and_collect_share,
                    wants_express=rng.random() < demand.express_share,
                    cancels_after=timedelta(hours=rng.uniform(0.5, 3)) if cancels else None,
                )
            )
        hour += timedelta(hours=1)
    return out


def popularity_of(
    popularity: str | dict[str, float], zipf_exponent: float, skus: list[str]
) -> list[float]:
    """A weight per SKU: named weights, all alike ("uniform"), or a few bestsellers
    ("zipf": the n-th SKU weighs 1/n^exponent)."""
    if isinstance(popularity, dict):
        return [popularity.get(sku, 0.0) for sku in skus]
    if popularity == "uniform":
        return [1.0] * len(skus)
    return [1 / (rank**zipf_exponent) for rank in range(1, len(skus) + 1)]
