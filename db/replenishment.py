"""Store replenishment in the database: the policy in force (versioned), the facts a plan
is made from (stock, demand history, transfers on their way, free picking slots), and the
proposals a plan made, with their decisions."""

import hashlib
import math
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from db import capacity, transfers
from db.network import read_network
from db.policies import newest, save_version, versions
from db.tables import MovementRow, ProposalRow, ReplenishmentPolicyRow, StockRow, TransferRow
from domain.errors import NotFound, OrderConflict
from domain.network import Node
from domain.replenishment import (
    DEFAULT_REPLENISHMENT_POLICY,
    Place,
    Proposal,
    ReplenishmentPolicy,
    SourceStock,
    StoreStock,
    next_open_day,
)
from domain.transfer import HOLDER_PREFIX, TransferPlan

# What a node's demand is made of: units sold in the shop, units that left for online
# orders (shipped, or collected at the counter). Transfers out are not demand.
DEMAND_KINDS = ("sale", "shipment", "shipped_unheld")


def save_policy(session: Session, policy: ReplenishmentPolicy) -> ReplenishmentPolicy:
    return save_version(session, ReplenishmentPolicyRow, policy)


def active_policy(session: Session) -> ReplenishmentPolicy:
    return newest(session, ReplenishmentPolicyRow, ReplenishmentPolicy) or (
        DEFAULT_REPLENISHMENT_POLICY
    )


def policy_versions(session: Session) -> list[ReplenishmentPolicy]:
    return versions(session, ReplenishmentPolicyRow, ReplenishmentPolicy)


# --- The facts of a plan --------------------------------------------------------------


class PlanFacts:
    """Everything `domain.replenishment.plan` needs, read in one session."""

    def __init__(self, session: Session, policy: ReplenishmentPolicy, today: date):
        network = read_network(session)
        self.calendar = network.calendar
        self.nodes = network.nodes
        stores = {
            node_id: node
            for node_id, node in network.nodes.items()
            if node.type == "store" and (not policy.stores or node_id in policy.stores)
        }
        gives = {
            node_id
            for node_id, node in network.nodes.items()
            if node.type == "warehouse" or policy.sources == "warehouses_and_stores"
        }
        since = today - timedelta(days=policy.history_days)
        history = _daily_demand(session, since, today)
        heard = _first_heard(session)
        inbound = transfers.inbound(session)
        for (store_id, sku), units in _decided_not_started(session).items():
            inbound[(store_id, sku)] = inbound.get((store_id, sku), 0) + units
        self.stores: list[StoreStock] = []
        self.sources: list[SourceStock] = []
        wanted_skus: set[str] = set()
        for row in session.exec(
            select(StockRow).order_by(col(StockRow.node_id), col(StockRow.sku))
        ):
            if row.node_id in stores and policy.covers(row.node_id, row.sku):
                self.stores.append(
                    StoreStock(
                        store_id=row.node_id,
                        sku=row.sku,
                        on_hand=row.on_hand,
                        reserved=row.reserved,
                        safety_stock=row.safety_stock,
                        protection_qty=stores[row.node_id].protection_qty,
                        inbound=inbound.get((row.node_id, row.sku), 0),
                        history=history.get((row.node_id, row.sku), {}),
                        known_since=heard.get(row.node_id),
                    )
                )
                wanted_skus.add(row.sku)
        for row in session.exec(select(StockRow).where(col(StockRow.node_id).in_(sorted(gives)))):
            if row.sku in wanted_skus and network.nodes[row.node_id].type == "warehouse":
                self.sources.append(
                    SourceStock(
                        node_id=row.node_id,
                        sku=row.sku,
                        on_hand=row.on_hand,
                        reserved=row.reserved,
                        safety_stock=row.safety_stock,
                        online_history=history.get((row.node_id, row.sku), {}),
                        known_since=heard.get(row.node_id),
                    )
                )
        used = capacity.effective_usage(session, network.nodes, today)
        self.places = {
            node_id: _place(node, policy, used.get(node_id, {}), today, set(self.calendar.holidays))
            for node_id, node in network.nodes.items()
            if node_id in stores or node_id in gives
        }


