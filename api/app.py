"""The FastAPI application: settings, database and Temporal wired once, routes thin."""

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, status
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client

from api import errors
from api.promise_cache import SupplyChainCache
from api.routes import (
    admin,
    field,
    health,
    incidents,
    inventory,
    orders,
    performance,
    promise,
    reports,
    supply,
)
from api.temporal import TemporalGateway
from config import Settings, get_settings
from db.engine import make_engine

MAX_BODY_BYTES = 64 * 1024 * 1024  # a big network document; anything larger is refused

log = logging.getLogger("oms.api")


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    temporal_client: Client | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    own_engine = engine is None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if own_engine:
            app.state.engine.dispose()

    app = FastAPI(
        title="OMS",
        version="1",
        summary="Order management that keeps the customer promise, on time and in full",
        lifespan=lifespan,
        # Operations named after their functions (place_order, cancel_order, ...): what a
        # client generated from the OpenAPI document calls them.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.clock = clock or _wall_clock
    app.state.engine = engine or make_engine(settings.sqlalchemy_url)
    app.state.temporal = TemporalGateway(settings, temporal_client)
    app.state.supply_chain = SupplyChainCache(app.state.engine, clock=app.state.clock)

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    errors.install(app)
    for module in (
        health,
        promise,
        orders,
        field,
        incidents,
        inventory,
        supply,
        reports,
        performance,
        admin,
    ):
        app.include_router(module.router, responses=errors.DOCUMENTED)
    return app


class BodyLimit:
    """Refuses a body announced larger than `limit` before it is read. Plain ASGI: the
    promise runs on every cart change, and a request-object middleware costs it a task and
    a stream per call."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length")
            if length and (not length.isdigit() or int(length) > self.limit):
                refusal = JSONResponse(
                    {"detail": f"body larger than {self.limit} bytes"},
                    status_code=status.HTTP_413_CONTENT_TOO_LARGE,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _wall_clock() -> datetime:
    return datetime.now(UTC)
