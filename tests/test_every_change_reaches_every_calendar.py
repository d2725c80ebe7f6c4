"""Every change in every calendar (issue 20): a waived meeting, a removed person, a new
attendee, a reinstated meeting, a rule move of a meeting held somewhere else, and the
words of each update. Through a real SMTP server; each invite parsed with icalendar and
vobject (tests/test_invite_changes.invites) and replayed into simulated client calendars."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy
from pathlib import Path

import icalendar
import pytest

from govcal.models.actions import remove_person
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.records import Actor, cancel, reopen, reschedule, waive
from govcal.models.sync import sync_partnership
from govcal.rules.loader import load_partnership
from tests.support.paths import SAMPLE_DIRECTORY
from tests.test_invite_changes import LONDON, RULES, SAM, apply, invites, run

D = date.fromisoformat
ME = Actor("business.team@example.org")
SCRUTINEER = "scrutineer@example.org"


@pytest.fixture
def calendar(tmp_path, wfscp, migrated_copy):
    url = migrated_copy(tmp_path / "invites.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, D("2026-10-01"))
    return url


def _sam(received, mailbox):
    return [i for i in invites(received, mailbox) if i.uid.startswith(SAM)]


def test_waiving_an_invited_meeting_takes_it_out_of_every_calendar(calendar, wfscp, smtp):
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    [original] = _sam(smtp.recorder.received, mailbox)
    clients: dict = {}
    apply(clients, [original])
    with session_scope(calendar) as s:
        waive(s, SAM, "the council's budget meeting took its place", ME)
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    [gone] = _sam(smtp.recorder.received[before:], mailbox)
    assert (gone.method, gone.status, gone.rcpts) == ("CANCEL", "CANCELLED", original.rcpts)
    assert gone.sequence > original.sequence
    assert "budget meeting took its place" in gone.text
    apply(clients, [gone])
    assert all(SAM not in i.uid for c in clients.values() for i in c.values())


def test_a_waived_meeting_is_cancelled_in_the_feed(calendar, wfscp, tmp_path):
    from govcal.flows.steps import publish_feeds
    from tests.test_invite_changes import feed_events

    with session_scope(calendar) as s:
        waive(s, SAM, "the council's budget meeting took its place", ME)
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2026-10-02"), tmp_path, now=datetime(2026, 10, 2, 6))
    summary, categories, transp, status, _stamp, alarm = feed_events(tmp_path / "wfscp.ics")[SAM]
    assert summary.startswith("Waived: ") and categories == ["Waived"]
    assert (status, transp, alarm) == ("CANCELLED", "TRANSPARENT", False)


def test_a_removed_person_is_sent_a_cancellation_and_the_others_an_update(calendar, wfscp, smtp):
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    [original] = _sam(smtp.recorder.received, mailbox)
    assert SCRUTINEER in original.rcpts
    clients: dict = {}
    apply(clients, [original])
    with session_scope(calendar) as s:
        remove_person(s, SCRUTINEER, ME, reason="contract ended", partnership="wfscp")
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    sent = _sam(smtp.recorder.received[before:], mailbox)
    [withdrawn] = [i for i in sent if i.method == "CANCEL"]
    [update] = [i for i in sent if i.method == "REQUEST"]
    assert withdrawn.rcpts == {SCRUTINEER}
    assert "no longer invited" in withdrawn.text and "CANCELLED" not in withdrawn.text
    assert withdrawn.text.startswith("Dear colleague, ")  # gone from the directory: no name
    assert update.rcpts == original.rcpts - {SCRUTINEER}
    assert update.sequence == withdrawn.sequence > original.sequence
    apply(clients, sent)
    assert not [i for i in clients[SCRUTINEER].values() if SAM in i.uid]
    assert "no longer invited: scrutineer@example.org" in update.text
    [listed] = attendee_lists(smtp.recorder.received[before:], update.sequence, "REQUEST")
    assert SCRUTINEER not in listed and listed >= update.rcpts
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-07"), smtp)  # told once: nothing more
    assert _sam(smtp.recorder.received[before:], mailbox) == []


def attendee_lists(received, sequence: int, method: str) -> list[set[str]]:
    """The ATTENDEE addresses of each SAM invite of this version and method."""
    found = []
    for r in received:
        message = email.message_from_bytes(r.data, policy=policy.default)
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            ical = icalendar.Calendar.from_ical(part.get_content())
            [event] = ical.walk("VEVENT")
            if str(ical["METHOD"]) == method and int(event["SEQUENCE"]) == sequence:
                attendees = event.get("ATTENDEE", [])
                attendees = attendees if isinstance(attendees, list) else [attendees]
                if str(event["UID"]).startswith(SAM):
                    found.append({str(a).removeprefix("mailto:").lower() for a in attendees})
    return found


def test_a_new_attendee_is_invited_and_everyone_else_sees_them_added(
    calendar, wfscp, smtp, tmp_path
):
    from govcal.models.actions import import_people

    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    [original] = _sam(smtp.recorder.received, mailbox)
    newcomer = "deputy.scrutineer@example.org"
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "people.csv").write_text(
        f"name,email,role,agency,school,acts_for\nDeputy Scrutineer,{newcomer},scrutineer,,,\n",
        encoding="utf-8",
    )
    with session_scope(calendar) as s:
        import_people(s, folder, wfscp, ME)
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    sent = _sam(smtp.recorder.received[before:], mailbox)
    [welcome] = [i for i in sent if newcomer in i.rcpts]
    [update] = [i for i in sent if newcomer not in i.rcpts]
    assert welcome.rcpts == {newcomer}
    assert "You are invited to this meeting" in welcome.text and "CHANGED" not in welcome.text
    assert update.rcpts == original.rcpts
    assert update.sequence == welcome.sequence == original.sequence + 1
    assert "added: Deputy Scrutineer" in update.text
    [listed] = attendee_lists(smtp.recorder.received[before:], update.sequence, "REQUEST")[:1]
    assert newcomer in listed
    assert "CHANGED (" not in update.text  # no old reason repeated
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-07"), smtp)
    assert _sam(smtp.recorder.received[before:], mailbox) == []


def test_a_reopened_meeting_says_reinstated(calendar, wfscp, smtp):
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    with session_scope(calendar) as s:
        cancel(s, SAM, "no quorum", ME)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    with session_scope(calendar) as s:
        reopen(s, SAM, ME, "quorum found")
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-07"), smtp)
    [back] = _sam(smtp.recorder.received[before:], mailbox)
    assert back.method == "REQUEST"
    assert "REINSTATED (quorum found)" in back.text and "CHANGED" not in back.text


def _rule_moved(tmp_path: Path, old: str, new: str):
    text = (RULES / "westmorland-furness.yaml").read_text(encoding="utf-8")
    changed = text.replace(old, new, 1)
    assert changed != text
    folder = tmp_path / f"rules-{len(list(tmp_path.glob('rules-*')))}"
    folder.mkdir()
    (folder / "westmorland-furness.yaml").write_text(changed, encoding="utf-8")
    return load_partnership("wfscp", [folder])


def test_a_rule_change_of_the_time_says_why_not_an_old_reason(calendar, wfscp, smtp, tmp_path):
    mailbox = wfscp.business_team_mailbox
    with session_scope(calendar) as s:
        reschedule(s, SAM, None, "Not merged after all", ME, location="Kendal Town Hall")
    run(calendar, wfscp, D("2026-10-05"), smtp)
    moved = _rule_moved(tmp_path, "start: 2025-04-08 14:00", "start: 2025-04-08 15:00")
    with session_scope(calendar) as s:
        sync_partnership(s, moved, D("2026-10-06"))
    before = len(smtp.recorder.received)
    run(calendar, moved, D("2026-10-06"), smtp)
    [update] = _sam(smtp.recorder.received[before:], mailbox)
    assert update.start == datetime(2026, 10, 13, 15, tzinfo=LONDON)
    assert "Not merged after all" not in update.text
    assert "CHANGED (the rule's schedule changed)" in update.text
    assert update.location == "Kendal Town Hall"


def test_a_rule_move_keeps_the_meetings_own_place(calendar, wfscp, smtp, tmp_path):
    mailbox = wfscp.business_team_mailbox
    with session_scope(calendar) as s:
        reschedule(s, SAM, None, "the usual room is closed", ME, location="Kendal Town Hall")
    run(calendar, wfscp, D("2026-10-05"), smtp)
    moved = _rule_moved(
        tmp_path,
        "every: every 2 months on the second Tuesday",
        "every: every 2 months on the second Wednesday",
    )
    with session_scope(calendar) as s:
        sync_partnership(s, moved, D("2026-10-06"))
    before = len(smtp.recorder.received)
    run(calendar, moved, D("2026-10-06"), smtp)
    sent = invites(smtp.recorder.received[before:], mailbox)
    [new] = [i for i in sent if i.uid.endswith("meeting:2026-10-14")]
    assert new.location == "Kendal Town Hall"


def test_a_first_invite_that_waited_for_a_retry_is_an_invitation(calendar, wfscp, smtp):
    """Issue 21: the meeting was moved before anyone was invited (SEQUENCE 1); the
    scrutineer's relay said "try again later"; their invite, when it goes, is their first."""
    mailbox = wfscp.business_team_mailbox
    with session_scope(calendar) as s:
        reschedule(s, SAM, datetime(2026, 10, 20, 10, tzinfo=LONDON), "chair unavailable", ME)
    smtp.recorder.defer = {SCRUTINEER}
    run(calendar, wfscp, D("2026-10-05"), smtp)
    [others] = _sam(smtp.recorder.received, mailbox)
    assert SCRUTINEER not in others.rcpts and "You are invited" in others.text
    smtp.recorder.defer = set()
    before = len(smtp.recorder.received)
    run(calendar, wfscp, D("2026-10-09"), smtp)  # after the retry wait
    [late] = _sam(smtp.recorder.received[before:], mailbox)
    assert late.rcpts == {SCRUTINEER} and late.sequence == 1
    assert "You are invited to this meeting" in late.text and "CHANGED" not in late.text


