"""Every table, imported together so SQLModel.metadata is complete (Alembic, models.db)."""

from govcal.models.action_links import ActionLink
from govcal.models.attendance import AttendanceAnswer, Attended
from govcal.models.audits import AuditCycle, AuditReturn, FollowUpAction, Rag
from govcal.models.bounces import LedgerBounce
from govcal.models.calendar import Incident, Lifecycle, OccurrenceRow
from govcal.models.directory import Agency, AgencyType, PartnershipRow, School, SchoolPhase
from govcal.models.escalations import EscalationAck
from govcal.models.feed_tokens import FeedToken, InstallationSetting
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.models.mailbox import MailboxMessage
from govcal.models.pack_files import PackFile
from govcal.models.people import Delegation, Person, RoleAssignment
from govcal.models.served_feeds import PersonFeedPart, ServedFeed
from govcal.models.trail import Channel, TrailEntry

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
    "LedgerBounce",
    "LedgerEntry",
    "Lifecycle",
    "MailboxMessage",
    "OccurrenceRow",
    "PackFile",
    "PartnershipRow",
    "Person",
    "PersonFeedPart",
    "Rag",
    "RoleAssignment",
    "School",
    "SchoolPhase",
    "ServedFeed",
    "TrailEntry",
]