def _decided_not_started(session: Session) -> dict[tuple[str, str], int]:
    """Units of proposals applied or approved whose transfer has not started yet (another
    run a moment ago): already on their way, as far as a new plan is concerned."""
    started = select(TransferRow.transfer_id)
    query = select(ProposalRow).where(
        col(ProposalRow.status).in_(("applied", "approved")),
        col(ProposalRow.transfer_id).is_not(None),
        col(ProposalRow.transfer_id).not_in(started),
    )
    out: dict[tuple[str, str], int] = {}
    for row in session.exec(query):
        out[(row.store_id, row.sku)] = out.get((row.store_id, row.sku), 0) + row.qty
    return out


def _place(
    node: Node, policy: ReplenishmentPolicy, used: dict[date, int], today: date, holidays: set[date]
) -> Place:
    pick_day = next_open_day(node.open_days, today, holidays)
    free = max(0, node.pick_capacity_per_day - used.get(pick_day, 0))
    return Place(
        node_id=node.id,
        type=node.type,
        lat=node.lat,
        lon=node.lon,
        open_days=list(node.open_days),
        slots_today=math.floor(free * policy.source_capacity_share),
        receive_per_day=node.receiving_capacity_per_day,
    )


def _daily_demand(
    session: Session, since: date, today: date
) -> dict[tuple[str, str], dict[date, int]]:
    """(node, sku) -> units sold or sent to customers per day, from `since` to yesterday."""
    start = datetime.combine(since, datetime.min.time(), UTC)
    end = datetime.combine(today, datetime.min.time(), UTC)
    day = func.date(MovementRow.at)
    query = (
        select(MovementRow.node_id, MovementRow.sku, day, func.sum(MovementRow.on_hand_delta))
        .where(
            col(MovementRow.kind).in_(DEMAND_KINDS),
            col(MovementRow.at) >= start,
            col(MovementRow.at) < end,
            func.coalesce(MovementRow.order_id, "").not_like(f"{HOLDER_PREFIX}%"),
        )
        .group_by(MovementRow.node_id, MovementRow.sku, day)
    )
    out: dict[tuple[str, str], dict[date, int]] = {}
    for node_id, sku, on, delta in session.exec(query):
        units = -int(delta or 0)
        if units > 0:
            out.setdefault((node_id, sku), {})[date.fromisoformat(str(on)[:10])] = units
    return out


def _first_heard(session: Session) -> dict[str, date]:
    """The first whole day the OMS has records of at each node: the days before are
    unknown, and so is the rest of the day it first heard of the node (a network loaded at
    11 pm says nothing of that day's sales)."""
    query = select(MovementRow.node_id, func.min(MovementRow.at)).group_by(MovementRow.node_id)
    out = {}
    for node_id, first in session.exec(query):
        if first is not None:
            whole_day = first.time() == datetime.min.time()
            out[node_id] = first.date() if whole_day else first.date() + timedelta(days=1)
    return out


# --- Proposals ------------------------------------------------------------------------


def run_id_for(now: datetime, scope: str = "") -> str:
    digest = hashlib.sha256(f"{now.isoformat()}|{scope}".encode()).hexdigest()[:8]
    return f"R{now:%Y%m%d%H%M}-{digest}"


def save_proposals(
    session: Session,
    run_id: str,
    policy: ReplenishmentPolicy,
    proposals: list[Proposal],
    now: datetime,
) -> tuple[list[ProposalRow], list[TransferPlan]]:
    """Record a plan's proposals (once per run: a retried call returns the first) and, when
    the policy applies them, the transfers that carry them out, one per source and store.
    Older proposals still waiting for the same store and SKU give way."""
    existing = list(session.exec(select(ProposalRow).where(ProposalRow.run_id == run_id)))
    if existing:
        return existing, _transfer_plans(existing, policy)
    # Every proposal still waiting within this run's scope gives way: the plan is newer,
    # whether or not it still finds a need.
    waiting = update(ProposalRow).where(col(ProposalRow.status) == "proposed")
    if policy.stores:
        waiting = waiting.where(col(ProposalRow.store_id).in_(policy.stores))
    if policy.skus:
        waiting = waiting.where(col(ProposalRow.sku).in_(policy.skus))
    session.exec(waiting.values(status="superseded", decided_at=now))
    rows = []
    for number, proposal in enumerate(proposals, 1):
        if proposal.source_node_id is None:
            status = "unfilled"
        else:
            status = "applied" if policy.auto_apply else "proposed"
        row = ProposalRow(
            proposal_id=f"{run_id}-{number}",
            run_id=run_id,
            store_id=proposal.store_id,
            sku=proposal.sku,
            qty=proposal.qty,
            source_node_id=proposal.source_node_id,
            status=status,
            explanation=proposal.explanation.model_dump(mode="json"),
            policy_version=policy.version,
            created_at=now,
            decided_at=now if status == "applied" else None,
        )
        rows.append(row)
    plans = _transfer_plans(rows, policy)
    for plan in plans:
        for row in rows:
            if row.proposal_id in plan.proposals:
                row.transfer_id = plan.transfer_id
    session.add_all(rows)
    session.flush()
    return rows, plans


