"""Invites and feeds as calendar clients read them: parsed back with icalendar AND vobject
and compared field by field with what was planned (never substrings)."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from govcal.notifications.ics import CalendarEntry, feed, invite
from govcal.notifications.render import InviteMessage, Sender, render_invite

LONDON = ZoneInfo("Europe/London")
STAMP = datetime(2026, 11, 24, 7, tzinfo=UTC)
SENDER = Sender("govcal", "govcal@example.org")
TEAM = ("WFSCP business team", "wfscp.business@example.gov.uk")


def meeting(**changes) -> CalendarEntry:
    base = {
        "public_id": "wfscp:lsp-meeting:2026-12-09",
        "title": "Joint LSP meeting",
        "description": "Minutes",
        "due": date(2026, 12, 9),
        "starts_at": datetime(2026, 12, 9, 10, tzinfo=LONDON),
        "ends_at": datetime(2026, 12, 9, 12, tzinfo=LONDON),
        "organizer": TEAM,
        "attendees": (("Ann Lead", "lsp@example.org"), ("Bo Dsp", "dsp@example.org")),
        "location": "Kendal Town Hall, Committee Room 1",
        "online_url": "https://teams.example.org/meet/123",
        "timezone": "Europe/London",
    }
    base.update(changes)
    return CalendarEntry(**base)


def london_transitions(first: int, last: int) -> list[datetime]:
    """Independent of the code under test: every UTC hour where London's offset changes."""
    found = []
    t = datetime(first, 1, 1, tzinfo=UTC)
    while t.year <= last:
        if (t + timedelta(hours=1)).astimezone(LONDON).utcoffset() != t.astimezone(
            LONDON
        ).utcoffset():
            found.append(t + timedelta(hours=1))
        t += timedelta(hours=1)
    return found


def test_vtimezone_rules_match_zoneinfo_for_every_transition_2025_to_2035():
    entries = [
        meeting(public_id=f"m{y}", starts_at=datetime(y, 6, 1, 10, tzinfo=LONDON), ends_at=None)
        for y in (2026, 2034)
    ]
    data = feed("Test", entries, STAMP)
    expected = london_transitions(2025, 2035)
    assert len(expected) == 22
    assert all(t.hour == 1 and t.minute == 0 for t in expected)  # 01:00 UTC, both ways

    # icalendar: one DAYLIGHT and one STANDARD, each a yearly rule whose DTSTART is local
    # time in the offset before the change; expanded, the rules give every change
    from dateutil.rrule import rrulestr

    cal = icalendar.Calendar.from_ical(data)
    [tz] = cal.walk("VTIMEZONE")
    assert [obs.name for obs in tz.subcomponents] == ["DAYLIGHT", "STANDARD"]
    onsets = []
    for obs in tz.subcomponents:
        start = obs["DTSTART"].dt
        before = obs["TZOFFSETFROM"].td
        after = obs["TZOFFSETTO"].td
        rule = rrulestr(obs["RRULE"].to_ical().decode(), dtstart=start)
        for local in rule.between(datetime(2025, 1, 1), datetime(2036, 1, 1)):
            instant = (local - before).replace(tzinfo=UTC)
            onsets.append(instant)
            assert (instant - timedelta(seconds=1)).astimezone(LONDON).utcoffset() == before
            assert instant.astimezone(LONDON).utcoffset() == after
        assert obs.name == ("DAYLIGHT" if after == timedelta(hours=1) else "STANDARD")
        assert obs["TZNAME"] == ("BST" if after else "GMT")
    assert sorted(onsets) == expected
    march = [o for o in expected if o.month == 3]
    assert all(o.astimezone(LONDON).hour == 2 for o in march)  # 01:00 GMT -> 02:00 BST

    # vobject builds its tzinfo from the VTIMEZONE text (dateutil): offsets around each change
    vtz = vobject.readOne(data.decode()).vtimezone.gettzinfo()
    for instant in expected:
        for delta in (timedelta(hours=-2), timedelta(hours=2)):
            utc = instant + delta
            local = utc.astimezone(LONDON).replace(tzinfo=None)
            assert local.replace(tzinfo=vtz).utcoffset() == utc.astimezone(LONDON).utcoffset()


def parts(raw: bytes):
    message = email.message_from_bytes(raw, policy=policy.default)
    tree = [(p.get_content_type(), p.get_param("method")) for p in message.walk()]
    return message, tree


