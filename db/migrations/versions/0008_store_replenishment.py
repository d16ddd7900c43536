"""store replenishment: policies, proposals, transfers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Instant = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "replenishment_policies",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", Text(length=100), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "replenishment_proposals",
        sa.Column("proposal_id", Text(length=64), nullable=False),
        sa.Column("run_id", Text(length=64), nullable=False),
        sa.Column("store_id", Text(length=64), nullable=False),
        sa.Column("sku", Text(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("source_node_id", Text(length=64), nullable=True),
        sa.Column("status", Text(length=16), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("transfer_id", Text(length=64), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("decided_at", Instant(), nullable=True),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_index("ix_replenishment_proposals_run_id", "replenishment_proposals", ["run_id"])
    op.create_index("ix_replenishment_proposals_status", "replenishment_proposals", ["status"])
    op.create_table(
        "transfers",
        sa.Column("transfer_id", Text(length=64), nullable=False),
        sa.Column("source_node_id", Text(length=64), nullable=False),
        sa.Column("destination_node_id", Text(length=64), nullable=False),
        sa.Column("status", Text(length=16), nullable=False),
        sa.Column("view", sa.JSON(), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("updated_at", Instant(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index("ix_transfers_source_node_id", "transfers", ["source_node_id"])
    op.create_index("ix_transfers_destination_node_id", "transfers", ["destination_node_id"])
    op.create_index("ix_transfers_status", "transfers", ["status"])


def downgrade() -> None:
    op.drop_index("ix_transfers_status", table_name="transfers")
    op.drop_index("ix_transfers_destination_node_id", table_name="transfers")
    op.drop_index("ix_transfers_source_node_id", table_name="transfers")
    op.drop_table("transfers")
    op.drop_index("ix_replenishment_proposals_status", table_name="replenishment_proposals")
    op.drop_index("ix_replenishment_proposals_run_id", table_name="replenishment_proposals")
    op.drop_table("replenishment_proposals")
    op.drop_table("replenishment_policies")
