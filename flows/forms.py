"""The forms the business team fills in the Prefect UI, one per write action.

Every form that acts on one item starts with the id as pasted from a reminder email;
left empty, the run pauses with a drop-down of today's open items by title and date
(see `choice_input`). Optional fields have plain defaults (an empty text, "not reviewed
yet"), never a "str / None" type switch. Parsing a form is `parse`, which turns any
problem into one readable line: the flow run's state message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
)

from govcal.flows.runtime import rules_or_empty
from govcal.models.audits import Rag
from govcal.models.records import MAX_LOCATION
from govcal.rules.dates import check_day, parse_day
from govcal.rules.errors import Refused
from govcal.rules.model import Kind
from govcal.rules.references import ReferenceRefused, check_reference, form_pattern
from govcal.rules.text import pasted_id as pasted_occurrence_id

if TYPE_CHECKING:
    from prefect.input import RunInput

    from govcal.rules.model import Partnership


def _supported(day: date) -> date:
    return check_day(day)


# A date field or flow parameter that refuses days outside the supported range (defined
# here, not in rules.dates, so that the command line's date parsing needs no pydantic).
SupportedDate = Annotated[date, AfterValidator(_supported)]


@cache
def _offered() -> list[Partnership]:
    """The partnerships whose ids the forms offer, read when a form's schema is first made
    (a deployment, `govcal serve`), never at import. A bad rule file leaves the forms with
    free text: `govcal rules check` reports it, and the run refuses an unknown id."""
    return rules_or_empty()


@dataclass(frozen=True)
class _Offered:
    """A text field the UI shows as a drop-down of the configured values, and a value
    outside them refused with one line (none configured: free text)."""

    values: Callable[[list[Partnership]], list[str]]

    def known(self) -> list[str]:
        return sorted(set(self.values(_offered())))

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        if self.known():
            schema["enum"] = self.known()
        return schema

    def __call__(self, value: str) -> str:
        known = self.known()
        if known and value not in known:
            listed = ", ".join(f"'{k}'" for k in known[:-1]) + f" or '{known[-1]}'"
            raise ValueError(
                f"Input should be {listed}" if len(known) > 1 else f"Input should be '{known[0]}'"
            )
        return value


_IDS = _Offered(lambda ps: [p.id for p in ps])
_AUDITS = _Offered(lambda ps: [r.id for p in ps for r in p.rules if r.kind is Kind.AUDIT and r.per])
_EVENTS = _Offered(lambda ps: [e for p in ps for e in p.events])
PartnershipId = Annotated[str, AfterValidator(_IDS), _IDS]
AuditRuleId = Annotated[str, AfterValidator(_AUDITS), _AUDITS]
EventKind = Annotated[str, AfterValidator(_EVENTS), _EVENTS]
_ITEM_HELP = (
    "Paste the id from the reminder email, e.g. wfscp:lsp-meeting:2026-11-11. "
    "Leave empty to choose from today's open items once the run starts (open the run "
    "and press Resume; in Prefect's V2 UI it is in the run's ⋮ menu)."
)


def _read_day(value: Any) -> Any:
    """Dates are typed as people write them: 13/11/2026 or 2026-11-13."""
    if isinstance(value, str):
        return parse_day(value, "the date") if value.strip() else None
    return value


# A text field, not a date picker: typing 13/11/2026 is what people do, and an empty
# "Done on" means today without a "date / None" switch in the form.
Day = Annotated[SupportedDate, BeforeValidator(_read_day), WithJsonSchema({"type": "string"})]
DayOrToday = Annotated[
    SupportedDate | None, BeforeValidator(_read_day), WithJsonSchema({"type": "string"})
]


# Prefect titles a flow's parameter with its name ("as_of"); a title given in
# json_schema_extra is applied last, so the run form shows words instead.
_AS_OF = {"title": "As if on (leave empty for today)"}
_RUN_AS_OF = _AS_OF | {"description": "Leave empty (today). Only to replay a past day."}
AsOfText = Annotated[str, Field(json_schema_extra=_AS_OF)]  # the forms: typed as people write
AsOfDay = Annotated[SupportedDate | None, Field(json_schema_extra=_RUN_AS_OF)]  # the jobs
_RULES = {
    "title": "Rule file or folder (leave empty for the configured ones)",
    "description": "Leave empty. `govcal run --rules FILE` fills it in.",
}
RulesPath = Annotated[str | None, Field(json_schema_extra=_RULES)]


class FormError(Refused):
    """A form cannot be used as filled in; the message is one line for the run state."""


def item_field(title: str = "Id from the email") -> Any:
    return Field(default="", title=title, description=_ITEM_HELP, max_length=300)


# a typed name is kept as "typed as NAME (not verified), via Prefect flow run RUN-ID"
# (flows/jobs.py), which must fit the 200 characters a name may have in the records
NAME_AT_MOST = 100


def _by() -> Any:
    return Field(
        title="Your name",
        min_length=2,
        max_length=NAME_AT_MOST,
        description="Recorded in the audit trail as typed, marked not verified",
    )


def _reason(what: str) -> Any:
    return Field(
        title="Reason",
        min_length=3,
        max_length=500,
        description=f"Why it is {what}: kept in the audit trail",
    )


class ItemForm(BaseModel):
    """Fields shared by every form that acts on one item."""

    model_config = ConfigDict(str_strip_whitespace=True)

    item: str = item_field()


class CompletionForm(ItemForm):
    """Record that a meeting, report or action was done, with its evidence."""

    evidence: str = Field(
        title="Evidence",
        min_length=1,
        max_length=1000,
        description="Link to the minutes, report or submission (https://...)",
    )
    completed_on: DayOrToday = Field(  # type: ignore[assignment]  # "" (empty box): today
        default="", title="Done on", description="e.g. 13/11/2026; leave empty for today"
    )
    completed_by: str = _by()
    note: str = Field(default="", title="Note", max_length=500)


class ReviewRating(StrEnum):
    NOT_REVIEWED = "not reviewed yet"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class FollowUp(BaseModel):
    description: str = Field(title="Action", min_length=3, max_length=500)
    due: Day = Field(title="Due by", description="e.g. 31/01/2027")


class ReturnForm(ItemForm):
    """Record an agency's S11 or a school's S175 return, and its review if already read."""

    item: str = item_field("Return id from the email")
    evidence: str = Field(
        title="Evidence (the return)",
        min_length=1,
        max_length=1000,
        description="Link to the submitted return (https://...)",
    )
    submitted_on: DayOrToday = Field(  # type: ignore[assignment]  # "" (empty box): today
        default="", title="Submitted on", description="e.g. 28/10/2026; leave empty for today"
    )
    recorded_by: str = _by()
    rating: ReviewRating = Field(
        default=ReviewRating.NOT_REVIEWED,
        title="Review rating (RAG)",
        description="Leave as not reviewed yet until it has been read",
    )
    review_note: str = Field(default="", title="Review note", max_length=1000)
    follow_ups: list[FollowUp] = Field(default_factory=list, title="Follow-up actions")

    @property
    def rag(self) -> Rag | None:
        return None if self.rating is ReviewRating.NOT_REVIEWED else Rag(self.rating.value)


class ReviewForm(ItemForm):
    """Record the review of a return already submitted: RAG rating and follow-ups."""

    item: str = item_field("Return id from the email")
    rating: Rag = Field(title="Review rating (RAG)")
    review_note: str = Field(default="", title="Review note", max_length=1000)
    follow_ups: list[FollowUp] = Field(default_factory=list, title="Follow-up actions")
    by: str = _by()


class RescheduleForm(ItemForm):
    """Move one meeting or deadline without changing its rule; invites are updated."""

    new_date: Day = Field(title="New date", description="e.g. 15/12/2026")
    new_time: str = Field(
        default="",
        title="New time (meetings)",
        pattern=r"^$|^\d{1,2}:\d{2}$",
        description="HH:MM, London time; leave empty for a deadline",
    )
    new_place: str = Field(
        default="",
        title="New place (meetings)",
        max_length=MAX_LOCATION,
        description="e.g. Barrow Town Hall, Committee Room 2; leave empty to keep the place",
    )
    reason: str = _reason("moved")
    by: str = _by()


class CancelForm(ItemForm):
    """Cancel one occurrence (a meeting that will not take place); attendees are told."""

    reason: str = _reason("cancelled")
    by: str = _by()


class WaiveForm(ItemForm):
    """Waive one occurrence that is not needed this time."""

    reason: str = _reason("waived")
    by: str = _by()


class ReopenForm(ItemForm):
    """Reopen a completed, waived or cancelled item recorded by mistake."""

    reason: str = _reason("reopened")
    by: str = _by()


class AttendanceForm(ItemForm):
    """After a meeting, record who attended it."""

    present: str = Field(
        default="",
        title="Who attended",
        max_length=5000,
        description="Email addresses, separated by commas or new lines; leave empty for "
        "those who said they would come and the deputies they named",
    )
    by: str = _by()


class AcknowledgeForm(ItemForm):
    """A Lead Partner acknowledges an escalation; the dashboard shows who and when."""

    by: str = Field(
        title="Lead Partner's name",
        min_length=2,
        max_length=NAME_AT_MOST,
        description="The Lead (or Delegated) Safeguarding Partner answering",
    )
    note: str = Field(default="", title="Note", max_length=500)


@cache
def reference_pattern() -> str:
    """In the form's JSON schema: the UI and the server's parameter check refuse a name
    before a run exists (a run keeps its parameters for good, on the Parameters tab)."""
    return form_pattern([p.incident_reference for p in _offered()])


class _ReferencePattern:
    """The reference's pattern in the form's JSON schema, made when the schema is."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        return handler(core_schema) | {"pattern": reference_pattern()}


