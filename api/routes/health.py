"""Liveness for load balancers and the operator."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import SessionDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


class Alive(BaseModel):
    status: str


@router.get("/livez", response_model=Alive)
async def livez() -> Alive:
    """The process answers (liveness; no dependency checked)."""
    return Alive(status="ok")


@router.get("/healthz", response_model=Health)
def healthz(session: SessionDep) -> Health:
    """The API answers and its database too."""
    session.connection().execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
