"""The names the workflows and their callers (the API, the worker, other workflows) agree
on: workflow types and ids, and the names of their signals, queries and updates.

A running workflow hears a signal or answers a query by its name: these names never
change once released (a renamed method keeps its name here), and each is spelled here
only."""

from enum import StrEnum

ORDER_WORKFLOW = "OrderWorkflow"
INCIDENT_WORKFLOW = "IncidentWorkflow"
FIELD_WATCH_WORKFLOW = "FieldWatchWorkflow"
SUPPLY_NEWS_WORKFLOW = "SupplyNewsWorkflow"
FIELD_WATCH_ID = "field-watch"  # one watch for the whole network


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def incident_workflow_id(incident_id: str) -> str:
    return f"incident-{incident_id}"


def supply_news_workflow_id(event_id: str) -> str:
    return f"supply-news-{event_id}"


class OrderSignal(StrEnum):
    NODE_EVENT = "node_event"
    CARRIER_EVENT = "carrier_event"
    INCIDENT = "incident"
    HANDOVER_LATE = "handover_late"
    SUPPLY_NEWS = "supply_news"


class OrderUpdate(StrEnum):
    CANCEL = "cancel"
    RESOLVE = "resolve"


ORDER_STATE = "state"  # the order workflow's query
INCIDENT_OUTCOME = "outcome"  # the signal an order answers an incident with
INCIDENT_REPORT = "report"  # the incident workflow's query

RECONCILE_WORKFLOW = "ReconcileWorkflow"
RECONCILE_SCHEDULE_ID = "reconcile"  # every hour; its runs are `reconcile-<time>`

TRANSFER_WORKFLOW = "TransferWorkflow"
REPLENISHMENT_WORKFLOW = "ReplenishmentWorkflow"
REPLENISHMENT_SCHEDULE_ID = "replenishment"  # every day; its runs are `replenishment-<time>`


def transfer_workflow_id(transfer_id: str) -> str:
    return f"transfer-{transfer_id}"


class TransferSignalName(StrEnum):
    NODE_EVENT = "transfer_event"
    CANCEL = "cancel_transfer"


TRANSFER_STATE = "transfer"  # the transfer workflow's query