def _transfer_plans(rows: list[ProposalRow], policy: ReplenishmentPolicy) -> list[TransferPlan]:
    groups: dict[tuple[str, str], list[ProposalRow]] = {}
    for row in rows:
        if row.status == "applied" and row.source_node_id is not None:
            groups.setdefault((row.source_node_id, row.store_id), []).append(row)
    plans = []
    for number, ((source, store), members) in enumerate(sorted(groups.items()), 1):
        plans.append(
            TransferPlan(
                transfer_id=f"T{members[0].run_id[1:]}-{number}",
                source_node_id=source,
                destination_node_id=store,
                lines=[(row.sku, row.qty) for row in members],
                proposals=[row.proposal_id for row in members],
                cost=_group_cost(policy, members),
                transit_days=policy.transit_days,
            )
        )
    return plans


def _group_cost(policy: ReplenishmentPolicy, members: list[ProposalRow]) -> float:
    """One stop of the shuttle for the whole transfer, the handling of every unit."""
    km = (members[0].explanation.get("source") or {}).get("distance_km", 0.0)
    units = sum(row.qty for row in members)
    return round(
        policy.cost_per_transfer + policy.cost_per_km * km + policy.cost_per_unit * units, 2
    )


def proposal(session: Session, proposal_id: str) -> ProposalRow:
    row = session.get(ProposalRow, proposal_id)
    if row is None:
        raise NotFound(f"no proposal {proposal_id}")
    return row


def approval_plan(session: Session, proposal_id: str, policy: ReplenishmentPolicy) -> TransferPlan:
    """The transfer an approval starts: this proposal's units, from its source. Refused
    (409) unless the proposal waits for an approval."""
    row = proposal(session, proposal_id)
    if row.status != "proposed" or row.source_node_id is None:
        raise OrderConflict(f"proposal {proposal_id} is {row.status}: nothing to approve")
    digest = hashlib.sha256(proposal_id.encode()).hexdigest()[:12]
    return TransferPlan(
        transfer_id=f"A{row.created_at:%Y%m%d}-{digest}",
        source_node_id=row.source_node_id,
        destination_node_id=row.store_id,
        lines=[(row.sku, row.qty)],
        proposals=[row.proposal_id],
        cost=_group_cost(policy, [row]),
        transit_days=policy.transit_days,
    )


def reopen(session: Session, proposal_id: str) -> None:
    """An approval whose transfer could not be started waits for an approval again."""
    session.exec(
        update(ProposalRow)
        .where(col(ProposalRow.proposal_id) == proposal_id, col(ProposalRow.status) == "approved")
        .values(status="proposed", transfer_id=None, decided_at=None)
    )


def mark_approved(session: Session, proposal_id: str, transfer_id: str, now: datetime) -> None:
    """One conditional write: of two approvals at once, one wins, the other is a 409."""
    result = session.exec(
        update(ProposalRow)
        .where(col(ProposalRow.proposal_id) == proposal_id, col(ProposalRow.status) == "proposed")
        .values(status="approved", transfer_id=transfer_id, decided_at=now)
    )
    if result.rowcount != 1:
        raise OrderConflict(f"proposal {proposal_id} was decided already")


def proposals(
    session: Session,
    store_id: str | None = None,
    status: str | None = None,
    run_id: str | None = None,
    limit: int = 500,
) -> list[ProposalRow]:
    query = select(ProposalRow)
    if store_id is not None:
        query = query.where(ProposalRow.store_id == store_id)
    if status is not None:
        query = query.where(ProposalRow.status == status)
    if run_id is not None:
        query = query.where(ProposalRow.run_id == run_id)
    query = query.order_by(col(ProposalRow.created_at).desc(), col(ProposalRow.proposal_id))
    return list(session.exec(query.limit(limit)))