def test_a_feed_keeps_an_open_item_however_late_and_says_overdue(calendar, wfscp, tmp_path):
    """Due 30 September 2026 and never done: 152 days later it is still in the feeds,
    marked "Overdue:" (it used to vanish 90 days after its day, and say "Due:" until then)."""
    from govcal.flows.steps import publish_feeds
    from tests.test_invite_changes import feed_events

    report = "wfscp:annual-report:2026-09-30"
    with session_scope(calendar) as s:
        publish_feeds(s, [wfscp], D("2027-03-01"), tmp_path, now=datetime(2027, 3, 1, 6))
    summary, categories, _transp, status, _stamp, _alarm = feed_events(tmp_path / "wfscp.ics")[
        report
    ]
    assert summary.startswith("Overdue: ") and categories == ["Open"]
    assert status == "CONFIRMED"
    bodies = [feed_events(f) for f in sorted((tmp_path / "wfscp" / "roles").glob("*.ics"))]
    assert {b[report][0] for b in bodies if report in b} == {summary}  # its owners' feeds too


def test_every_parser_reads_the_invites_own_time_zone_block(calendar, wfscp, smtp):
    """The VTIMEZONE is the yearly-rule form (one DAYLIGHT, one STANDARD, each with an
    RRULE: Outlook reads one STANDARD only), and icalendar and vobject place a summer and
    a winter meeting right from the block alone: the TZID is renamed to one no zone
    database knows, so neither can fall back on its own copy of Europe/London."""
    import vobject

    run(calendar, wfscp, D("2026-10-05"), smtp)
    with session_scope(calendar) as s:
        reschedule(s, SAM, datetime(2027, 1, 19, 10, tzinfo=LONDON), "chair unavailable", ME)
    run(calendar, wfscp, D("2026-10-06"), smtp)
    found = []
    for r in smtp.recorder.received:
        message = email.message_from_bytes(r.data, policy=policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/calendar" and SAM in part.get_content():
                found.append(part.get_content().replace("Europe/London", "Govcal/Nowhere"))
    summer, winter = found[0], found[-1]
    for body, utc in (
        (summer, datetime(2026, 10, 13, 13, tzinfo=UTC)),
        (winter, datetime(2027, 1, 19, 10, tzinfo=UTC)),
    ):
        ical = icalendar.Calendar.from_ical(body)
        [zone] = ical.walk("VTIMEZONE")
        assert [(o.name, "RRULE" in o) for o in zone.subcomponents] == [
            ("DAYLIGHT", True),
            ("STANDARD", True),
        ]
        assert str(zone.subcomponents[0]["RRULE"].to_ical().decode()) in (
            "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        )
        [event] = ical.walk("VEVENT")
        assert event["DTSTART"].params["TZID"] == "Govcal/Nowhere"
        assert event["DTSTART"].dt.astimezone(UTC) == utc
        start = vobject.readOne(body).vevent.dtstart.value
        assert start.tzinfo is not None and start.astimezone(UTC) == utc


def _sam_uids(received) -> list[str]:
    found = []
    for r in received:
        message = email.message_from_bytes(r.data, policy=policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                uid = str(icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]["UID"])
                if uid.startswith(f"{SAM}@"):
                    found.append(uid)
    return found


def test_two_installations_never_address_the_same_event(tmp_path, wfscp, migrated_copy, smtp):
    """Issue 20: every installation wrote `...@govcal`, so a staging copy mailing real people
    would change production's events. Each fresh installation's UIDs carry its own id, the
    same for every version of one event."""
    uids = []
    for name in ("production", "staging"):
        url = migrated_copy(tmp_path / f"{name}.db")
        with session_scope(url) as s:
            import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
            sync_partnership(s, wfscp, D("2026-10-01"))
        before = len(smtp.recorder.received)
        run(url, wfscp, D("2026-10-05"), smtp)
        with session_scope(url) as s:
            reschedule(s, SAM, datetime(2026, 10, 20, 10, tzinfo=LONDON), "room", ME)
        run(url, wfscp, D("2026-10-06"), smtp)
        versions = set(_sam_uids(smtp.recorder.received[before:]))
        assert len(versions) == 1  # an update keeps its event's UID
        uids.append(versions.pop())
    production, staging = uids
    assert production != staging
    for uid in uids:
        domain = uid.rpartition("@")[2]
        assert domain.endswith(".govcal") and len(domain) == len("0123456789ab.govcal")


def test_an_upgraded_installation_keeps_the_uids_calendars_hold(tmp_path, wfscp, smtp):
    """Events that existed before the upgrade keep `...@govcal` (calendars hold them);
    events created after it carry the installation's id."""
    from alembic import command

    from govcal.flows.steps import publish_feeds
    from govcal.models.db import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, D("2026-10-01"))
    command.downgrade(alembic_config(url), "0004")  # its events as made before the change
    upgrade(url)  # then the upgrade to this version
    run(url, wfscp, D("2026-10-05"), smtp)
    assert set(_sam_uids(smtp.recorder.received)) == {f"{SAM}@govcal"}
    with session_scope(url) as s:
        sync_partnership(s, wfscp, D("2027-10-01"))  # a year on: new occurrences
        publish_feeds(s, [wfscp], D("2027-10-01"), tmp_path / "feeds", now=datetime(2027, 10, 1))
    body = icalendar.Calendar.from_ical((tmp_path / "feeds" / "wfscp.ics").read_bytes())
    domains = {
        str(e["UID"]).rpartition("@")[0]: str(e["UID"]).rpartition("@")[2]
        for e in body.walk("VEVENT")
    }
    assert domains["wfscp:lsp-meeting:2027-11-10"] == "govcal"  # existed before: kept
    assert domains["wfscp:lsp-meeting:2028-05-10"].endswith(".govcal")  # new: this installation
    assert domains["wfscp:lsp-meeting:2028-05-10"] != "govcal"


def test_a_rule_sends_first_invites_for_its_whole_horizon(calendar, wfscp, smtp):
    """The sample's joint LSP and SAM meetings say `invite_horizon: 12 months`: on 5
    October 2026 every one of them in the next year is invited (chief executives' diaries
    are booked a year ahead), not only those within 60 days; none beyond the year."""
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    first = {i.uid for i in invites(smtp.recorder.received, mailbox) if i.sequence == 0}
    lsp = sorted(u.rpartition(":")[2] for u in first if ":lsp-meeting:" in u)
    sam = sorted(u.rpartition(":")[2] for u in first if ":safeguarding-accountability-" in u)
    assert lsp == ["2026-11-11", "2027-02-10", "2027-05-12", "2027-08-11"]
    assert sam == [
        "2026-10-13",
        "2026-12-08",
        "2027-02-09",
        "2027-04-13",
        "2027-06-08",
        "2027-08-10",
    ]
    assert all(date.fromisoformat(d) <= D("2027-10-05") for d in lsp + sam)
    assert not [u for u in first if ":lsp-meeting-papers:" in u]  # deadlines: no invites


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("forever", "invite_horizon 'forever' of rule 'lsp-meeting' is not understood"),
        ("30 months", "invite_horizon '30 months' of rule 'lsp-meeting' is not understood"),
        ("0 days", "invite_horizon '0 days' of rule 'lsp-meeting' is not understood"),
    ],
)
def test_a_bad_invite_horizon_is_one_problem_naming_the_line(rule_file, value, says):
    from tests.support.rules import VALID_HEADER, VALID_RULE, problems_of

    rule = VALID_RULE.replace(
        "    evidence: Minutes\n", f"    invite_horizon: {value}\n    evidence: Minutes\n"
    )
    path = rule_file(VALID_HEADER + rule)
    [problem] = problems_of(path)
    assert problem.message.startswith(says) and "e.g. '12 months'" in problem.message
    line = path.read_text(encoding="utf-8").splitlines()[problem.line - 1]
    assert line.strip() == f"invite_horizon: {value}"


