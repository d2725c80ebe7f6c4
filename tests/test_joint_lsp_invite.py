"""The joint LSP meeting's invite, as a calendar client reads it: sent through a real SMTP
server from the shipped sample directory, parsed back with icalendar. Seed 004: "This
joint meeting is chaired by the Chief Executives for each Local Authority and attended by
the Delegated Safeguarding Partner, Independent Scrutineer and the Partnership Managers"."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email import policy

import icalendar

from govcal.flows.steps import notify
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import SmtpSettings, SmtpTransport
from tests.support.paths import SAMPLE_DIRECTORY

D = date.fromisoformat
SENDER = Sender("govcal", "govcal@example.org")
MEETING = "wfscp:lsp-meeting:2027-02-10"
CHIEF_EXECUTIVES = {"lsp-wfc@example.org", "chief-executive-cumberland@example.org"}
MANAGERS = {"partnership-manager@example.org", "partnership-manager-cumberland@example.org"}


def lsp_invites(received) -> list[tuple[set[str], icalendar.Event, email.message.Message]]:
    """Each copy of the meeting's invite: its recipients, its event, the email itself."""
    events = []
    for r in received:
        message = email.message_from_bytes(r.data, policy=policy.default)
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            [event] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
            if str(event["UID"]).rpartition("@")[0] == MEETING:
                events.append((set(r.rcpt_tos), event, message))
    return events


def test_the_joint_lsp_invite_reaches_both_chief_executives_and_both_managers(
    tmp_path, wfscp, smtp, migrated_copy
):
    url = migrated_copy(tmp_path / "lsp.db")
    day = D("2026-12-14")  # the February meeting is within the 60-day invite window
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, day)
    transport = SmtpTransport(SmtpSettings("127.0.0.1", smtp.port, security="none", timeout=5))
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
    with session_scope(url) as s:
        notify(s, [wfscp], day, transport, SENDER, now=now, settings=get_settings())

    [(rcpts, event, letter)] = lsp_invites(smtp.recorder.received)  # one invite for everyone
    attendees = {str(a).removeprefix("mailto:").lower() for a in event.get("ATTENDEE")}
    assert attendees >= CHIEF_EXECUTIVES | MANAGERS
    assert attendees == {r.lower() for r in rcpts}  # everyone listed is sent it
    assert {"scrutineer@example.org", "dsp-wfc@example.org"} <= attendees
    names = {str(a.params["CN"]) for a in event.get("ATTENDEE")}
    assert "Chief Executive, Cumberland Council (sample)" in names
    # the business team organises; the chairs are said in the invite's own words
    assert str(event["ORGANIZER"]) == f"mailto:{wfscp.business_team_mailbox}"
    description = " ".join(str(event["DESCRIPTION"]).split())
    assert "chaired by the Chief Executives for each Local Authority" in description
    # a calendar client shows who chairs: ROLE=CHAIR on both chief executives, nobody else
    roles = {str(a).removeprefix("mailto:").lower(): a.params["ROLE"] for a in event["ATTENDEE"]}
    assert {who for who, role in roles.items() if role == "CHAIR"} == CHIEF_EXECUTIVES
    assert set(roles.values()) == {"CHAIR", "REQ-PARTICIPANT"}
    assert (
        "Chaired by Chief Executive, Westmorland and Furness Council (sample) and "
        "Chief Executive, Cumberland Council (sample)."
    ) in description
    assert event["DTSTART"].dt == datetime(2027, 2, 10, 10, tzinfo=event["DTSTART"].dt.tzinfo)
    # the email's own words say who chairs too, for a reader who never opens the .ics
    chairs = (
        "Chaired by: Chief Executive, Westmorland and Furness Council (sample) and "
        "Chief Executive, Cumberland Council (sample)"
    )
    text = " ".join(letter.get_body(("plain",)).get_content().split())
    html = " ".join(letter.get_body(("html",)).get_content().split())
    assert chairs in text and chairs in html
