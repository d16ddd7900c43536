"""The rehearsal's report (report.json): OTIF and what hurt it, counted from what the OMS
recorded (its orders read model and its inventory ledger), never from what the simulator
meant to happen. Rates are fractions 0..1."""

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from db import future_stock, holdings, ledger
from db.ledger_check import ledger_problems, unbacked_shipments
from db.performance import load_performance
from db.tables import OrderRow
from domain.lead_times import SHIP, FieldPerformance
from domain.order import CLOSED_STATUSES, LEFT_NODE, OrderView, ShipmentStatus
from domain.otif_report import carrier_late, method_of, otif_report
from domain.policy import PRESETS
from domain.supply_chain import SupplyChain

LEFT = LEFT_NODE  # shipments that left their node


def build_report(
    scenario,
    policy: str,
    engine: Engine,
    progress,
    stats,
    supply_stats,
    refused: int,
    failed: int,
    end: datetime,
    wall_seconds: float,
    shifted_days: int,
    label: str | None = None,
    stores: dict[str, Any] | None = None,
) -> dict[str, Any]:
    with Session(engine) as session:
        rows = list(session.exec(select(OrderRow)))
        views = [OrderView.model_validate(row.view) for row in rows]
        oversold, problems = oversells(session, views)
        holding = holdings.holding_stock(session)
        future_oversold = future_stock.oversold(session)
        network = scenario.network
        learned = load_performance(
            session,
            SupplyChain(
                nodes=network.nodes,
                carriers={c.id: c for c in network.carriers},
                calendar=network.calendar,
            ),
            end,
        )
    # Judged as of the day after the run or the last promised day: every order counts.
    last_promise = max((v.promised_by for v in views if v.promised_by), default=end.date())
    after_all = max(end.date(), last_promise) + timedelta(days=1)

    def otif(group_by: str):
        return otif_report(views, after_all, group_by)  # type: ignore[arg-type]

    overall = otif("none")
    types = {node.id: node.type for node in scenario.network.nodes}
    went_to_exception = sum(any(e["type"] == "exception" for e in row.timeline) for row in rows)
    shipments = [s for v in views for s in v.shipments if s.status in LEFT]
    served = sum(any(s.status in LEFT for s in v.shipments) for v in views)
    home = [s for s in shipments if s.service_id]
    delivered = [s for s in shipments if s.delivered_at and s.expected_delivery]
    guarantees = {p.guarantee_by for p in scenario.network.calendar.peaks if p.guarantee_by}
    confidence = PRESETS[policy].promise_confidence
    return {
        "scenario": scenario.name,
        "policy": label or policy,
        "period": {
            "start": scenario.period.start.isoformat(),
            "end": end.isoformat(),
            "shifted_days": shifted_days,
        },
        "carts": progress.carts,
        "carts_without_option": progress.lost_carts,
        "orders": len(views),
        "orders_judged": overall.orders,
        "otif": overall.otif,
        "on_time": overall.on_time,
        "in_full": overall.in_full,
        "cancelled": overall.excluded_cancelled,
        "oversells": oversold,
        "ledger_problems": problems[:20],
        "reroutes": sum(v.reroutes for v in views),
        "exceptions": went_to_exception,
        "exceptions_open_at_end": sum(v.status == "exception" for v in views),
        "still_open_at_end": sum(
            v.status not in ("delivered", "cancelled", "failed") for v in views
        ),
        "failed": sum(v.status == "failed" for v in views),
        # Closed orders still holding stock: a leak (must be 0).
        "left_behind": sum(v.status in CLOSED_STATUSES for v in views if v.order_id in holding),
        # Per order that shipped something: failing orders must not make a policy look cheap.
        "cost_per_order": _ratio(sum(s.cost for s in shipments), served, 2),
        "shipments_per_order": _ratio(len(shipments), served, 3),
        "ship_from_store_share": _ratio(
            sum(types.get(s.node_id) == "store" for s in home), len(home)
        ),
        "click_and_collect_share": _ratio(
            sum(v.delivery.method == "click_and_collect" for v in views), len(views)
        ),
        "causes": {row.key: row.orders for row in otif("cause").rows if row.key != "otif"},
        "otif_by_method": {
            row.key: row.model_dump(include={"orders", "otif", "on_time", "in_full"})
            for row in otif("method").rows
        },
        # Shipments delivered after the day the OMS itself expected when it planned them.
        "delivered_after_expected_share": _ratio(
            sum(carrier_late(s) for s in delivered), len(delivered)
        ),
        "promise_slack_days": promise_slack(views, guarantees),
        "per_node": _per_node(views, otif("node").rows, types, learned, scenario, confidence),
        "per_carrier": _per_carrier(views, otif("carrier").rows),
        "by_day": [
            row.model_dump(include={"orders", "otif", "on_time", "in_full"}) | {"day": row.key}
            for row in otif("day").rows
        ],
        "preorders": preorder_figures(rows, views, future_oversold, supply_stats),
        # In-store sales, click & collect availability and transfers (stores rehearsed).
        "stores": _with_collection(stores, views),
        "backlog": progress.backlog,
        "field": vars(stats) | {"calls_refused": refused, "calls_failed": failed},
        "wall_seconds": round(wall_seconds, 1),
    }


