"""incident_orders: the orders an incident touches, one row each, for paging

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "incident_orders",
        sa.Column("incident_id", Text(length=64), nullable=False),
        sa.Column("order_id", Text(length=64), nullable=False),
        sa.Column("shipment_ids", sa.JSON(), nullable=False),
        sa.Column("lost", sa.JSON(), nullable=False),
        sa.Column("outcome", Text(length=16), nullable=True),
        sa.Column("detail", Text(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "order_id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touched", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("touched")
    op.drop_table("incident_orders")
