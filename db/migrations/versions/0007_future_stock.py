"""future stock: supply lines with expected, allocated and received units; pre-order holds

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supply") as batch_op:
        batch_op.alter_column("qty", new_column_name="expected")
        batch_op.add_column(
            sa.Column("allocated", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("received", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("damaged", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="open",
            )
        )
        batch_op.add_column(
            sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    # The defaults only fill the rows already there: the models set every value.
    with op.batch_alter_table("supply") as batch_op:
        batch_op.alter_column("allocated", server_default=None)
        batch_op.alter_column("received", server_default=None)
        batch_op.alter_column("damaged", server_default=None)
        batch_op.alter_column("status", server_default=None)
        batch_op.create_index(batch_op.f("ix_supply_updated_at"), ["updated_at"], unique=False)
        batch_op.create_check_constraint("supply_allocated_not_negative", "allocated >= 0")
        batch_op.create_check_constraint("supply_expected_not_negative", "expected >= 0")
    op.create_table(
        "supply_holds",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("line_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("supply_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("node_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supply_holds_order_id", "supply_holds", ["order_id"])
    op.create_index("ix_supply_holds_supply_id", "supply_holds", ["supply_id"])


def downgrade() -> None:
    op.drop_index("ix_supply_holds_supply_id", table_name="supply_holds")
    op.drop_index("ix_supply_holds_order_id", table_name="supply_holds")
    op.drop_table("supply_holds")
    with op.batch_alter_table("supply") as batch_op:
        batch_op.drop_constraint("supply_expected_not_negative", type_="check")
        batch_op.drop_constraint("supply_allocated_not_negative", type_="check")
        batch_op.drop_index(batch_op.f("ix_supply_updated_at"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("status")
        batch_op.drop_column("damaged")
        batch_op.drop_column("received")
        batch_op.drop_column("allocated")
        batch_op.alter_column("expected", new_column_name="qty")