def _with_collection(
    stores: dict[str, Any] | None, views: list[OrderView]
) -> dict[str, Any] | None:
    """Click & collect orders, and those served from their collection store's own shelf
    (ready within hours, not a parcel from a warehouse days later)."""
    if stores is None:
        return None
    collect = [v for v in views if v.delivery.method == "click_and_collect" and v.shipments]
    from_shelf = sum(all(s.node_id == v.delivery.store_id for s in v.shipments) for v in collect)
    return stores | {
        "click_and_collect_orders": len(collect),
        "click_and_collect_from_shelf": from_shelf,
    }


def oversells(session: Session, views: list[OrderView]) -> tuple[int, list[str]]:
    """Units that left a node without stock the ledger had committed to them, plus stock
    rows that went negative or disagree with their movements. Zero is the only good value."""
    broken = len(ledger.balance_problems(session))
    unbacked = unbacked_shipments(session, views)
    return sum(unbacked.values()) + broken, ledger_problems(session, views)


def preorder_figures(
    rows: list[OrderRow], views: list[OrderView], oversold: int, supply_stats
) -> dict[str, Any]:
    """Orders that waited for supply on its way: how many, how many came on time and in
    full, how many were re-promised or parked; future units sold twice (must be 0); and
    what the suppliers really did."""
    waited = {
        row.order_id for row in rows if any(e["type"] == "preorder_waiting" for e in row.timeline)
    }
    timelines = {row.order_id: {e["type"] for e in row.timeline} for row in rows}
    preorders = [v for v in views if v.order_id in waited]
    delivered = [v for v in preorders if v.otif is not None]
    return {
        "placed": len(preorders),
        "delivered": len(delivered),
        "served_on_time": sum(v.otif.otif for v in delivered if v.otif),
        "repromised": sum("repromised" in timelines[v.order_id] for v in preorders),
        "moved_to_other_supply": sum("preorder_moved" in timelines[v.order_id] for v in preorders),
        "exceptions": sum("exception" in timelines[v.order_id] for v in preorders),
        "cancelled": sum(v.status == "cancelled" for v in preorders),
        "future_units_oversold": oversold,
        "suppliers": vars(supply_stats),
    }


def promise_slack(views: list[OrderView], guarantees: set) -> dict[str, float | None]:
    """Per delivery method, the mean days between the promised day and the delivery, over
    delivered orders not held to a peak's guarantee date: how much a promise sandbags."""
    slack: dict[str, list[int]] = defaultdict(list)
    for view in views:
        if view.otif is None or view.otif.delivered_on is None or view.promised_by is None:
            continue
        if view.promised_by in guarantees:
            continue
        slack[method_of(view)].append((view.promised_by - view.otif.delivered_on).days)
    return {
        method: round(sum(days) / len(days), 2) if days else None
        for method in ("home_standard", "home_express", "click_and_collect")
        for days in [slack.get(method, [])]
    }


def _per_node(
    views: list[OrderView],
    otif_rows,
    types: dict[str, str],
    learned: FieldPerformance,
    scenario,
    confidence: float,
) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = defaultdict(lambda: Counter())
    for view in views:
        for s in view.shipments:
            figures = out[s.node_id]
            figures["shipments"] += s.status in LEFT
            figures["units"] += s.units if s.status in LEFT else 0
            figures["short_picked_units"] += sum(line.short_qty for line in s.lines)
            # Pulled back after release: rerouted, cancelled by the customer, or failed.
            figures["withdrawn"] += s.status == ShipmentStatus.CANCELLED and bool(s.pick_by)
            figures["late_picks"] += bool(s.pick_by and s.shipped_at and s.shipped_at > s.pick_by)
    result = {}
    otif_by = {row.key: row for row in otif_rows}
    nodes = {node.id: node for node in scenario.network.nodes}
    for node_id, figures in sorted(out.items()):
        row = otif_by.get(node_id)
        result[node_id] = {
            "type": types.get(node_id, "?"),
            **figures,
            "orders": row.orders if row else 0,
            "otif": row.otif if row else None,
        }
        node = nodes.get(node_id)
        if node is not None:
            lead = learned.lead_times(node, SHIP)
            summary = learned.summaries.get(node_id)
            result[node_id] |= {
                "configured_preparation_hours": node.preparation_hours,
                "learned_lead_hours": round(lead.quantile(None, confidence), 2),
                "learned_median_hours": round(lead.quantile(None, 0.5), 2),
                "on_time_handover_rate": summary.on_time_handover_rate if summary else None,
            }
    return result


def _per_carrier(views: list[OrderView], otif_rows) -> dict[str, Any]:
    out: dict[str, Counter] = defaultdict(Counter)
    for view in views:
        for s in view.shipments:
            if s.status not in LEFT:
                continue
            figures = out[s.carrier_id or "none"]
            figures["shipments"] += 1
            figures["delivered"] += s.status == ShipmentStatus.DELIVERED
            figures["delivered_after_expected"] += carrier_late(s)
    otif_by = {row.key: row for row in otif_rows}
    return {
        carrier: {**figures, "otif": otif_by[carrier].otif if carrier in otif_by else None}
        for carrier, figures in sorted(out.items())
    }


def _ratio(part: float, whole: float, digits: int = 4) -> float:
    return round(part / whole, digits) if whole else 0.0
