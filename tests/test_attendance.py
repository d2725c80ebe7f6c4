"""Who is coming, and quorum: the answers recorded (models/attendance.py, the one entry
point for the mailbox and a link in the email) as the cockpit's summary shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from govcal.flows.dashboard import build_all
from govcal.flows.steps import notify
from govcal.models import ledger
from govcal.models.attendance import Answer, AnswerRefused, AnswerSource, record_answer
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import FileOutbox
from tests.support.markdown import as_shown
from tests.support.paths import SAMPLE_DIRECTORY

LSP = "wfscp:lsp-meeting:2026-11-11"
STAMP = datetime(2026, 10, 2, 9, tzinfo=UTC)
SAMPLE_RULES = (
    SAMPLE_DIRECTORY.parent.parent / "rules" / "partnerships" / "westmorland-furness.yaml"
)


@pytest.fixture
def invited(tmp_path, wfscp, db_url):
    """The sample partnership with its invites of 1 October 2026 sent, on SQLite and on
    PostgreSQL: (url, LSP meeting
    id, the quorum's addresses: the co-chairs and the Lead Safeguarding Partners)."""
    from govcal.models.notify_inputs import directory

    url = db_url  # a SQLite file, then a real PostgreSQL
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, date(2026, 10, 1))
    with session_scope(url) as s:
        notify(
            s,
            [wfscp],
            date(2026, 10, 1),
            FileOutbox(tmp_path / "outbox"),
            Sender("govcal", "govcal@example.org"),
            now=datetime(2026, 10, 1, 7, tzinfo=UTC),
            settings=get_settings(),
        )
    with session_scope(url) as s:
        from govcal.models.mailbox import meeting_of

        meeting = meeting_of(s, LSP)[0]
        people = directory(s, ["wfscp"])
        quorum = [c.email.lower() for r in ("co-chairs", "lsp") for c in people.of("wfscp", r)]
        assert set(quorum) <= set(ledger.invitees(s, [meeting])[meeting])
    return url, meeting, list(dict.fromkeys(quorum))


def answer(url, meeting, who, said, deputy=None):
    with session_scope(url) as s:
        return record_answer(
            s,
            occurrence_id=meeting,
            attendee=who,
            answer=said,
            sequence=0,
            answered_at=STAMP,
            source=AnswerSource.LINK,
            deputy=deputy,
        )


def summary(url, wfscp, day: date) -> str:
    with session_scope(url) as s:
        return build_all(s, [wfscp], day)[0].markdown()


def test_the_cockpit_says_who_is_coming_and_quorum_at_risk_five_working_days_before(invited, wfscp):
    url, meeting, quorum = invited
    coming, declined, deputised, *silent = quorum
    answer(url, meeting, coming, Answer.COMING)
    answer(url, meeting, declined, Answer.NOT_COMING)
    answer(url, meeting, deputised, Answer.DEPUTY, deputy="deputy@example.org")
    early = summary(url, wfscp, date(2026, 11, 3))  # 6 working days before
    assert "## Who is coming" in early
    assert "Quorum at risk" not in early
    text = as_shown(summary(url, wfscp, date(2026, 11, 4)))  # 5 working days before
    line = next(x for x in text.splitlines() if "11 Nov 2026: " in x)
    assert "1 coming, 1 deputy, 1 not coming" in line
    risk = next(x for x in text.splitlines() if "Quorum at risk" in x)
    name = names(url)  # each named as the directory names them, with the address
    assert f"declined without a deputy: {name[declined]} <{declined}>" in risk
    assert all(f"{name[p]} <{p}>" in risk for p in silent)
    assert coming not in risk and deputised not in risk


def names(url) -> dict[str, str]:
    from govcal.models.notify_inputs import directory

    with session_scope(url) as s:
        people = directory(s, ["wfscp"])
    return {c.email.lower(): c.name for r in ("co-chairs", "lsp") for c in people.of("wfscp", r)}


def test_an_answer_is_refused_from_someone_not_invited_and_for_a_version_never_sent(invited):
    url, meeting, _ = invited
    with pytest.raises(AnswerRefused, match="was never sent an invite"):
        answer(url, meeting, "stranger@example.net", Answer.COMING)
    with session_scope(url) as s, pytest.raises(AnswerRefused, match="has no version 3"):
        record_answer(
            s,
            occurrence_id=meeting,
            attendee="x@example.org",
            answer=Answer.COMING,
            sequence=3,
            answered_at=STAMP,
            source=AnswerSource.LINK,
        )


def test_a_later_answer_replaces_an_earlier_one_never_the_reverse(invited):
    url, meeting, quorum = invited
    who = quorum[0]
    with session_scope(url) as s:
        later = datetime(2026, 10, 3, tzinfo=UTC)
        record_answer(
            s,
            occurrence_id=meeting,
            attendee=who,
            answer=Answer.NOT_COMING,
            sequence=0,
            answered_at=later,
            source=AnswerSource.LINK,
        )
    stale = answer(url, meeting, who, Answer.COMING)  # dated before: an old reply arriving late
    assert not stale.changed
    from govcal.models.attendance import answers

    with session_scope(url) as s:
        assert answers(s, [meeting])[meeting][who].answer is Answer.NOT_COMING


