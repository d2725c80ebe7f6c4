"""Inside a share of the national day each partnership runs on its own: a relay that
defers one partnership's mail and another's rule file that does not load stop neither
the third partnership nor each other; the share's run names who failed, the national
day asks again for those only, and what was sent is never sent twice."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date

import pytest

from govcal.prefect_env import configure_prefect

configure_prefect()

from prefect.client.orchestration import get_client  # noqa: E402

from bench.generate import generate  # noqa: E402
from govcal.flows.national import NO_RULES, Share, daily_share, failed_in, summary  # noqa: E402
from govcal.models.db import session_scope  # noqa: E402
from govcal.models.directory_import import import_directory  # noqa: E402
from govcal.models.settings import get_settings  # noqa: E402
from govcal.models.sync import sync_partnership  # noqa: E402
from govcal.models.types import utcnow  # noqa: E402
from govcal.rules.loader import load_partnerships  # noqa: E402

DAY = date(2026, 11, 24)
pytestmark = pytest.mark.xdist_group("prefect")


def addresses(folder) -> set[str]:
    with (folder / "people.csv").open(encoding="utf-8") as f:
        return {row["email"].lower() for row in csv.DictReader(f)}


@pytest.fixture
def three(prefect_api, tmp_path, migrated_copy, smtp, monkeypatch):
    """Three partnerships imported and synced, sending through the real SMTP server;
    returns the generated data folder."""
    data = tmp_path / "national"
    generate(data, partnerships=3, schools=60)
    url = migrated_copy(tmp_path / "national.db")
    with session_scope(url) as s:
        for p in load_partnerships([data / "rules"]):
            import_directory(s, data / "directory" / p.id, p, actor="test")
            sync_partnership(s, p, DAY, actor="test")
    for name, value in {
        "GOVCAL_DATABASE_URL": url,
        "GOVCAL_RULES_PATH": str(data / "rules"),
        "GOVCAL_DEFAULT_PARTNERSHIP": "syn-001",
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_HOST": "127.0.0.1",
        "GOVCAL_SMTP_PORT": str(smtp.port),
        "GOVCAL_SMTP_SECURITY": "none",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return data


def backoff_over() -> None:
    """As after the ledger's backoff: every row put off is due again now."""
    from sqlmodel import col, update

    from govcal.models.ledger import LedgerEntry

    with session_scope(get_settings()) as s:
        s.exec(
            update(LedgerEntry)
            .where(col(LedgerEntry.next_attempt_at).is_not(None))
            .values(next_attempt_at=utcnow())
        )
        s.commit()


def test_one_partnerships_relay_and_anothers_rule_file_stop_no_one(three, smtp):
    second = addresses(three / "directory" / "syn-002")
    smtp.recorder.defer = set(second)  # the relay says "try again later" to all of them
    (three / "rules" / "syn-003.yaml").write_text("partnership: [not, a, rule file\n")

    state = daily_share(["syn-001", "syn-002", "syn-003"], as_of=DAY, return_state=True)

    assert state.is_failed()
    assert "2 of 3 failed" in state.message and "syn-001" not in state.message
    assert "syn-002: " in state.message and f"syn-003: {NO_RULES}" in state.message
    first = addresses(three / "directory" / "syn-001")
    sent_to = {r.lower() for m in smtp.recorder.received for r in m.rcpt_tos}
    assert sent_to & first and not sent_to & second  # the first partnership's day went out
    with get_client(sync_client=True) as client:
        named = failed_in(state.state_details.flow_run_id, client)
    assert named == ["syn-002", "syn-003"]  # what the national day asks again for

    smtp.recorder.defer = set()  # the relay is back; a second try inside its backoff
    early = daily_share(named[:1], as_of=DAY, return_state=True)
    assert early.is_failed() and "put off by the relay" in early.message  # not "all well"

    backoff_over()
    again = daily_share(named[:1], as_of=DAY, return_state=True)
    assert again.is_completed(), again.message
    ids = [str(m.message["Message-ID"]) for m in smtp.recorder.received]
    assert max(Counter(ids).values()) == 1  # nothing sent twice
    sent_to = {r.lower() for m in smtp.recorder.received for r in m.rcpt_tos}
    assert sent_to & second

    once_more = daily_share(["syn-001", "syn-002"], as_of=DAY, return_state=True)
    assert once_more.is_completed(), once_more.message
    assert len(smtp.recorder.received) == len(ids)  # a whole share again sends nothing


def test_the_summary_names_each_partnership_by_its_last_try():
    share = Share(["syn-001", "syn-002", "syn-003"], asked=["syn-002", "syn-003"])
    share.outcome, share.failed = "failed", ["syn-003"]  # try 2 of the two failed in try 1
    late = Share(["syn-004", "syn-005"], asked=["syn-005"])  # try 2 still running
    day = summary(DAY, [share, late], {"syn-006.yaml": "nothing in syn-006.yaml runs"})
    assert day["ran"] == ["syn-001", "syn-002", "syn-004"]
    assert day["failed"] == ["syn-003", "syn-006.yaml"]
    assert day["late"] == ["syn-005"]
