"""Every table, imported together so SQLModel.metadata is complete (Alembic, models.db)."""

from models.action_links import ActionLink
from models.attendance import AttendanceAnswer, Attended
from models.audits import AuditCycle, AuditReturn, FollowUpAction, Rag
from models.calendar import Incident, Lifecycle, OccurrenceRow
from models.directory import Agency, AgencyType, PartnershipRow, School, SchoolPhase
from models.escalations import EscalationAck
from models.feed_tokens import FeedToken, InstallationSetting
from models.ledger import Delivery, LedgerEntry
from models.mailbox import MailboxMessage
from models.people import Delegation, Person, RoleAssignment
from models.served_feeds import ServedFeed
from models.trail import Channel, TrailEntry

__all__ = [
    "ActionLink",
    "Agency",
    "AgencyType",
    "AttendanceAnswer",
    "Attended",
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
    "MailboxMessage",
    "OccurrenceRow",
    "PartnershipRow",
    "Person",
    "Rag",
    "RoleAssignment",
    "School",
    "SchoolPhase",
    "ServedFeed",
    "TrailEntry",
]
