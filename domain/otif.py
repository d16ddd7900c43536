"""OTIF: was every unit delivered no later than the promised date?"""

from datetime import date

from domain.order import Otif


def judge_otif(
    promised_by: date | None, ordered_units: int, deliveries: list[tuple[date, int]]
) -> Otif:
    """Judge an order from its deliveries: (local delivery date, units) per shipment."""
    delivered_units = sum(units for _, units in deliveries)
    last = max((day for day, _ in deliveries), default=None)
    on_time = last is not None and (promised_by is None or last <= promised_by)
    return Otif(
        on_time=on_time,
        in_full=delivered_units >= ordered_units,
        delivered_units=delivered_units,
        ordered_units=ordered_units,
        delivered_on=last,
    )
