"""feed tokens, installation settings, per-occurrence meeting location

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import govcal.models.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_token",
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email"),
        sa.UniqueConstraint("token"),
    )
    op.create_table(
        "installation_setting",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("occurrence") as batch:
        batch.add_column(sa.Column("location", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occurrence") as batch:
        batch.drop_column("location")
    op.drop_table("installation_setting")
    op.drop_table("feed_token")