def test_a_quorum_role_must_be_invited_and_only_on_meetings(rule_file):
    from govcal.rules.loader import RuleFileError, load_partnerships

    path = SAMPLE_RULES.read_text().replace(
        "    quorum: [co-chairs, lsp]", "    quorum: [co-chairs, scrutineer, agency-lead]"
    )
    bad = rule_file(path, "westmorland-furness.yaml")
    with pytest.raises(RuleFileError) as refused:
        load_partnerships([bad])
    assert "quorum role 'agency-lead' of rule 'lsp-meeting' is neither its owner nor among" in str(
        refused.value
    )


def test_after_the_meeting_the_business_team_records_who_attended_prefilled_from_answers(
    invited, monkeypatch
):
    import subprocess

    from tests.support.paths import GOVCAL, ROOT

    url, meeting, quorum = invited
    answer(url, meeting, quorum[0], Answer.COMING)
    answer(url, meeting, quorum[1], Answer.DEPUTY, deputy="deputy@example.org")
    env = {"GOVCAL_DATABASE_URL": url, "GOVCAL_ACTOR": "business team"}
    import os

    def govcal(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*GOVCAL, "attendance", *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )

    early = govcal("record", LSP, "--as-of", "2026-11-10")
    assert early.returncode == 1 and "record who attended after it" in early.stderr
    done = govcal("record", LSP, "--as-of", "2026-11-11")
    assert done.returncode == 0, done.stderr
    assert f"{LSP}: 2 attended" in done.stdout
    shown = govcal("show", LSP).stdout
    assert f"{quorum[0]}: coming; attended" in shown
    assert f"{quorum[1]}: deputy: deputy@example.org instead; absent" in shown
    assert f"{quorum[2]}: no answer; absent" in shown
    stranger = govcal("record", LSP, "--as-of", "2026-11-11", "--present", "who@example.net")
    assert stranger.returncode == 1 and "nothing was recorded" in stranger.stderr


def test_the_evidence_pack_shows_the_years_attendance_by_organisation_and_meeting(invited):
    from govcal.models.attendance import record_attended
    from govcal.notifications.pack import build_pack, render_html, render_markdown

    url, meeting, quorum = invited
    with session_scope(url) as s:
        record_attended(s, LSP, quorum[:2], by="business team", today=date(2026, 11, 11))
    with session_scope(url) as s:
        pack = build_pack(s, "wfscp", 2026, date(2026, 12, 31))
    text = render_markdown(pack)
    section = text.split("## Attendance at meetings")[1].split("## Every obligation")[0]
    present, of = pack.attendance.by_meeting[
        "Joint Lead Safeguarding Partners meeting (with Cumberland SCP), 11/11/2026"
    ]
    assert (present, of) == (2, len(pack_invitees(url, meeting)))
    assert f"| 2 of {of} |" in section
    assert " of 1 |" in section  # each organisation: meetings attended of meetings invited to
    organisations = pack.attendance.by_organisation
    assert organisations["Westmorland and Furness Council"] == (1, 1)
    assert organisations["Cumbria Constabulary"] == (0, 1)
    assert "| Cumbria Constabulary | 0 of 1 |" in section
    assert "Attendance at meetings" in render_html(pack)


def pack_invitees(url, meeting) -> list[str]:
    with session_scope(url) as s:
        return ledger.invitees(s, [meeting])[meeting]


def test_the_business_teams_digest_warns_of_quorum_at_risk_once_per_meeting(
    invited, wfscp, tmp_path
):
    import email

    url, meeting, quorum = invited
    answer(url, meeting, quorum[0], Answer.COMING)
    answer(url, meeting, quorum[1], Answer.NOT_COMING)
    outbox = tmp_path / "later"

    def run(day: date) -> list[str]:
        before = set(outbox.glob("*.eml")) if outbox.exists() else set()
        with session_scope(url) as s:
            notify(
                s,
                [wfscp],
                day,
                FileOutbox(outbox),
                Sender("govcal", "govcal@example.org"),
                now=datetime.combine(day, datetime.min.time(), UTC).replace(hour=7),
                settings=get_settings(),
            )
        texts = []
        for path in set(outbox.glob("*.eml")) - before:
            message = email.message_from_bytes(path.read_bytes())
            if "business-team@example.org" in message["To"]:
                texts += [
                    " ".join(p.get_payload(decode=True).decode().split())
                    for p in message.walk()
                    if p.get_content_type() == "text/plain"
                ]
        return texts

    assert not any("Quorum at risk" in t for t in run(date(2026, 11, 3)))  # 6 working days
    [warned] = [t for t in run(date(2026, 11, 4)) if "Quorum at risk" in t]
    assert f"declined without a deputy: {quorum[1]}" in warned
    assert all(p in warned for p in quorum[2:]) and f"{quorum[0]}," not in warned
    assert not any("Quorum at risk" in t for t in run(date(2026, 11, 5)))  # told once
