"""Every table of the OMS. Schema changes go through Alembic (db/migrations)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(JSON, **kw))


# --- Network --------------------------------------------------------------------------


class NodeRow(SQLModel, table=True):
    __tablename__ = "nodes"
    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=16)
    spec: dict = _json(nullable=False)  # domain.network.Node, as loaded


class CarrierRow(SQLModel, table=True):
    __tablename__ = "carriers"
    id: str = Field(primary_key=True, max_length=64)
    spec: dict = _json(nullable=False)  # domain.network.Carrier


class SkuRow(SQLModel, table=True):
    __tablename__ = "skus"
    sku: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    weight_kg: float = 0.0


class CalendarRow(SQLModel, table=True):
    __tablename__ = "calendar"
    id: int = Field(default=1, primary_key=True)
    spec: dict = _json(nullable=False)  # domain.network.Calendar


# --- Inventory ledger -----------------------------------------------------------------


class StockRow(SQLModel, table=True):
    """Stock of one SKU at one node. `reserved` counts units held for orders."""

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="stock_on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="stock_reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="stock_reserved_within_on_hand"),
    )
    sku: str = Field(primary_key=True, max_length=64)
    node_id: str = Field(primary_key=True, max_length=64, index=True)
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    updated_at: datetime = Field(index=True)  # the promise cache refreshes what changed


class ReservationRow(SQLModel, table=True):
    """Units of one order line held at one node: held, then committed or released."""

    __tablename__ = "reservations"
    id: str = Field(primary_key=True, max_length=200)  # {order_id}:{line_id}:{node_id}
    order_id: str = Field(index=True, max_length=64)
    line_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    node_id: str = Field(max_length=64)
    qty: int
    status: str = Field(max_length=16)  # held | committed | released
    created_at: datetime
    updated_at: datetime


class MovementRow(SQLModel, table=True):
    """Append-only log: every change of on-hand or reserved units, with its cause.

    `source_id` is unique, so an event applied twice is refused by the database itself.
    """

    __tablename__ = "movements"
    __table_args__ = (
        UniqueConstraint("source_id", name="movements_source_once"),
        Index("movements_sku_node", "sku", "node_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    sku: str = Field(max_length=64)
    node_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    on_hand_delta: int = 0
    reserved_delta: int = 0
    source_id: str = Field(max_length=250)
    order_id: str | None = Field(default=None, max_length=64)


class SupplyRow(SQLModel, table=True):
    """A supply line: a purchase order, a customer return on its way, a transfer.
    `allocated` counts the units pre-orders hold on it (domain/future_stock.py)."""

    __tablename__ = "supply"
    __table_args__ = (
        CheckConstraint("allocated >= 0", name="supply_allocated_not_negative"),
        CheckConstraint("expected >= 0", name="supply_expected_not_negative"),
    )
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    sku: str = Field(max_length=64, index=True)
    node_id: str = Field(max_length=64)
    expected: int  # units still to come
    eta: date
    allocated: int = 0
    received: int = 0  # units received against the line so far
    damaged: int = 0  # of them, returned units not fit to sell
    status: str = Field(default="open", max_length=16)  # open, cancelled, closed
    updated_at: datetime | None = Field(default=None, index=True)


class SupplyHoldRow(SQLModel, table=True):
    """Units of a supply line a pre-order holds: `held` while they are on their way,
    `served` once received (they are then a stock hold of the order), `released` when the
    order gave them back, `dropped` when they will not come."""

    __tablename__ = "supply_holds"
    id: str = Field(primary_key=True, max_length=200)  # {order}:{line}:@{supply}:r{round}
    order_id: str = Field(max_length=64, index=True)
    line_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    supply_id: str = Field(max_length=64, index=True)
    node_id: str = Field(max_length=64)
    qty: int
    round: int  # the order's sourcing round: its stock hold, once served, carries it
    status: str = Field(max_length=16)
    created_at: datetime
    updated_at: datetime


class ProcessedEventRow(SQLModel, table=True):
    """Field events already applied, so a retried call applies once."""

    __tablename__ = "processed_events"
    event_id: str = Field(primary_key=True, max_length=128)
    source: str = Field(max_length=32)
    fingerprint: str = Field(max_length=64)
    result: dict = _json(nullable=False)
    at: datetime


# --- Orders read model ----------------------------------------------------------------


class OrderRow(SQLModel, table=True):
    """Listing view of an order, written by the order workflow's own activities."""

    __tablename__ = "orders"
    order_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(index=True, max_length=64)
    status: str = Field(index=True, max_length=16)
    # Where it was placed: a checkout key bound to a channel sees that channel's orders.
    channel: str = Field(
        default="web", index=True, max_length=32, sa_column_kwargs={"server_default": "web"}
    )
    promised_by: date | None = None
    placed_at: datetime
    updated_at: datetime
    revision: int = 0  # the workflow's change counter: older writes never win
    on_time: bool | None = None
    in_full: bool | None = None
    reroutes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    view: dict = _json(nullable=False)  # domain.order.OrderView
    timeline: list = _json(nullable=False)  # list of domain.order.TimelineEntry


