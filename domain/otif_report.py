"""OTIF reports: how many orders were delivered on time and in full, and what hurt the rest.

Rules, stated once:
- An order counts on its promised day (the day the customer was promised).
- Orders cancelled (by the customer or support) are left out: no promise was broken.
- A failed order, or one still open after its promised day, counts as a miss.
- Each miss gets one cause, the first that applies: `short_pick` (units missing at
  picking), `not_delivered` (failed or never arrived), `late_pick` (a node shipped after its
  picking SLA), `missed_cutoff` (picked within its picking day but handed over after the
  cut-off the plan counted on, so the parcel left with a later pickup), `rerouted_late`
  (rerouted by an incident or SLA and late), `carrier_delay` (collected on time, delivered
  after the day the OMS expected), `other`.
"""

from collections.abc import Iterable
from datetime import date
from typing import Literal

from pydantic import BaseModel

from domain.order import OrderStatus, OrderView

GroupBy = Literal["none", "node", "carrier", "day", "cause", "method"]
Method = Literal["home_standard", "home_express", "click_and_collect"]


class OtifRow(BaseModel):
    key: str
    orders: int
    otif: float  # share 0..1
    on_time: float
    in_full: float
    misses: int


class OtifReport(BaseModel):
    group_by: GroupBy
    orders: int
    otif: float
    on_time: float
    in_full: float
    excluded_cancelled: int
    rows: list[OtifRow]


class _Judged(BaseModel):
    on_time: bool
    in_full: bool
    cause: str | None
    day: date | None
    nodes: list[str]
    carriers: list[str]
    method: str


def judge(view: OrderView, today: date) -> _Judged | None:
    """How one order counts, or None when it does not count (cancelled, not due yet)."""
    if view.status == OrderStatus.CANCELLED:
        return None
    if view.otif is None and view.status != OrderStatus.FAILED:
        if view.promised_by is None or view.promised_by >= today:
            return None  # still running and not late yet
    on_time = bool(view.otif and view.otif.on_time)
    in_full = bool(view.otif and view.otif.in_full)
    live = [s for s in view.shipments if s.status != "cancelled"]
    cause = None
    if not (on_time and in_full):
        if any(line.short_qty for s in view.shipments for line in s.lines):
            cause = "short_pick"
        elif view.otif is None:
            cause = "not_delivered"
        elif any(s.pick_by and s.shipped_at and s.shipped_at > s.pick_by for s in live):
            cause = "late_pick"
        elif any(missed_cutoff(s) for s in live):
            cause = "missed_cutoff"
        elif len(live) < len(view.shipments):
            cause = "rerouted_late"
        elif any(carrier_late(s) for s in live):
            cause = "carrier_delay"
        else:
            cause = "other"
    return _Judged(
        on_time=on_time,
        in_full=in_full,
        cause=cause,
        day=view.promised_by,
        nodes=sorted({s.node_id for s in live}) or ["none"],
        carriers=sorted({s.carrier_id or "none" for s in live}) or ["none"],
        method=method_of(view),
    )


def method_of(view: OrderView) -> Method:
    """How the customer chose to get the order."""
    if view.delivery.method == "click_and_collect":
        return "click_and_collect"
    return "home_express" if view.delivery.service == "express" else "home_standard"


def missed_cutoff(shipment) -> bool:
    """Handed over after the cut-off its plan counted on (the parcel left a pickup later)."""
    return bool(shipment.ship_by and shipment.shipped_at and shipment.shipped_at > shipment.ship_by)


def carrier_late(shipment) -> bool:
    """Delivered after the day the OMS expected when it planned the shipment."""
    expected, delivered = shipment.expected_delivery, shipment.delivered_at
    return bool(expected and delivered and delivered.date() > expected)


def otif_report(views: Iterable[OrderView], today: date, group_by: GroupBy = "none") -> OtifReport:
    judged, cancelled = [], 0
    for view in views:
        if view.status == OrderStatus.CANCELLED:
            cancelled += 1
        verdict = judge(view, today)
        if verdict is not None:
            judged.append(verdict)
    groups: dict[str, list[_Judged]] = {}
    for verdict in judged:
        for key in _keys(verdict, group_by):
            groups.setdefault(key, []).append(verdict)
    total = _row("all", judged)
    return OtifReport(
        group_by=group_by,
        orders=total.orders,
        otif=total.otif,
        on_time=total.on_time,
        in_full=total.in_full,
        excluded_cancelled=cancelled,
        rows=[_row(key, rows) for key, rows in sorted(groups.items())],
    )


def _keys(verdict: _Judged, group_by: GroupBy) -> list[str]:
    match group_by:
        case "node":
            return verdict.nodes
        case "carrier":
            return verdict.carriers
        case "day":
            return [verdict.day.isoformat() if verdict.day else "none"]
        case "cause":
            return [verdict.cause or "otif"]
        case "method":
            return [verdict.method]
        case _:
            return ["all"]


def _row(key: str, rows: list[_Judged]) -> OtifRow:
    n = len(rows)

    def share(count: int) -> float:
        return round(count / n, 4) if n else 0.0

    hits = sum(r.on_time and r.in_full for r in rows)
    return OtifRow(
        key=key,
        orders=n,
        otif=share(hits),
        on_time=share(sum(r.on_time for r in rows)),
        in_full=share(sum(r.in_full for r in rows)),
        misses=n - hits,
    )
