"""Search attributes that let support agents find orders in the Temporal Web UI."""

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
PROMISED_BY = SearchAttributeKey.for_datetime("PromisedBy")
ORDER_NODES = SearchAttributeKey.for_keyword_list("OrderNodes")

ALL = [ORDER_STATUS, CUSTOMER_ID, PROMISED_BY, ORDER_NODES]


def cli_flags() -> list[str]:
    """`temporal server start-dev` flags that register them."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "KEYWORD_LIST": "KeywordList"}
    flags = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
