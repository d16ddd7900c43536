"""The demo network `make run` loads: a French retailer with 2 DCs, 6 stores, 2 carriers."""

import random

WEEKDAYS_DC = ["mon", "tue", "wed", "thu", "fri", "sat"]
WEEKDAYS_STORE = ["mon", "tue", "wed", "thu", "fri", "sat"]

WAREHOUSES = [
    ("DC-PARIS", "Paris DC", 48.90, 2.40, 5000),
    ("DC-LYON", "Lyon DC", 45.72, 4.92, 3000),
]
STORES = [
    ("STORE-LILLE", "Lille store", 50.63, 3.06),
    ("STORE-BORDEAUX", "Bordeaux store", 44.84, -0.58),
    ("STORE-MARSEILLE", "Marseille store", 43.30, 5.37),
    ("STORE-NANTES", "Nantes store", 47.22, -1.55),
    ("STORE-STRASBOURG", "Strasbourg store", 48.58, 7.75),
    ("STORE-TOULOUSE", "Toulouse store", 43.60, 1.44),
]
PRODUCTS = [
    "Gift box",
    "Wool scarf",
    "Scented candle",
    "Board game",
    "Teddy bear",
    "Chocolate box",
    "Leather wallet",
    "Silk tie",
    "Perfume",
    "Headphones",
    "Smart watch",
    "Mug set",
    "Puzzle",
    "Cookbook",
    "Bluetooth speaker",
    "Slippers",
    "Gloves",
    "Beanie",
    "Photo frame",
    "Tea sampler",
]


def demo_network(seed: int = 24) -> dict:
    """A deterministic network document (docs/network.md) with 50 SKUs."""
    rng = random.Random(seed)
    nodes = [
        {
            "id": node_id,
            "type": "warehouse",
            "name": name,
            "lat": lat,
            "lon": lon,
            "timezone": "Europe/Paris",
            "pick_capacity_per_day": capacity,
            "cutoff": "15:00",
            "open_days": WEEKDAYS_DC,
            "carriers": ["COLISSIMO", "DPD"],
            "ship_from_store": False,
            "click_and_collect": False,
            "protection_qty": 0,
        }
        for node_id, name, lat, lon, capacity in WAREHOUSES
    ]
    nodes += [
        {
            "id": node_id,
            "type": "store",
            "name": name,
            "lat": lat,
            "lon": lon,
            "timezone": "Europe/Paris",
            "pick_capacity_per_day": 150,
            "cutoff": "17:00",
            "open_days": WEEKDAYS_STORE,
            "carriers": ["COLISSIMO"],
            "ship_from_store": True,
            "click_and_collect": True,
            "protection_qty": 2,
        }
        for node_id, name, lat, lon in STORES
    ]
    carriers = [
        {
            "id": "COLISSIMO",
            "name": "Colissimo",
            "services": [
                {
                    "id": "COL-STD",
                    "kind": "standard",
                    "cost": 4.9,
                    "bands": [{"max_km": 400, "days": 2}, {"max_km": 1200, "days": 3}],
                    "pickup_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                },
                {
                    "id": "COL-EXP",
                    "kind": "express",
                    "cost": 9.9,
                    "bands": [{"max_km": 1200, "days": 1}],
                    "pickup_days": ["mon", "tue", "wed", "thu", "fri"],
                },
            ],
        },
        {
            "id": "DPD",
            "name": "DPD",
            "services": [
                {
                    "id": "DPD-STD",
                    "kind": "standard",
                    "cost": 6.5,
                    "bands": [{"max_km": 300, "days": 1}, {"max_km": 1200, "days": 2}],
                    "pickup_days": ["mon", "tue", "wed", "thu", "fri"],
                },
            ],
        },
    ]
    skus, stock = [], []
    for n in range(1, 51):
        sku = f"SKU-{n:03d}"
        product = PRODUCTS[(n - 1) % len(PRODUCTS)]
        skus.append(
            {"sku": sku, "name": f"{product} #{n}", "weight_kg": round(rng.uniform(0.1, 2), 2)}
        )
        for node in nodes:
            if node["type"] == "warehouse":
                on_hand, safety = rng.randint(50, 400), 5
            else:
                on_hand, safety = rng.randint(0, 12), 1
            stock.append(
                {"sku": sku, "node_id": node["id"], "on_hand": on_hand, "safety_stock": safety}
            )
    supply = [
        {
            "id": "PO-1001",
            "kind": "purchase_order",
            "sku": "SKU-001",
            "node_id": "DC-PARIS",
            "qty": 500,
            "eta": "2026-12-10",
        },
        {
            "id": "RET-2001",
            "kind": "customer_return",
            "sku": "SKU-002",
            "node_id": "DC-LYON",
            "qty": 12,
            "eta": "2026-12-03",
        },
    ]
    return {
        "nodes": nodes,
        "carriers": carriers,
        "skus": skus,
        "stock": stock,
        "supply": supply,
        "calendar": {
            "holidays": ["2026-12-25", "2027-01-01"],
            "peaks": [
                {
                    "name": "christmas",
                    "from": "2026-11-20",
                    "to": "2026-12-24",
                    "guarantee_by": "2026-12-24",
                },
            ],
        },
    }
