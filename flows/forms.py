"""Typed parameters for the flows the business team starts from the Prefect UI.

Enums are built from the shipped rule files, so the UI offers drop-downs of real
partnerships and rules instead of free text that can be mistyped.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from flows.runtime import rules_or_empty
from models.audits import Rag
from rules.dates import SupportedDate
from rules.model import Kind

# a bad rule file leaves the forms with free text: `govcal rules check` reports it
_PARTNERSHIPS = rules_or_empty()
PartnershipId = StrEnum(  # type: ignore[misc]
    "PartnershipId", {p.id: p.id for p in _PARTNERSHIPS} or {"wfscp": "wfscp"}
)
RuleId = StrEnum(  # type: ignore[misc]
    "RuleId", {r.id: r.id for p in _PARTNERSHIPS for r in p.rules} or {"rule": "rule"}
)
AuditRuleId = StrEnum(  # type: ignore[misc]
    "AuditRuleId",
    {r.id: r.id for p in _PARTNERSHIPS for r in p.rules if r.kind is Kind.AUDIT and r.per}
    or {"section-11-audit": "section-11-audit"},
)
EventKind = StrEnum(  # type: ignore[misc]
    "EventKind", {e: e for p in _PARTNERSHIPS for e in p.events} or {"serious-incident": "x"}
)


def occurrence_id(partnership: str, rule: str, period: str, subject: str | None) -> str:
    base = f"{partnership}:{rule}:{period.strip()}"
    return f"{base}:{subject.strip()}" if subject and subject.strip() else base


class CompletionForm(BaseModel):
    """Record that an obligation was met. Copy the id from a reminder email, or choose
    the partnership and rule and give the period (the date in the id)."""

    partnership: PartnershipId = Field(description="Partnership")
    rule: RuleId = Field(description="Obligation (rule)")
    period: str = Field(
        description="The period in the occurrence id: a date such as 2026-05-13, or the "
        "incident reference for statutory clocks"
    )
    subject: str | None = Field(default=None, description="Agency or school code (S11/S175)")
    evidence: HttpUrl = Field(description="Link to the minutes, report or return")
    completed_on: SupportedDate = Field(description="Day it was done")
    completed_by: str = Field(min_length=2, max_length=200, description="Who did it")
    note: str | None = Field(default=None, max_length=500)

    @property
    def occurrence(self) -> str:
        return occurrence_id(self.partnership.value, self.rule.value, self.period, self.subject)


class FollowUp(BaseModel):
    description: str = Field(min_length=3, max_length=500)
    due: SupportedDate


class ReturnForm(BaseModel):
    """Record an S11 or S175 return, and optionally its review (RAG and follow-ups)."""

    partnership: PartnershipId
    rule: AuditRuleId
    period: str = Field(description="The cycle's due date in the id, e.g. 2026-03-31")
    subject: str = Field(description="Agency or school code, e.g. wf-p001")
    evidence: HttpUrl = Field(description="Link to the submitted return")
    submitted_on: SupportedDate
    recorded_by: str = Field(min_length=2, max_length=200)
    rag: Rag | None = Field(default=None, description="Review rating, if reviewed")
    review_note: str | None = Field(default=None, max_length=1000)
    follow_ups: list[FollowUp] = Field(default_factory=list)

    @property
    def occurrence(self) -> str:
        return occurrence_id(self.partnership.value, self.rule.value, self.period, self.subject)


class IncidentForm(BaseModel):
    """Start the statutory clocks for a serious incident: the reference only, never a
    child's name or any other identifying detail."""

    # a rejected value must not be echoed into the run's error, which Prefect stores
    model_config = ConfigDict(hide_input_in_errors=True)

    partnership: PartnershipId
    reference: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}$",
                           description="Case-management reference, e.g. SI-2027-001")  # fmt: skip
    aware_on: SupportedDate = Field(description="Day the local authority became aware")
    kind: EventKind = Field(default=next(iter(EventKind)))
    recorded_by: str = Field(min_length=2, max_length=200)