def _case_reference(value: str) -> str:
    check_reference(value)  # the partnership's own pattern is checked when it is recorded
    if not re.match(reference_pattern(), value):
        raise ReferenceRefused(
            "the incident reference given is not accepted (not shown here): write the "
            "case-management reference, e.g. SI-2026-014: a known prefix (SI, LCSPR, RR ...) "
            "and numbers, never a child's name, initials or date of birth"
        )
    return value


CaseReference = Annotated[str, AfterValidator(_case_reference), _ReferencePattern()]


class IncidentForm(BaseModel):
    """Start the statutory clocks for a serious incident: the reference only, never a
    child's name or any other identifying detail."""

    # a rejected value must not be echoed into the run's error, which Prefect stores
    model_config = ConfigDict(hide_input_in_errors=True, str_strip_whitespace=True)

    partnership: PartnershipId = Field(title="Partnership")
    reference: CaseReference = Field(
        title="Reference",
        description="Case-management reference only, e.g. SI-2027-001",
    )
    aware_on: Day = Field(
        title="Aware on", description="Day the local authority became aware, e.g. 24/03/2027"
    )
    kind: EventKind = Field(default="serious-incident", title="Kind of event")
    recorded_by: str = _by()


def reference_refused(given: Any, pattern: str | None) -> bool:
    """Whether the reference typed into an incident form (a dict from the UI, or the
    form itself) is refused: then it may be a child's name, and no copy may stay."""
    value = given.get("reference") if isinstance(given, dict) else getattr(given, "reference", "")
    if not isinstance(value, str):
        return value is not None
    try:
        _case_reference(value.strip())
        check_reference(value.strip(), pattern)
    except ValueError:
        return True
    return False


