"""Small networks the tests build orders on, in the network format of docs/network.md."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

# The date every test order is promised by: a month ahead of whenever the suite runs, so
# that no test depends on the calendar day it runs on.
PROMISED = date.today() + timedelta(days=29)


def day(offset: int = 0) -> str:
    """A day relative to the promised one, as ISO text."""
    return (PROMISED + timedelta(days=offset)).isoformat()


def at(offset: int = 0, clock: str = "10:00:00+01:00") -> str:
    """An instant on a day relative to the promised one (carrier event times)."""
    return f"{day(offset)}T{clock}"


def moments_ago(minutes: int = 0) -> str:
    """An instant just past, as ISO text: when a carrier's scan happened. A carrier reports
    what has happened, by the clock the workflows run on (the dev server's is the wall
    clock): a scan dated on the promised day, weeks ahead, is refused."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


WEEK = ["mon", "tue", "wed", "thu", "fri", "sat"]


def node(node_id: str, type_: str, lat: float, lon: float, **extra: Any) -> dict:
    return {
        "id": node_id,
        "type": type_,
        "name": node_id.title(),
        "lat": lat,
        "lon": lon,
        "timezone": "Europe/Paris",
        "pick_capacity_per_day": 1000,
        "cutoff": "15:00",
        "open_days": WEEK,
        "carriers": ["DPD", "COLISSIMO"],
        **extra,
    }


def small_network(stock: dict[tuple[str, str], int] | None = None) -> dict:
    """Paris and Lyon DCs, a Marseille ship-from-store, a Lille click-and-collect store."""
    stock = stock or {
        ("SKU-1", "DC-PARIS"): 50,
        ("SKU-1", "DC-LYON"): 30,
        ("SKU-2", "DC-LYON"): 10,
        ("SKU-3", "STORE-LILLE"): 8,
    }
    return {
        "nodes": [
            node("DC-PARIS", "warehouse", 48.90, 2.40),
            node("DC-LYON", "warehouse", 45.72, 4.92),
            node(
                "STORE-MARSEILLE",
                "store",
                43.30,
                5.37,
                ship_from_store=True,
                protection_qty=2,
                pick_capacity_per_day=50,
            ),
            node(
                "STORE-LILLE",
                "store",
                50.63,
                3.06,
                click_and_collect=True,
                protection_qty=1,
                pick_capacity_per_day=50,
            ),
        ],
        "carriers": [
            {
                "id": "DPD",
                "services": [
                    {
                        "id": "DPD-STD",
                        "kind": "standard",
                        "bands": [{"max_km": 300, "days": 1}, {"max_km": 1200, "days": 2}],
                        "cost": 6.5,
                    }
                ],
            },
            {
                "id": "COLISSIMO",
                "services": [
                    {
                        "id": "COL-STD",
                        "kind": "standard",
                        "bands": [{"max_km": 1200, "days": 3}],
                        "cost": 4.9,
                    }
                ],
            },
        ],
        "skus": [
            {"sku": "SKU-1", "name": "Gift box", "weight_kg": 0.4},
            {"sku": "SKU-2", "name": "Scarf", "weight_kg": 0.2},
            {"sku": "SKU-3", "name": "Candle", "weight_kg": 0.3},
        ],
        "stock": [
            {"sku": sku, "node_id": node_id, "on_hand": qty, "safety_stock": 0}
            for (sku, node_id), qty in stock.items()
        ],
        "supply": [],
        "calendar": {"holidays": ["2026-12-25"], "peaks": []},
    }


def order_body(order_id: str, lines: list[tuple[str, int]], **delivery: Any) -> dict:
    """A checkout body: home delivery to Lyon unless told otherwise."""
    return {
        "order_id": order_id,
        "customer": {"id": f"C-{order_id}", "email": "anna@example.com"},
        "channel": "web",
        "lines": [
            {"line_id": str(n), "sku": sku, "qty": qty} for n, (sku, qty) in enumerate(lines, 1)
        ],
        "delivery": {
            "method": "home",
            "address": {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83},
            "promised_by": PROMISED.isoformat(),
            **delivery,
        },
    }
