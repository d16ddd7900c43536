"""Business failures with business names; only the API maps them to HTTP."""

from enum import StrEnum


class DomainError(Exception):
    """A request the business rules refuse."""


class UnknownReference(DomainError):
    """The request names a SKU, node, store or order the OMS does not know."""


class InvalidNetwork(DomainError):
    """A network document that contradicts itself."""


class InsufficientStock(DomainError):
    """Not enough available-to-promise stock for what is asked."""


class InventoryConflict(DomainError):
    """An inventory event that would leave the ledger wrong (e.g. sell reserved units)."""


class StockOutOfBounds(DomainError):
    """An event that would put more units on a node's books than a stock counter holds."""


class Forbidden(DomainError):
    """A caller acting beyond what its key allows: a partner speaking for a node or
    carrier not its own, a checkout for another sales channel."""


class DuplicateEventConflict(DomainError):
    """An event id seen before, sent again with a different body."""


class Refusal(StrEnum):
    """The names business refusals carry across processes (an activity's or an update's
    failure type): retrying them cannot help, and callers tell them from outages."""

    INSUFFICIENT_STOCK = "InsufficientStock"
    UNSOURCEABLE = "Unsourceable"
    UNKNOWN_STORE = "UnknownStore"
    NO_CAPACITY = "NoCapacity"
    TOO_LATE_TO_CANCEL = "TooLateToCancel"
    NOT_IN_EXCEPTION_QUEUE = "NotInExceptionQueue"
    NOTHING_TO_DELIVER = "NothingToDeliver"


class NotFound(DomainError):
    """No such order or incident."""


class InvalidOrder(DomainError):
    """An order that cannot be placed as asked: a date in the past, a store that does not
    collect, a delivery option promised for another cart or another method."""


class OrderConflict(DomainError):
    """The order's state refuses the request: too late to cancel, not waiting for a
    decision, or another body under the same order id."""


class Unavailable(DomainError):
    """A part the OMS relies on (the order engine) did not answer; nothing changed: the
    caller may try again."""
