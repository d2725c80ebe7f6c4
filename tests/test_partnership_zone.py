"""Days are the partnership's days: the CLI's today and the day an item was closed follow
the time zone its rule file names, not a London constant (issue 14)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import time_machine

from govcal.models.calendar import Lifecycle, OccurrenceRow
from govcal.models.status import StatusRow, status_of
from tests.support.rules import VALID_HEADER, VALID_RULE

AUCKLAND = ZoneInfo("Pacific/Auckland")
LONDON = ZoneInfo("Europe/London")


def test_the_cli_today_is_the_default_partnerships_day(rule_file, monkeypatch):
    from govcal.cli.common import home_zone, today
    from govcal.models.settings import get_settings

    path = rule_file(VALID_HEADER.replace("Europe/London", "Pacific/Auckland") + VALID_RULE)
    monkeypatch.setenv("GOVCAL_RULES_PATH", str(path))
    monkeypatch.setenv("GOVCAL_DEFAULT_PARTNERSHIP", "testscp")
    get_settings.cache_clear()
    assert home_zone() == AUCKLAND
    with time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), tick=False):
        assert today() == date(2026, 11, 25)  # already tomorrow in Auckland


def test_the_day_an_item_was_waived_is_the_partnerships_day():
    row = OccurrenceRow(
        public_id="testscp:annual-report:2026",
        partnership_id="testscp",
        rule_id="annual-report",
        period="2026",
        title="Annual report",
        kind="deadline",
        due=date(2026, 11, 30),
        lifecycle=Lifecycle.WAIVED.value,
        updated_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    )
    status = status_of(row, date(2026, 11, 26), 14, AUCKLAND)
    assert StatusRow(row, status, AUCKLAND).closed() == date(2026, 11, 25)
    assert StatusRow(row, status, LONDON).closed() == date(2026, 11, 24)  # the same instant
    assert StatusRow(row, status, AUCKLAND).as_json()["closed_on"] == "2026-11-25"


def _outbox_as_of(tmp_path, timezone: str, day: date) -> list[EmailMessage]:
    """WFSCP's real rule file moved to `timezone`, its sample directory, synced and
    notified on `day` into a file outbox: the messages as people would receive them."""
    from govcal.flows.steps import notify
    from govcal.models.db import session_scope, upgrade
    from govcal.models.directory_import import import_directory
    from govcal.models.settings import get_settings
    from govcal.models.sync import sync_partnership
    from govcal.notifications.render import Sender
    from govcal.notifications.transport import FileOutbox
    from govcal.rules.loader import PARTNERSHIPS_DIR as RULES_DIR
    from govcal.rules.loader import load_partnership
    from tests.support.paths import SAMPLE_DIRECTORY

    text = (RULES_DIR / "westmorland-furness.yaml").read_text(encoding="utf-8")
    assert "timezone: Europe/London" in text
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "wf.yaml").write_text(
        text.replace("timezone: Europe/London", f"timezone: {timezone}"), encoding="utf-8"
    )
    partnership = load_partnership("wfscp", [tmp_path / "rules"])
    url = f"sqlite:///{tmp_path / 'zone.db'}"
    upgrade(url)
    with session_scope(url) as session:
        import_directory(session, SAMPLE_DIRECTORY / "wfscp", partnership)
        sync_partnership(session, partnership, day)
    with session_scope(url) as session:
        notify(
            session,
            [partnership],
            day,
            FileOutbox(tmp_path / "outbox"),
            Sender("govcal", "govcal@example.org"),
            now=datetime.combine(day, datetime.min.time(), UTC).replace(hour=12),
            settings=get_settings(),
        )
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted((tmp_path / "outbox").glob("*.eml"))
    ]


def test_a_partnership_in_new_york_reads_new_york_times_in_emails_and_invites(tmp_path):
    """The Safeguarding Accountability Meeting is at 14:00 in the partnership's own zone:
    a New York partnership is never shown London's clock (19:00) in a digest, an
    invitation's subject and text, or its calendar file."""
    messages = _outbox_as_of(tmp_path, "America/New_York", date(2026, 10, 6))
    meeting = "Tuesday 13 October 2026, 14:00"
    digests = [m for m in messages if not _calendar_part(m)]
    lines = [
        line.strip()
        for m in digests
        for line in m.get_body(("plain",)).get_content().splitlines()
        if meeting in line
    ]
    # a digest names the worst few in full: where the meeting is one, it is New York's clock
    assert all(line.endswith(f"{meeting} (New York time): due in 7 days.") for line in lines)
    assert not any("19:00" in m.get_body(("plain",)).get_content() for m in digests)
    [invite] = [
        m
        for m in messages
        if "Safeguarding Accountability Meeting" in m["Subject"]
        and "13 October" in m["Subject"]
        and _calendar_part(m)
    ]
    assert invite["Subject"].endswith(f"{meeting} (New York time)")
    text = invite.get_body(("plain",)).get_content()
    assert f"When: {meeting} to 16:00 (New York time)" in text
    ics = _calendar_part(invite)
    assert "DTSTART;TZID=America/New_York:20261013T140000" in ics
    assert "London" not in ics and "London time" not in text
    assert all("London time" not in m.get_body(("plain",)).get_content() for m in messages)


def _calendar_part(message: EmailMessage) -> str:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return parts[0].get_content() if parts else ""


def test_status_gives_a_waived_item_the_day_of_the_partnership_that_synced_it(
    tmp_path, rule_file, migrated_copy
):
    """Without zones from the caller (`govcal status`, the dashboard's choices, the
    evaluate task), an item waived at 23:00 UTC on 24 November is closed on the 25th for
    a partnership in Auckland, and is not yet news on a replayed 24 November."""
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.status import status_rows
    from govcal.models.sync import sync_partnership
    from govcal.rules.loader import load_partnership

    path = rule_file(VALID_HEADER.replace("Europe/London", "Pacific/Auckland") + VALID_RULE)
    partnership = load_partnership("testscp", [path])
    url = migrated_copy(tmp_path / "zones.db")
    waived_at = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 12:00 on the 25th in Auckland
    with session_scope(url) as session:
        sync_partnership(session, partnership, date(2026, 11, 1))
        row = session.exec(select(OccurrenceRow).order_by(OccurrenceRow.due)).first()
        row.lifecycle, row.updated_at = Lifecycle.WAIVED.value, waived_at
        session.add(row)
    with session_scope(url) as session:
        on_the_26th = status_rows(session, date(2026, 11, 26), ahead_days=0, behind_days=1)
        on_the_24th = status_rows(session, date(2026, 11, 24), ahead_days=0)
    [shown] = [s for s in on_the_26th if s.row.lifecycle == Lifecycle.WAIVED.value]
    assert shown.zone == AUCKLAND and shown.closed() == date(2026, 11, 25)
    assert [s for s in on_the_24th if s.row.lifecycle == Lifecycle.WAIVED.value] == []
