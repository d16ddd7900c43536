"""Reading an activity's failure in workflow code: which business refusal it was (see
domain.errors.Refusal), in words, and the details it carries."""

from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError


def refusal(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def reason(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


def detail(err: ActivityError, key: str) -> Any:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
        return cause.details[0].get(key)
    return None
