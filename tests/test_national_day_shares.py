"""Shares of the national day send only their own partnerships' messages: a share that
delivers while another share's messages wait in the ledger leaves them for that share,
so no message is dropped as "no longer due" or sent by a run that cannot render it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from bench.generate import generate
from govcal.flows.national import shares_of
from govcal.flows.steps import notify, plan, record
from govcal.models.calendar import OccurrenceRow
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.ledger import LedgerEntry
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import FileOutbox
from govcal.rules.loader import load_partnerships

DAY = date(2026, 11, 24)
SEVEN = datetime(2026, 11, 24, 7, tzinfo=UTC)
SENDER = Sender("Business team", "business@example.org")


@pytest.fixture
def two_partnerships(tmp_path, migrated_copy):
    data = tmp_path / "national"
    generate(data, partnerships=2, schools=40)
    first, second = load_partnerships([data / "rules"])
    url = migrated_copy(tmp_path / "national.db")
    with session_scope(url) as s:
        for p in (first, second):
            import_directory(s, data / "directory" / p.id, p, actor="test")
            sync_partnership(s, p, DAY, actor="test")
    return url, first, second


def statuses(url: str, partnership: str) -> list[str]:
    with session_scope(url) as s:
        theirs = select(OccurrenceRow.id).where(OccurrenceRow.partnership_id == partnership)
        return list(
            s.exec(select(LedgerEntry.status).where(col(LedgerEntry.occurrence_id).in_(theirs)))
        )


def test_a_share_leaves_another_shares_waiting_messages_to_it(two_partnerships, tmp_path):
    url, first, second = two_partnerships
    with session_scope(url) as s:  # the second share has planned its day, not yet sent
        record(s, plan(s, [second], DAY))
    before = sorted(statuses(url, second.id))
    assert "pending" in before

    with session_scope(url) as s:
        notify(
            s,
            [first],
            DAY,
            FileOutbox(tmp_path / "first"),
            SENDER,
            now=SEVEN,
            share=True,
            settings=get_settings(),
        )
    assert sorted(statuses(url, second.id)) == before  # untouched: not skipped, not sent
    assert "pending" not in statuses(url, first.id)

    with session_scope(url) as s:
        notify(
            s,
            [second],
            DAY,
            FileOutbox(tmp_path / "second"),
            SENDER,
            now=SEVEN,
            share=True,
            settings=get_settings(),
        )
    after = statuses(url, second.id)
    assert "pending" not in after and after.count("sent") == before.count("pending")
    sent_first = {p.name for p in (tmp_path / "first").glob("*.eml")}
    sent_second = {p.name for p in (tmp_path / "second").glob("*.eml")}
    assert sent_first and sent_second and not sent_first & sent_second


def test_the_same_partnerships_fall_in_the_same_shares_every_day():
    ids = [f"syn-{n:03d}" for n in range(23, 0, -1)]
    assert shares_of(ids, 10) == [
        [f"syn-{n:03d}" for n in range(1, 11)],
        [f"syn-{n:03d}" for n in range(11, 21)],
        ["syn-021", "syn-022", "syn-023"],
    ]


# --- a person in partnerships that fall in different shares ----------------------------


@pytest.fixture
def shared_person(tmp_path, db_url, monkeypatch):
    """Two partnerships whose directories both give a role to one person; returns the
    database URL, the two partnerships and the person's address."""
    data = tmp_path / "national"
    generate(data, partnerships=2, schools=40)
    people = data / "directory" / "syn-002" / "people.csv"
    email = "syn-001-lsp-wfc@example.org"  # the first partnership's Lead Partner
    with people.open("a", encoding="utf-8") as out:
        out.write(
            f'"Chief Executive, Westmorland and Furness Council (sample)",{email},lsp,wfc,,,yes\n'
        )
    first, second = load_partnerships([data / "rules"])
    url = db_url
    with session_scope(url) as s:
        for p in (first, second):
            import_directory(s, data / "directory" / p.id, p, actor="test")
            sync_partnership(s, p, DAY, actor="test")
    monkeypatch.setenv("GOVCAL_DATABASE_URL", url)
    monkeypatch.setenv("GOVCAL_RULES_PATH", str(data / "rules"))
    monkeypatch.setenv("GOVCAL_DEFAULT_PARTNERSHIP", "syn-001")
    monkeypatch.setenv("GOVCAL_WEB_SECRET", "s" * 40)
    return url, first, second, email


def test_a_person_in_two_shares_partnerships_reads_one_feed_with_both(shared_person, tmp_path):
    import httpx

    from govcal.flows.steps import publish_feeds
    from govcal.models.feed_tokens import FeedToken
    from govcal.models.settings import get_settings
    from tests.smtp_server import free_port
    from tests.support.web import serve

    url, first, second, email = shared_person

    def share(partnerships: list, machine: str) -> None:
        with session_scope(url) as s:
            publish_feeds(s, partnerships, DAY, tmp_path / machine)

    with ThreadPoolExecutor(2) as pool:  # the two shares at once, on two machines
        for done in [pool.submit(share, [first], "one"), pool.submit(share, [second], "two")]:
            done.result()
    with session_scope(url) as s:
        token = s.get(FeedToken, email).token  # type: ignore[union-attr]
    get_settings.cache_clear()
    port = free_port()
    serving = serve(port)
    try:
        feed = httpx.get(f"http://127.0.0.1:{port}/feeds/{token}.ics")
    finally:
        serving.stop()
    assert feed.status_code == 200
    text = feed.text.replace("\r\n ", "")  # unfolded
    uids = [line for line in text.splitlines() if line.startswith("UID:")]
    assert any("syn-001:" in u for u in uids) and any("syn-002:" in u for u in uids)
    assert len(uids) == len(set(uids))  # each event once
    assert "Synthetic Partnership 001 and Synthetic Partnership 002" in text  # its name
    assert text.count("BEGIN:VCALENDAR") == 1 and text.count("BEGIN:VTIMEZONE") <= 1
