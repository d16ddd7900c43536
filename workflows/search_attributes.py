"""Search attributes that let support agents find orders in the Temporal Web UI."""

from datetime import UTC, date, datetime, time
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from domain.order import OrderView

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
PROMISED_BY = SearchAttributeKey.for_datetime("PromisedBy")
ORDER_NODES = SearchAttributeKey.for_keyword_list("OrderNodes")

ALL: list[SearchAttributeKey[Any]] = [ORDER_STATUS, CUSTOMER_ID, PROMISED_BY, ORDER_NODES]


def promised_by(day: date) -> datetime:
    """A promised day as the Datetime attribute holds it: its midnight, UTC."""
    return datetime.combine(day, time(0), UTC)


def of_order(view: OrderView) -> list[SearchAttributeUpdate]:
    """What support filters orders on, as the order stands."""
    updates: list[SearchAttributeUpdate] = [
        ORDER_STATUS.value_set(view.status.value),
        CUSTOMER_ID.value_set(view.customer.id),
        ORDER_NODES.value_set(sorted({s.node_id for s in view.shipments})),
    ]
    if view.promised_by is not None:
        updates.append(PROMISED_BY.value_set(promised_by(view.promised_by)))
    return updates


def cli_flags() -> list[str]:
    """`temporal server start-dev` flags that register them."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "KEYWORD_LIST": "KeywordList"}
    flags = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags


async def register(client: Client) -> None:
    """Register them on a server started without the CLI flags (e.g. the test server)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL
            },
        )
    )
