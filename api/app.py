"""The FastAPI application: settings, database and Temporal wired once, routes thin."""

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client

from api import errors, metrics
from api.door import Door
from api.promise_cache import SupplyChainCache
from api.routes import (
    admin,
    field,
    health,
    incidents,
    inventory,
    orders,
    partners,
    performance,
    promise,
    replenishment,
    reports,
    supply,
    transfers,
)
from api.temporal import TemporalGateway
from config import Settings, get_settings, tracing
from db.engine import make_engine

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
        metrics.process_ends()
        tracing.flush()

    app = FastAPI(
        title="OMS",
        version="1",
        summary="Order management that keeps the customer promise, on time and in full",
        lifespan=lifespan,
        # Operations named after their functions (place_order, cancel_order, ...): what a
        # client generated from the OpenAPI document calls them.
        generate_unique_id_function=lambda route: route.name,
        # In production the document is /openapi.json behind a key (api/door.py): a browser
        # cannot send a bearer key to load /docs or /redoc, which would only be open doors.
        docs_url=None if settings.env == "prod" else "/docs",
        redoc_url=None if settings.env == "prod" else "/redoc",
    )
    app.state.settings = settings
    app.state.clock = clock or _wall_clock
    app.state.engine = engine or make_engine(settings.sqlalchemy_url)
    app.state.temporal = TemporalGateway(settings, temporal_client)
    app.state.supply_chain = SupplyChainCache(app.state.engine, clock=app.state.clock)
    tracing.instrument_engine(app.state.engine)  # each a no-op unless tracing is on

    # Keys and body sizes, before any body is read.
    app.add_middleware(Door, settings=settings, engine=app.state.engine, clock=app.state.clock)
    app.add_middleware(metrics.RequestMetrics)  # outermost: times the door's refusals too
    errors.install(app)
    for module in (
        health,
        promise,
        orders,
        field,
        incidents,
        inventory,
        supply,
        replenishment,
        transfers,
        reports,
        performance,
        admin,
        partners,
    ):
        app.include_router(module.router, responses=errors.DOCUMENTED)
    tracing.instrument_app(app)
    return app


def serve_app(settings: Settings | None = None) -> FastAPI:
    """The app of an API process (`oms api`; uvicorn calls it in each of its workers):
    tracing started first when the OTEL_* settings ask, as oms-api."""
    tracing.start("oms-api")
    return create_app(settings)


def _wall_clock() -> datetime:
    return datetime.now(UTC)
