"""partners: field systems' own credentials; orders' channel in the read model

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Instant = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("partner_id", Text(length=64), nullable=False),
        sa.Column("kind", Text(length=16), nullable=False),
        sa.Column("ids", sa.JSON(), nullable=False),
        sa.Column("name", Text(length=200), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("revoked_at", Instant(), nullable=True),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "partner_credentials",
        sa.Column("credential_id", Text(length=32), nullable=False),
        sa.Column("partner_id", Text(length=64), nullable=False),
        sa.Column("key_hash", Text(length=64), nullable=False),
        sa.Column("salt", Text(length=64), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("expires_at", Instant(), nullable=True),
        sa.Column("revoked_at", Instant(), nullable=True),
        sa.PrimaryKeyConstraint("credential_id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_partner_credentials_partner_id", "partner_credentials", ["partner_id"])
    with op.batch_alter_table("orders") as orders:
        orders.add_column(
            sa.Column("channel", Text(length=32), nullable=False, server_default="web")
        )
    # Orders placed before: their channel is in the view the workflow wrote.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE orders SET channel = COALESCE(view->>'channel', 'web')")
    else:
        op.execute("UPDATE orders SET channel = COALESCE(json_extract(view, '$.channel'), 'web')")
    op.create_index("ix_orders_channel", "orders", ["channel"])


def downgrade() -> None:
    op.drop_index("ix_orders_channel", table_name="orders")
    with op.batch_alter_table("orders") as orders:
        orders.drop_column("channel")
    op.drop_index("ix_partner_credentials_partner_id", table_name="partner_credentials")
    op.drop_table("partner_credentials")
    op.drop_table("partners")