class ShipmentRow(SQLModel, table=True):
    """Where a carrier's shipment id leads: its order."""

    __tablename__ = "shipments"
    shipment_id: str = Field(primary_key=True, max_length=128)
    order_id: str = Field(index=True, max_length=64)
    node_id: str = Field(max_length=64)
    carrier_id: str | None = Field(default=None, max_length=64)


class ShipmentOutcomeRow(SQLModel, table=True):
    """What the field did with a released shipment: when work could start on it, when it
    was handed over (shipped, or ready at the counter) and delivered. The OMS learns its
    nodes' lead times and its carriers' lanes from these rows."""

    __tablename__ = "shipment_outcomes"
    __table_args__ = (Index("shipment_outcomes_recent", "handed_over_at"),)
    shipment_id: str = Field(primary_key=True, max_length=128)
    order_id: str = Field(max_length=64)
    node_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # ship | collect
    status: str = Field(max_length=16)  # the shipment's status
    carrier_id: str | None = Field(default=None, max_length=64)
    service_id: str | None = Field(default=None, max_length=64)
    distance_km: float | None = None
    released_at: datetime
    started_at: datetime  # released, or the start of its picking day if later
    ship_by: datetime | None = None  # the handover the plan counted on
    handed_over_at: datetime | None = None
    delivered_at: datetime | None = None


# --- Outbox and the simulated carrier -------------------------------------------------


class OutboxRow(SQLModel, table=True):
    """A notification to deliver at least once; `key` is its idempotency key. Pending, it
    is tried again at `next_attempt_at`; failed, the OMS gave up (after two days)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("outbox_due", "status", "next_attempt_at"),)
    key: str = Field(primary_key=True, max_length=250)
    order_id: str = Field(index=True, max_length=64)
    recipient: str = Field(max_length=16)  # customer | node | carrier
    recipient_id: str = Field(max_length=200)
    topic: str = Field(max_length=64)
    payload: dict = _json(nullable=False)
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None


class CarrierBookingRow(SQLModel, table=True):
    """The simulated carrier's own book: one booking per shipment id."""

    __tablename__ = "carrier_bookings"
    shipment_id: str = Field(primary_key=True, max_length=128)
    carrier_id: str = Field(max_length=64)
    service_id: str = Field(max_length=64)
    booking_ref: str = Field(max_length=64)
    tracking: str = Field(max_length=64)
    label_url: str = Field(max_length=250)
    status: str = Field(max_length=16)  # booked | cancelled
    booked_at: datetime


# --- Picking capacity and sourcing policies -------------------------------------------


class CapacityRow(SQLModel, table=True):
    """Shipments booked on a node's picking day (node-local date)."""

    __tablename__ = "node_capacity"
    node_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    used: int = 0
    updated_at: datetime = Field(index=True)


class CapacityBookingRow(SQLModel, table=True):
    """Which picking day a shipment took, so booking it twice takes one slot."""

    __tablename__ = "capacity_bookings"
    shipment_id: str = Field(primary_key=True, max_length=128)
    node_id: str = Field(max_length=64)
    day: date
    status: str = Field(default="booked", max_length=16)  # booked | released
    at: datetime


