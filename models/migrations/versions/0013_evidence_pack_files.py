"""evidence packs kept for the web app to serve as downloads

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govcal.models.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pack_file",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False),
        sa.Column("stem", sa.String(120), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("csv", sa.Text(), nullable=False),
        sa.Column("made_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pack_file")