class PackMonth(StrEnum):
    """The month a reporting year starts, by name (a drop-down, not a number)."""

    JANUARY = "January"
    FEBRUARY = "February"
    MARCH = "March"
    APRIL = "April"
    MAY = "May"
    JUNE = "June"
    JULY = "July"
    AUGUST = "August"
    SEPTEMBER = "September"
    OCTOBER = "October"
    NOVEMBER = "November"
    DECEMBER = "December"

    @property
    def number(self) -> int:
        return list(PackMonth).index(self) + 1


def _read_year(value: Any) -> Any:
    """A year typed as people write it; empty means the current one."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not re.fullmatch(r"\d{4}", text):
            raise ValueError(f"'{text[:20]}' is not a year; write it as 2025, or leave it empty")
        return int(text)
    return value


class PackForm(BaseModel):
    """The evidence pack's fields, as the flow's form gives them."""

    model_config = ConfigDict(str_strip_whitespace=True)

    partnership: str = Field(title="Partnership", min_length=1, max_length=64)
    year: Annotated[int | None, BeforeValidator(_read_year)] = Field(
        default=None, title="Reporting year"
    )
    start_month: PackMonth = Field(default=PackMonth.JANUARY, title="Year starts in")
    as_of: DayOrToday = Field(default=None, title="As if on")


# the evidence pack flow's parameters, titled for the run form (see _AS_OF)
PackPartnership = Annotated[PartnershipId, Field(json_schema_extra={"title": "Partnership"})]
PackYear = Annotated[
    str,
    Field(
        max_length=20,
        json_schema_extra={
            "title": "Reporting year (leave empty for the current one)",
            "description": "e.g. 2025; for April to March, the year it starts",
        },
    ),
]
PackStart = Annotated[PackMonth, Field(json_schema_extra={"title": "The year starts in"})]


class DayInput(BaseModel):
    day: Day = Field(title="As of")


F = TypeVar("F", bound=BaseModel)


def parse(model: type[F], given: Any) -> F:
    """The form as typed, or FormError with one line naming the field and the fix."""
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "form"
        title = _title(model, str(first["loc"][0])) if first["loc"] else "form"
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise FormError(f"{title or where}: {message}{tail}") from None


def _title(model: type[BaseModel], name: str) -> str:
    found = model.model_fields.get(name)
    return (found.title or name) if found else name


def pasted_id(text: str) -> str:
    """The id out of what a person pasted (rules/text.py), or FormError."""
    found = pasted_occurrence_id(text)
    if not found:
        raise FormError(
            f"'{text[:80]}' is not an id; paste it from the email (it looks like "
            "wfscp:lsp-meeting:2026-11-11) or leave the field empty to choose from a list"
        )
    return found


def choice_input(labels: dict[str, str], title: str) -> type[RunInput]:
    """A run input with one drop-down: the open items by title and date (built each
    run from the database, so the list is today's)."""
    from prefect.input import RunInput

    choices = Enum("Choice", {f"c{i}": label for i, label in enumerate(labels)})  # type: ignore[misc]
    return create_model(
        "ChooseItem",
        __base__=RunInput,
        item=(choices, Field(title=title, description="Nearest to today first; type to search")),
    )
