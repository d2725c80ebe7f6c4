"""when each bounced message came back (the directory view's failing addresses)

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-07 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govcal.models.types

revision: str = "0016"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_bounce",
        sa.Column(
            "ledger_id",
            sa.Integer(),
            sa.ForeignKey("notification_ledger.id"),
            primary_key=True,
        ),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("words", sa.String(500), nullable=False),
        sa.Column("bounced_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ledger_bounce_address", "ledger_bounce", ["address"])


def downgrade() -> None:
    op.drop_index("ix_ledger_bounce_address", table_name="ledger_bounce")
    op.drop_table("ledger_bounce")