def test_a_deputy_gets_the_escalations_of_the_lead_they_act_for(calendar, wfscp, smtp):
    """The directory says the DCS acts for the council's chief executive (acts_for): each
    escalation to the chief executive reaches the DCS too, marked as a deputy's copy."""
    run(calendar, wfscp, D("2026-11-24"), smtp)
    lead, deputy = "lsp-wfc@example.org", "dsp-wfc@example.org"
    lead_text = smtp.recorder.digest_to(lead)
    deputy_text = " ".join(smtp.recorder.digest_to(deputy).split())  # unwrapped
    assert "escalated to you" in lead_text and "as deputy" not in lead_text
    marked = (
        "you receive this as deputy for Chief Executive, Westmorland and Furness Council "
        "(sample) (Lead Safeguarding Partners)"
    )
    assert marked in deputy_text
    escalated = [
        line.split(". ", 1)[1].split(" — ")[0]
        for line in lead_text.splitlines()
        if line[:1].isdigit() and ". " in line
    ]
    assert escalated and all(title in deputy_text for title in escalated)
    assert "Sent to you as: " in deputy_text and "deputy for Chief Executive" in deputy_text


def test_a_deputy_gets_a_copy_of_the_invite_of_the_person_they_act_for(
    calendar, wfscp, smtp, tmp_path
):
    from govcal.models.actions import import_people

    deputy = "deputy.scrutineer@example.org"
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "people.csv").write_text(
        "name,email,role,agency,school,acts_for\n"
        f"Deputy Scrutineer,{deputy},non-statutory-partners,,,{SCRUTINEER}\n",
        encoding="utf-8",
    )
    with session_scope(calendar) as s:
        import_people(s, folder, wfscp, ME)
    mailbox = wfscp.business_team_mailbox
    run(calendar, wfscp, D("2026-10-05"), smtp)
    october = [i for i in _sam(smtp.recorder.received, mailbox) if i.uid.endswith("10-13")]
    [copy] = [i for i in october if deputy in i.rcpts]
    [others] = [i for i in october if deputy not in i.rcpts]
    assert copy.rcpts == {deputy} and SCRUTINEER in others.rcpts
    assert (
        "You receive this as deputy for Independent Scrutineer (sample) (Independent Scrutineer)."
    ) in copy.text
    assert "as deputy" not in others.text
    [listed] = attendee_lists(smtp.recorder.received, 0, "REQUEST")[:1]
    assert deputy in listed and SCRUTINEER in listed
