"""Dependencies the routes declare: settings, database, Temporal, caller's role."""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.auth import Identified, identify, verify_field_signature
from api.door import CALLER
from api.temporal import TemporalGateway
from config import Settings
from domain.partners import Caller


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


# Declared in the OpenAPI document, so that /docs "Authorize" takes a key; the checks are
# the door's (a missing or unknown key is a 401 with its reason).
BEARER = HTTPBearer(auto_error=False, description="A role's API key (checkout, support, ...)")


async def identified(
    request: Request,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Identified:
    """Who calls, as the door found it (identified again only where no door stands)."""
    who = request.scope.get("state", {}).get(CALLER)
    if who is None:
        authorization = f"Bearer {bearer.credentials}" if bearer else None
        who = await identify(settings, get_engine(request), authorization, get_now(request))
    return who


IdentifiedDep = Annotated[Identified, Depends(identified)]


def get_caller(who: IdentifiedDep) -> Caller:
    return who.caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(*roles: str) -> Callable[..., Caller]:
    """A dependency letting through only these roles (admin always passes)."""
    allowed = {*roles, "admin"}

    def check(caller: CallerDep) -> Caller:
        if caller.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {caller.role} may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return caller

    return check


async def signed(
    request: Request,
    settings: SettingsDep,
    who: IdentifiedDep,
    x_oms_timestamp: Annotated[
        str | None, Header(description="Unix seconds when the event was signed (±5 min)")
    ] = None,
    x_oms_signature: Annotated[
        str | None,
        Header(
            description='"sha256=" + hex HMAC-SHA256 of "{timestamp}.{METHOD}.{path}.{raw body}"'
            ", keyed by the caller's own signing secret"
        ),
    ] = None,
) -> None:
    """Field events are signed with the caller's own secret; the headers are declared here
    so the API's document says how (the check reads them from the request, a missing one
    is a 401)."""
    await verify_field_signature(settings, request, who.signing_secret)


Checkout = Depends(require("checkout"))
Support = Depends(require("checkout", "support"))
NodeReader = Depends(require("support", "warehouse"))  # staff and the nodes' systems
Operator = Depends(require("support"))  # the retailer's own staff, not its checkout
Reader = Depends(require("checkout", "support", "warehouse"))
# Field systems: a node's (warehouse role) or a carrier's, each signing with its own
# secret; the routes check that what they speak of is theirs (Caller.check).
NodeField = [Depends(require("warehouse")), Depends(signed)]
Field = [Depends(require("warehouse", "carrier")), Depends(signed)]
Admin = Depends(require())
