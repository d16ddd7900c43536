"""Small builders the domain tests share: a node anywhere, by default a warehouse."""

from typing import Any

from domain.network import Node


def node(node_id: str, at: tuple[float, float], carriers=("POSTE",), **extra: Any) -> Node:
    fields: dict[str, Any] = {
        "id": node_id,
        "type": "warehouse",
        "name": node_id.title(),
        "lat": at[0],
        "lon": at[1],
        "pick_capacity_per_day": 1000,
        "carriers": list(carriers),
    }
    return Node(**(fields | extra))
