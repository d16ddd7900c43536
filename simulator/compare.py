"""Side by side: what each policy did with the same customers and the same field."""

from typing import Any

ROWS: list[tuple[str, str | tuple[str, ...], str]] = [
    ("orders", "orders", "{:,}"),
    ("OTIF", "otif", "{:.1%}"),
    ("OTIF home standard", ("otif_by_method", "home_standard", "otif"), "{:.1%}"),
    ("OTIF home express", ("otif_by_method", "home_express", "otif"), "{:.1%}"),
    ("OTIF click & collect", ("otif_by_method", "click_and_collect", "otif"), "{:.1%}"),
    ("on time", "on_time", "{:.1%}"),
    ("in full", "in_full", "{:.1%}"),
    ("reroutes", "reroutes", "{:,}"),
    ("exceptions (orders)", "exceptions", "{:,}"),
    ("failed", "failed", "{:,}"),
    ("cost per order", "cost_per_order", "{:.2f}"),
    ("shipments per order", "shipments_per_order", "{:.2f}"),
    ("ship-from-store share", "ship_from_store_share", "{:.1%}"),
    ("carts without an option", "carts_without_option", "{:,}"),
    ("oversells", "oversells", "{:,}"),
    ("pre-orders", ("preorders", "placed"), "{:,}"),
    ("pre-orders delivered on time and in full", ("preorders", "served_on_time"), "{:,}"),
    ("pre-orders re-promised", ("preorders", "repromised"), "{:,}"),
    ("pre-orders parked for a person", ("preorders", "exceptions"), "{:,}"),
    ("future units oversold", ("preorders", "future_units_oversold"), "{:,}"),
    ("closed orders still holding stock", "left_behind", "{:,}"),
    ("store stock-outs (open SKU-hours at zero)", ("stores", "stockout_hours"), "{:,}"),
    ("in-store units sold", ("stores", "units_sold_in_store"), "{:,}"),
    ("in-store units lost (empty shelf)", ("stores", "units_lost_in_store"), "{:,}"),
    (
        "click & collect offered when wanted",
        ("stores", "click_and_collect_availability"),
        "{:.1%}",
    ),
    (
        "click & collect served from the store's shelf",
        ("stores", "click_and_collect_from_shelf"),
        "{:,}",
    ),
    ("transfers", ("stores", "transfers"), "{:,}"),
    ("units transferred", ("stores", "units_transferred"), "{:,}"),
    ("transfer cost", ("stores", "transfer_cost"), "{:,.2f}"),
    ("delivered after the OMS's expected day", "delivered_after_expected_share", "{:.1%}"),
    ("promise slack, home standard (days)", ("promise_slack_days", "home_standard"), "{:.2f}"),
    ("promise slack, home express (days)", ("promise_slack_days", "home_express"), "{:.2f}"),
    (
        "promise slack, click & collect (days)",
        ("promise_slack_days", "click_and_collect"),
        "{:.2f}",
    ),
]


def comparison_table(reports: list[dict[str, Any]]) -> str:
    """A Markdown table: one column per policy, one row per figure."""
    head = "| | " + " | ".join(r["policy"] for r in reports) + " |"
    lines = [head, "|---" * (len(reports) + 1) + "|"]
    for label, key, fmt in ROWS:
        cells = " | ".join(_cell(r, key, fmt) for r in reports)
        lines.append(f"| {label} | {cells} |")
    causes = sorted({cause for r in reports for cause in r["causes"]})
    for cause in causes:
        cells = " | ".join(f"{r['causes'].get(cause, 0):,}" for r in reports)
        lines.append(f"| misses: {cause.replace('_', ' ')} | {cells} |")
    return "\n".join(lines)


def _cell(report: dict[str, Any], key: str | tuple[str, ...], fmt: str) -> str:
    """A figure of the report (a key, or a path into nested figures); - when absent."""
    value: Any = report
    for part in (key,) if isinstance(key, str) else key:
        value = value.get(part) if isinstance(value, dict) else None
    return "-" if value is None else fmt.format(value)
