"""event UIDs carry the installation's id: record from which occurrence on

Occurrences that exist when this runs keep the UID people's calendars already hold
(`<public id>@govcal`); those created later carry the installation's random id, so that
another installation (a staging copy set up afresh) never addresses the same events.

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-07 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "uid-form-after-occurrence"  # models.feed_tokens.UID_FORM_KEY


def upgrade() -> None:
    connection = op.get_bind()
    last = connection.execute(sa.text("SELECT MAX(id) FROM occurrence")).scalar()
    connection.execute(
        sa.text("INSERT INTO installation_setting (key, value) VALUES (:key, :value)"),
        {"key": KEY, "value": str(last or 0)},
    )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM installation_setting WHERE key = :key"), {"key": KEY}
    )
