"""The partnership: header checks the schema cannot express.

The shape of the header is pydantic's (rules/spec.py); what it means is checked here:
an id usable in URLs and occurrence ids, a time zone that exists (every date a
partnership sends is shown in it), a business-team mailbox that is an address,
documents with titles, an incident-reference pattern that compiles and refuses an empty
reference, and active dates that are days in the right order. Each check reports into
the file's Report and returns what the partnership keeps.
"""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from govcal.rules.compile import parse_local
from govcal.rules.report import SLUG, Report
from govcal.rules.schedule import ScheduleError
from govcal.rules.sources import compile_reference_pattern
from govcal.rules.spec import PartnershipHeader
from govcal.rules.yamlsource import Path as DataPath

_MAILBOX = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")


def check_identity(header: PartnershipHeader, report: Report) -> None:
    """The id is a slug and the time zone is a known IANA name."""
    if not SLUG.match(header.id):
        report.add(
            ("partnership", "id"),
            f"partnership id '{header.id}' must be lowercase letters, digits and dashes",
        )
    try:
        ZoneInfo(header.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        report.add(
            ("partnership", "timezone"),
            f"time zone '{header.timezone}' is unknown; use an IANA name such as Europe/London",
        )


def check_contacts(header: PartnershipHeader, report: Report) -> None:
    """The mailbox, the documents and the incident-reference pattern."""
    _check_mailbox(header.business_team_mailbox, report)
    _check_documents(header.documents, report)
    _check_reference_pattern(header.incident_reference, report)


def _check_mailbox(mailbox: str | None, report: Report) -> None:
    if mailbox is not None and not _MAILBOX.match(mailbox):
        report.add(
            ("partnership", "business_team_mailbox"),
            f"business_team_mailbox '{mailbox}' is not an email address; write e.g. "
            "safeguarding.partnership@example.gov.uk",
        )


def _check_documents(documents: dict[str, str], report: Report) -> None:
    for key, title in documents.items():
        if not key.strip() or not str(title).strip():
            report.add(
                ("partnership", "documents", key),
                f"document '{key}' needs a key and a title in words, e.g. "
                '"004": Westmorland and Furness Safeguarding Children Partnership '
                "arrangements, 2025",
            )


def _check_reference_pattern(pattern: str | None, report: Report) -> None:
    if pattern is None:
        return
    try:
        compiled = compile_reference_pattern(pattern)
    except re.error as exc:
        report.add(
            ("partnership", "incident_reference"),
            f"incident_reference '{pattern}' is not a valid pattern ({exc}); write a "
            r"regular expression such as 'SI-\d{4}-\d{3}'",
        )
        return
    if compiled.fullmatch(""):
        report.add(
            ("partnership", "incident_reference"),
            f"incident_reference '{pattern}' accepts an empty reference; make it require "
            "at least one character",
        )


def active_bounds(header: PartnershipHeader, report: Report) -> tuple[date | None, date | None]:
    """The first and last day the partnership is active (None: open-ended)."""
    if header.active is None:
        return None, None
    path: DataPath = ("partnership", "active")
    bounds: list[date | None] = []
    for key, text in (("from", header.active.start), ("until", header.active.until)):
        if text is None:
            bounds.append(None)
            continue
        try:
            value, timed = parse_local(text)
        except ScheduleError as exc:
            report.add((*path, key), f"active {key}: {exc}")
            bounds.append(None)
            continue
        if timed:
            report.add((*path, key), f"active {key}: '{text}' should be a date, no time")
        bounds.append(value.date())
    start, until = bounds
    if start is not None and until is not None and until < start:
        report.add(path, f"active until {until} is before active from {start}")
    return start, until
