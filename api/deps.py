"""Dependencies the routes declare: settings, database, Temporal, caller's role."""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.auth import role_of, verify_field_signature
from api.temporal import TemporalGateway
from config import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session for reading; routes that write open their own `unit_of_work`."""
    with Session(engine) as session:
        yield session


async def get_temporal(request: Request) -> Client:
    gateway: TemporalGateway = request.app.state.temporal
    try:
        return await gateway.client()
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"order engine unavailable: {exc}"
        ) from exc


def get_now(request: Request) -> datetime:
    """The API's clock: the wall clock, or a simulated peak's virtual one."""
    return request.app.state.clock()


SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


def require(*roles: str) -> Callable[..., str]:
    """A dependency letting through only these roles (admin always passes)."""
    allowed = {*roles, "admin"}

    def check(
        settings: SettingsDep,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> str:
        role = role_of(settings, authorization)
        if role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {role} may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return role

    return check


async def signed(request: Request, settings: SettingsDep) -> None:
    await verify_field_signature(settings, request)


Checkout = Depends(require("checkout"))
Support = Depends(require("checkout", "support"))
Reader = Depends(require("checkout", "support", "warehouse"))
Field = [Depends(require("warehouse")), Depends(signed)]
Admin = Depends(require())
