"""each partnership's part of a person's feed, kept apart (shares of the national day)

Revision ID: 0017_shares
Revises: 0016
Create Date: 2026-12-07 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_shares"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_feed_part",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("partnership_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("person_feed_part")
