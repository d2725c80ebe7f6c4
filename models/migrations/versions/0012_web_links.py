"""signed action links in emails, and feeds kept for the web app to serve

Revision ID: 0012
Revises: 0004
Create Date: 2026-12-07 06:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govcal.models.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_link",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("partnership_id", sa.String(64), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("issued_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", govcal.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", govcal.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_from", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(1000), nullable=True),
    )
    op.create_index("ix_action_link_holder", "action_link", ["email", "item", "action"])
    with op.batch_alter_table("escalation_ack") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default=""))
    op.create_table(
        "served_feed",
        sa.Column("key", sa.String(254), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("changed_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("served_feed")
    with op.batch_alter_table("escalation_ack") as batch:
        batch.drop_column("channel")
    op.drop_index("ix_action_link_holder", table_name="action_link")
    op.drop_table("action_link")
