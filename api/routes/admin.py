"""Administration: loading the retailer's network."""

from fastapi import APIRouter

from api.deps import Admin, EngineDep
from db.engine import unit_of_work
from db.network import LoadSummary, load_network
from domain.network import NetworkDocument

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin])


@router.post("/network", response_model=LoadSummary)
def load(document: NetworkDocument, engine: EngineDep) -> LoadSummary:
    """Merge a network document (nodes, carriers, SKUs, stock, supply, calendar): all or nothing."""
    with unit_of_work(engine) as session:
        return load_network(session, document)
