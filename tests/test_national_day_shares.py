"""Shares of the national day send only their own partnerships' messages: a share that
delivers while another share's messages wait in the ledger leaves them for that share,
so no message is dropped as "no longer due" or sent by a run that cannot render it."""

from __future__ import annotations

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
