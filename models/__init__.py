"""Persistence: SQLModel tables, queries and the operations that change them.

Importing this package registers every table on SQLModel.metadata (Alembic needs that).
"""

from models.audits import AuditCycle, AuditReturn, FollowUpAction, Rag
from models.calendar import Incident, Lifecycle, OccurrenceRow
from models.directory import (
    Agency,
    AgencyType,
    Delegation,
    PartnershipRow,
    Person,
    RoleAssignment,
    School,
    SchoolPhase,
)
from models.escalations import EscalationAck
from models.feed_tokens import FeedToken, InstallationSetting
from models.ledger import Delivery, LedgerEntry
from models.trail import Channel, TrailEntry

__all__ = [
    "Agency",
    "AgencyType",
    "AuditCycle",
    "AuditReturn",
    "Channel",
    "Delegation",
    "Delivery",
    "EscalationAck",
    "FeedToken",
    "FollowUpAction",
    "Incident",
    "InstallationSetting",
    "LedgerEntry",
    "Lifecycle",
    "OccurrenceRow",
    "PartnershipRow",
    "Person",
    "Rag",
    "RoleAssignment",
    "School",
    "SchoolPhase",
    "TrailEntry",
]
