"""Days are the partnership's days: the CLI's today and the day an item was closed follow
the time zone its rule file names, not a London constant (issue 14)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import time_machine

from models.calendar import Lifecycle, OccurrenceRow
from models.status import StatusRow, status_of
from tests.support.rules import VALID_HEADER, VALID_RULE

AUCKLAND = ZoneInfo("Pacific/Auckland")


def test_the_cli_today_is_the_default_partnerships_day(rule_file, monkeypatch):
    from govcal.cli.common import home_zone, today
    from models.settings import get_settings

    path = rule_file(VALID_HEADER.replace("Europe/London", "Pacific/Auckland") + VALID_RULE)
    monkeypatch.setenv("GOVCAL_RULES_PATH", str(path))
    monkeypatch.setenv("GOVCAL_DEFAULT_PARTNERSHIP", "testscp")
    get_settings.cache_clear()
    assert home_zone() == AUCKLAND
    with time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), tick=False):
        assert today() == date(2026, 11, 25)  # already tomorrow in Auckland


def test_the_day_an_item_was_waived_is_the_partnerships_day():
    row = OccurrenceRow(
        public_id="testscp:annual-report:2026", partnership_id="testscp",
        rule_id="annual-report", period="2026", title="Annual report", kind="deadline",
        due=date(2026, 11, 30), lifecycle=Lifecycle.WAIVED.value,
        updated_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    )  # fmt: skip
    status = status_of(row, date(2026, 11, 26), zone=AUCKLAND)
    assert StatusRow(row, status, AUCKLAND).closed() == date(2026, 11, 25)
    assert StatusRow(row, status).closed() == date(2026, 11, 24)  # the rule files' default
    assert StatusRow(row, status, AUCKLAND).as_json()["closed_on"] == "2026-11-25"
