"""The one place where business failures become HTTP answers, all shaped {"detail": ...}."""

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from domain.errors import (
    DomainError,
    DuplicateEventConflict,
    InsufficientStock,
    InvalidNetwork,
    InventoryConflict,
    UnknownReference,
)

log = logging.getLogger("oms.api")

STATUS_OF: dict[type[DomainError], int] = {
    UnknownReference: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InvalidNetwork: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InsufficientStock: status.HTTP_409_CONFLICT,
    InventoryConflict: status.HTTP_409_CONFLICT,
    DuplicateEventConflict: status.HTTP_409_CONFLICT,
}


def install(app: FastAPI) -> None:
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
