"""Which released shipments will not be handed over when their plan counted on."""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlmodel import col

from activities import defn
from db.engine import read_only
from db.performance import PerformanceCache
from db.supply_chain import network_only
from db.tables import ShipmentOutcomeRow
from domain.order import ShipmentStatus

AT_RISK_BELOW = 0.5  # a shipment less likely than not to make its handover is at risk


class FindLateHandoversInput(BaseModel):
    now: datetime  # the watch's clock


class LateHandover(BaseModel):
    order_id: str
    shipment_id: str
    node_id: str
    chance: float  # of still being handed over in time


class LateHandovers(BaseModel):
    shipments: list[LateHandover]


class FieldWatchActivities:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.performance = PerformanceCache()

    @defn
    def find_late_handovers(self, input: FindLateHandoversInput) -> LateHandovers:
        """Released, not picked, and by what the node has shown unlikely to leave by the
        cut-off its plan counted on (it only reads)."""
        t = ShipmentOutcomeRow
        with read_only(self.engine) as session:
            chain = network_only(session)
            learned = self.performance.get(session, chain, input.now)
            query = select(
                col(t.order_id),
                col(t.shipment_id),
                col(t.node_id),
                col(t.kind),
                col(t.started_at),
                col(t.ship_by),
            ).where(
                col(t.handed_over_at).is_(None),
                col(t.status) == ShipmentStatus.RELEASED.value,
                col(t.ship_by).is_not(None),
                col(t.started_at) < input.now,
            )
            waiting = session.connection().execute(query).all()
        late = []
        for order_id, shipment_id, node_id, kind, started_at, ship_by in waiting:
            node = chain.by_id.get(node_id)
            if node is None or ship_by is None:
                continue
            chance = learned.chance_in_time(node, kind, started_at, input.now, ship_by)
            if chance < AT_RISK_BELOW:
                late.append(
                    LateHandover(
                        order_id=order_id,
                        shipment_id=shipment_id,
                        node_id=node_id,
                        chance=round(chance, 3),
                    )
                )
        return LateHandovers(shipments=late)