class PolicyRow(SQLModel, table=True):
    """Every sourcing policy ever saved; the newest version is the one in force."""

    __tablename__ = "sourcing_policies"
    version: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    document: dict = _json(nullable=False)  # domain.policy.SourcingPolicy
    created_at: datetime


class IncidentRow(SQLModel, table=True):
    """An incident from the field and what became of the orders it touched."""

    __tablename__ = "incidents"
    incident_id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=32, index=True)
    document: dict = _json(nullable=False)  # domain.incidents.Incident
    received_at: datetime
    status: str = Field(default="open", max_length=16)  # open | handled | lifted
    # Incidents handled before incident_orders kept their outcomes here, all at once.
    outcomes: list = _json(nullable=False)  # list of domain.incidents.IncidentOutcome
    # How many orders it touches, set once they are listed in incident_orders (None:
    # not listed yet, or an incident handled the older way).
    touched: int | None = None


class IncidentOrderRow(SQLModel, table=True):
    """One order an incident touches: what it is told, and what became of it. Listed
    once, when the incident starts, so that telling the orders a page at a time neither
    skips nor repeats one while earlier pages' orders move away."""

    __tablename__ = "incident_orders"
    incident_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(primary_key=True, max_length=64)
    shipment_ids: list = _json(nullable=False)  # shipments to move off what broke
    lost: dict = _json(nullable=False)  # shipment -> line -> units a count took
    outcome: str | None = Field(default=None, max_length=16)  # None: not answered yet
    detail: str = ""


# --- Store replenishment --------------------------------------------------------------


class ReplenishmentPolicyRow(SQLModel, table=True):
    """Every replenishment policy ever saved; the newest version is the one in force."""

    __tablename__ = "replenishment_policies"
    version: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    document: dict = _json(nullable=False)  # domain.replenishment.ReplenishmentPolicy
    created_at: datetime


class ProposalRow(SQLModel, table=True):
    """A replenishment proposal: units for a store from a source, and why. `proposed`
    waits for an approval; `applied` and `approved` started their transfer; `superseded`
    gave way to a newer plan; `unfilled` had no source."""

    __tablename__ = "replenishment_proposals"
    proposal_id: str = Field(primary_key=True, max_length=64)
    run_id: str = Field(max_length=64, index=True)
    store_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    qty: int
    source_node_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16, index=True)
    explanation: dict = _json(nullable=False)  # domain.replenishment.Explanation
    transfer_id: str | None = Field(default=None, max_length=64)
    policy_version: int
    created_at: datetime
    decided_at: datetime | None = None


class TransferRow(SQLModel, table=True):
    """A transfer order as its workflow last wrote it (domain.transfer.Transfer)."""

    __tablename__ = "transfers"
    transfer_id: str = Field(primary_key=True, max_length=64)
    source_node_id: str = Field(max_length=64, index=True)
    destination_node_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16, index=True)
    view: dict = _json(nullable=False)
    timeline: list = _json(nullable=False)  # list of domain.transfer.TransferEntry
    created_at: datetime
    updated_at: datetime


# --- Partners (field systems) ---------------------------------------------------------


class PartnerRow(SQLModel, table=True):
    """A field system (a node's or a carrier's) and the nodes or carriers it speaks for."""

    __tablename__ = "partners"
    partner_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # node | carrier
    ids: list = _json(nullable=False)
    name: str = Field(default="", max_length=200)
    created_at: datetime
    revoked_at: datetime | None = None


class PartnerCredentialRow(SQLModel, table=True):
    """One key and signing secret of a partner. Neither is kept in the clear: the key as
    its SHA-256 (keys are 256 random bits: a slow hash adds nothing), the secret as the
    salt it is derived from with the OMS's partner secret (db/partners.py)."""

    __tablename__ = "partner_credentials"
    credential_id: str = Field(primary_key=True, max_length=32)
    partner_id: str = Field(max_length=64, index=True)
    key_hash: str = Field(max_length=64, unique=True)
    salt: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime | None = None  # set when a rotation retires it
    revoked_at: datetime | None = None
