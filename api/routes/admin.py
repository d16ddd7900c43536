"""Administration: the retailer's network, its sourcing policy, and the reconciliation of
what ended order workflows left behind."""

from fastapi import APIRouter, Request
from pydantic import BaseModel

from activities.reconcile import ReconcileReport, reconcile_now
from api.deps import Admin, EngineDep, SessionDep, SettingsDep, TemporalDep
from db.engine import read_only, unit_of_work
from db.ledger_check import ledger_problems
from db.network import LoadSummary, load_network
from db.policies import active_policy, policy_versions, save_policy
from domain.network import NetworkDocument
from domain.policy import SourcingPolicy

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin])


@router.post("/network", response_model=LoadSummary)
def load_network_document(
    document: NetworkDocument, engine: EngineDep, request: Request
) -> LoadSummary:
    """Merge a network document (nodes, carriers, SKUs, stock, supply, calendar): all or nothing."""
    with unit_of_work(engine) as session:
        summary = load_network(session, document)
    request.app.state.supply_chain.invalidate()
    return summary


class PolicyVersions(BaseModel):
    versions: list[SourcingPolicy]


@router.put("/sourcing-policy", response_model=SourcingPolicy)
def save_sourcing_policy(
    policy: SourcingPolicy, engine: EngineDep, request: Request
) -> SourcingPolicy:
    """Save a sourcing policy as a new version, in force for the next orders and promises."""
    with unit_of_work(engine) as session:
        saved = save_policy(session, policy)
    request.app.state.supply_chain.invalidate()
    return saved


@router.get("/sourcing-policy", response_model=SourcingPolicy)
def sourcing_policy(session: SessionDep) -> SourcingPolicy:
    """The sourcing policy in force."""
    return active_policy(session)


@router.get("/sourcing-policy/versions", response_model=PolicyVersions)
def sourcing_policy_versions(session: SessionDep) -> PolicyVersions:
    """Every saved version, newest first."""
    return PolicyVersions(versions=policy_versions(session))


@router.get("/reconcile", response_model=ReconcileReport)
async def reconcile_report(client: TemporalDep, settings: SettingsDep) -> ReconcileReport:
    """What order workflows that ended from outside (terminated, failed, timed out) left
    behind, and running orders that hold no stock; changes nothing."""
    return await reconcile_now(client, settings.task_queue, fix=False)


@router.post("/reconcile", response_model=ReconcileReport)
async def reconcile(client: TemporalDep, settings: SettingsDep) -> ReconcileReport:
    """Give back what ended order workflows left behind (holds, slots, bookings) and mark
    those orders failed; running orders are never touched. Safe to run again."""
    return await reconcile_now(client, settings.task_queue, fix=True)


class LedgerCheck(BaseModel):
    problems: list[str]  # must be empty


@router.get("/ledger-check", response_model=LedgerCheck)
def ledger_check(engine: EngineDep) -> LedgerCheck:
    """Every unit that left a node left with stock committed to its order, and every stock
    row agrees with its movements; what does not is listed (a count may be due)."""
    with read_only(engine) as session:
        return LedgerCheck(problems=ledger_problems(session))