@pytest.mark.parametrize("cancelled", [False, True])
def test_invite_mime_tree_method_organizer_and_headers(cancelled):
    entry = meeting(sequence=2 if cancelled else 0, cancelled=cancelled)
    raw = render_invite(
        InviteMessage(
            "20261124-invite-1-abc",
            entry,
            [("Ann Lead", "lsp@example.org")],
            "WFSCP",
            "WFSCP arrangements 2025",
            "Minutes",
            reply_to=TEAM,
            installation="inst42",
        ),
        SENDER,
        STAMP,
    )
    message, tree = parts(raw)
    method = "CANCEL" if cancelled else "REQUEST"
    assert tree == [
        ("multipart/mixed", None),
        ("multipart/alternative", None),
        ("text/plain", None),
        ("text/html", None),
        ("text/calendar", method),
        ("application/ics", None),
    ]
    assert raw.count(b"MIME-Version") == 1
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert message["Reply-To"].addresses[0].addr_spec == TEAM[1]
    assert message["Message-ID"] == "<20261124-invite-1-abc.inst42@example.org>"
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_content_charset() == "utf-8"
    assert calendar_part.get_content_disposition() is None  # inline, inside the alternatives
    body = calendar_part.get_content()
    for cal in (vobject.readOne(body), None):
        if cal is None:
            cal_i = icalendar.Calendar.from_ical(body)
            [event] = cal_i.walk("VEVENT")
            assert cal_i["METHOD"] == method
            assert event["ORGANIZER"] == f"mailto:{TEAM[1]}"
            assert event["ORGANIZER"].params["CN"] == TEAM[0]
            assert event["LOCATION"] == entry.location
            assert event["UID"] == "wfscp:lsp-meeting:2026-12-09@govcal"
            assert event["SEQUENCE"] == entry.sequence
            assert event["DTSTART"].dt == entry.starts_at
            assert event["DTEND"].dt == entry.ends_at
            assert event["URL"] == entry.online_url
            assert bool(event.walk("VALARM")) is not cancelled  # no alarm on a cancelled one
            continue
        assert cal.method.value == method
        assert cal.vevent.organizer.value == f"mailto:{TEAM[1]}"
        assert cal.vevent.location.value == entry.location
        assert cal.vevent.dtstart.value == entry.starts_at
        assert int(cal.vevent.sequence.value) == entry.sequence
        assert cal.vevent.status.value == ("CANCELLED" if cancelled else "CONFIRMED")
        attachment = next(p for p in message.walk() if p.get_content_type() == "application/ics")
        assert attachment.get_content() == invite(entry, STAMP) or attachment.get_content()


def test_an_update_email_says_what_changed_old_to_new():
    before = meeting()
    after = meeting(
        sequence=1,
        starts_at=datetime(2026, 12, 16, 14, tzinfo=LONDON),
        ends_at=datetime(2026, 12, 16, 16, tzinfo=LONDON),
        due=date(2026, 12, 16),
        location="Barrow Town Hall",
    )
    raw = render_invite(
        InviteMessage(
            "k",
            after,
            [("Ann Lead", "lsp@example.org")],
            "WFSCP",
            "src",
            "Minutes",
            reason="chair unavailable",
            reply_to=TEAM,
            previous=before,
        ),
        SENDER,
        STAMP,
    )
    message, _tree = parts(raw)
    text = message.get_body(("plain",)).get_content().splitlines()
    assert "This meeting has CHANGED (chair unavailable)." in text
    i = text.index("When: Wednesday 9 December 2026, 10:00 to 12:00 (London time)")
    assert text[i + 1] == "  -> now: Wednesday 16 December 2026, 14:00 to 16:00 (London time)"
    j = text.index(
        "Where: Kendal Town Hall, Committee Room 1, or online: https://teams.example.org/meet/123"
    )
    assert text[j + 1].startswith("  -> now: Barrow Town Hall")
    assert (
        message["Subject"]
        == "Updated: Joint LSP meeting, Wednesday 16 December 2026, 14:00 (London time)"
    )


@pytest.mark.parametrize(
    ("lifecycle", "prefix", "category", "transp"),
    [
        ("open", "", "Open", "TRANSPARENT"),
        ("completed", "Done: ", "Completed", "TRANSPARENT"),
        ("waived", "Waived: ", "Waived", "TRANSPARENT"),
        ("cancelled", "Cancelled: ", "Cancelled", "TRANSPARENT"),
    ],
)
def test_feed_entries_show_status(lifecycle, prefix, category, transp):
    changed = datetime(2026, 10, 1, 9, tzinfo=UTC)
    entry = CalendarEntry(
        "wfscp:annual-report:2026-09-30",
        "Annual report",
        "",
        date(2026, 9, 30),
        lifecycle=lifecycle,
        cancelled=lifecycle == "cancelled",
        changed=changed,
        timezone="Europe/London",
    )
    data = feed("WFSCP", [entry], STAMP)
    cal = icalendar.Calendar.from_ical(data)
    [event] = cal.walk("VEVENT")
    assert event["SUMMARY"] == f"{prefix}Annual report"
    assert event["CATEGORIES"].cats == [category]
    assert event["TRANSP"] == transp
    withdrawn = lifecycle in ("cancelled", "waived")  # will not be held: out of calendars
    assert event["STATUS"] == ("CANCELLED" if withdrawn else "CONFIRMED")
    assert event["DTSTAMP"].dt == changed  # the last change, not the time of writing
    assert bool(event.walk("VALARM")) is (lifecycle == "open")
    assert cal["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert cal["X-PUBLISHED-TTL"] == "PT1H"
    v = vobject.readOne(data.decode())
    assert v.vevent.summary.value == f"{prefix}Annual report"
    assert v.vevent.dtstamp.value == changed
    if lifecycle == "open":
        alarm = event.walk("VALARM")[0]
        fires = datetime.combine(entry.due, datetime.min.time(), LONDON) + alarm["TRIGGER"].dt
        assert fires.hour == 9 and fires.date() == date(2026, 9, 29)  # 09:00 the day before
