"""the mailbox read back and invitees' answers

Revision ID: 0011
Revises: 0004
Create Date: 2026-12-07 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import govcal.models.types

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attendance_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("attendee", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("deputy", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("answered_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("occurrence_id", "attendee", "sequence"),
    )
    op.create_index(
        op.f("ix_attendance_answer_occurrence_id"), "attendance_answer", ["occurrence_id"]
    )
    op.create_table(
        "meeting_attended",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("attendee", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("recorded_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("occurrence_id", "attendee"),
    )
    op.create_index(
        op.f("ix_meeting_attended_occurrence_id"), "meeting_attended", ["occurrence_id"]
    )
    op.create_table(
        "mailbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("read_at", govcal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_key"),
    )
    op.create_index(op.f("ix_mailbox_message_occurrence_id"), "mailbox_message", ["occurrence_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mailbox_message_occurrence_id"), table_name="mailbox_message")
    op.drop_table("mailbox_message")
    op.drop_index(op.f("ix_meeting_attended_occurrence_id"), table_name="meeting_attended")
    op.drop_table("meeting_attended")
    op.drop_index(op.f("ix_attendance_answer_occurrence_id"), table_name="attendance_answer")
    op.drop_table("attendance_answer")
