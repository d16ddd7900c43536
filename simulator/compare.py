"""Side by side: what each policy did with the same customers and the same field."""

from typing import Any

ROWS = [
    ("orders", "orders", "{:,}"),
    ("OTIF", "otif", "{:.1%}"),
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
]


def comparison_table(reports: list[dict[str, Any]]) -> str:
    """A Markdown table: one column per policy, one row per figure."""
    head = "| | " + " | ".join(r["policy"] for r in reports) + " |"
    lines = [head, "|---" * (len(reports) + 1) + "|"]
    for label, key, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(fmt.format(r[key]) for r in reports) + " |")
    causes = sorted({cause for r in reports for cause in r["causes"]})
    for cause in causes:
        cells = " | ".join(f"{r['causes'].get(cause, 0):,}" for r in reports)
        lines.append(f"| misses: {cause.replace('_', ' ')} | {cells} |")
    return "\n".join(lines)
