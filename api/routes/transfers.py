"""Transfers: stock moving between nodes (a warehouse refilling a store). Support and the
nodes read them; an operator may call one off before it leaves its source."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from api.deps import Admin, CallerDep, NodeReader, SessionDep, TemporalDep
from api.order_gateway import signal_workflow
from db import transfers
from domain.ids import Id
from domain.transfer import BEFORE_LEAVING, Transfer, TransferEntry, TransferStatus
from workflows.contracts import TransferSignalName, transfer_workflow_id
from workflows.transfer import CancelTransfer

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])


class TransferDetail(BaseModel):
    transfer: Transfer
    timeline: list[TransferEntry]


class TransferList(BaseModel):
    transfers: list[Transfer]


@router.get("", response_model=TransferList, dependencies=[NodeReader])
def list_transfers(
    session: SessionDep,
    caller: CallerDep,
    node_id: Id | None = None,
    status_: Annotated[TransferStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TransferList:
    """Transfers to or from a node, newest first. A node's system lists its own node's."""
    if caller.partner_id:
        if node_id is None and len(caller.ids) == 1:
            [node_id] = caller.ids
        if node_id is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "name one of your nodes: node_id"
            )
        caller.check("node", node_id)
    found = transfers.listing(session, node_id, status_.value if status_ else None, limit)
    return TransferList(transfers=found)


@router.get("/{transfer_id}", response_model=TransferDetail, dependencies=[NodeReader])
def get_transfer(transfer_id: Id, caller: CallerDep, session: SessionDep) -> TransferDetail:
    """A transfer, line by line (planned, picked, shipped, received, lost), and its story;
    a node's system reads those that leave from or go to its nodes."""
    found = transfers.read(session, transfer_id)
    ends = (found[0].source_node_id, found[0].destination_node_id) if found else ()
    if found is None or not any(caller.reads("node", end) for end in ends):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no transfer {transfer_id}")
    transfer, timeline = found
    return TransferDetail(transfer=transfer, timeline=timeline)


class CancelBody(BaseModel):
    reason: str = "cancelled by an operator"


class CancelAsked(BaseModel):
    transfer_id: str
    accepted: bool = True


@router.post(
    "/{transfer_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelAsked,
    dependencies=[Admin],
)
async def cancel_transfer(
    transfer_id: Id, session: SessionDep, client: TemporalDep, body: CancelBody | None = None
) -> CancelAsked:
    """Call a transfer off before it leaves its source: its units stay there, free again,
    and its store's supply line goes. Once on its way: 409."""
    found = transfers.read(session, transfer_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no transfer {transfer_id}")
    transfer, _ = found
    if transfer.status not in BEFORE_LEAVING:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"transfer {transfer_id} is {transfer.status.value}: too late to cancel",
        )
    why = (body or CancelBody()).reason[:200]
    await signal_workflow(
        client,
        transfer_workflow_id(transfer_id),
        TransferSignalName.CANCEL,
        CancelTransfer(why=why),
        f"transfer {transfer_id}",
    )
    return CancelAsked(transfer_id=transfer_id)
