"""What the OMS has learned of each node from the field's events."""

from fastapi import APIRouter, HTTPException, status

from api.deps import CallerDep, NowDep, Reader, SessionDep
from db.performance import load_performance
from db.policies import active_policy
from db.supply_chain import network_only
from domain.ids import Id
from domain.lead_times import NodePerformance, node_performance

router = APIRouter(tags=["nodes"])


@router.get(
    "/v1/nodes/{node_id}/performance", response_model=NodePerformance, dependencies=[Reader]
)
def performance_of_node(
    node_id: Id, caller: CallerDep, session: SessionDep, now: NowDep
) -> NodePerformance:
    """The node's learned lead times (per start hour, at the policy's confidence) against
    its configured preparation time, its on-time handover rate, throughput and backlog.
    A node's system reads its own node's."""
    if caller.partner_id:
        caller.check("node", node_id)
    chain = network_only(session)
    node = chain.by_id.get(node_id)
    if node is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown node {node_id}")
    learned = load_performance(session, chain, now)
    return node_performance(node, learned, active_policy(session).promise_confidence)
