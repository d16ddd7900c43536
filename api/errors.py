"""The one place where business failures become HTTP answers, all shaped {"detail": ...}."""

import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from domain.errors import (
    DomainError,
    DuplicateEventConflict,
    Forbidden,
    InsufficientStock,
    InvalidNetwork,
    InvalidOrder,
    InventoryConflict,
    NotFound,
    OrderConflict,
    StockOutOfBounds,
    Unavailable,
    UnknownReference,
)
from domain.future_stock import InvalidSupplyEvent
from domain.partners import PartnerConflict
from domain.transfer import InvalidTransferEvent

log = logging.getLogger("oms.api")


class Problem(BaseModel):
    """Every error the API answers: `detail` says what went wrong (text, or a list of the
    fields refused with why)."""

    detail: Any


# Documented on every route, so that clients (and schema fuzzers) know what to expect.
DOCUMENTED: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "Bad request",
        401: "Missing or unknown key, or bad field signature",
        403: "This role may not do this, or the caller spoke for a node, carrier or sales "
        "channel not its own",
        404: "Unknown order, node, SKU or incident",
        409: "Conflicts with what the OMS knows",
        413: "Body too large",
        422: "Refused input",
        503: "Order engine unavailable, try again",
    }.items()
}

STATUS_OF: dict[type[DomainError], int] = {
    UnknownReference: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InvalidNetwork: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InsufficientStock: status.HTTP_409_CONFLICT,
    InventoryConflict: status.HTTP_409_CONFLICT,
    DuplicateEventConflict: status.HTTP_409_CONFLICT,
    InvalidOrder: status.HTTP_422_UNPROCESSABLE_CONTENT,
    OrderConflict: status.HTTP_409_CONFLICT,
    NotFound: status.HTTP_404_NOT_FOUND,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    InvalidSupplyEvent: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InvalidTransferEvent: status.HTTP_422_UNPROCESSABLE_CONTENT,
    StockOutOfBounds: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Forbidden: status.HTTP_403_FORBIDDEN,
    PartnerConflict: status.HTTP_409_CONFLICT,
}


def _safe(value):
    """Echo the caller's input back only as valid JSON: text in UTF-8 (lone surrogates in a
    hostile body would otherwise break the error response itself), finite numbers."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # a body may say Infinity or NaN; a JSON response may not
    if value is None or isinstance(value, bool | int | float):
        return value
    return _safe(str(value))


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                key: _safe(value)
                for key, value in error.items()
                if key in ("type", "loc", "msg", "input")
            }
            for error in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        code = next(
            (code for kind, code in STATUS_OF.items() if isinstance(exc, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)
