"""Delivery against a relay that injects faults, driven by a table: stage x answer x
position in the batch. Each row runs the real notify step several times (the fault
fires once, in the first run) and counts what the relay stored per (recipient,
Message-ID): every message arrives exactly once or is reported failed, and a second copy
exists only where the end of DATA went unanswered (the documented "uncertain" case).

The relay requires STARTTLS (a certificate made here, trusted as a private CA) and
AUTH, so every stage of a session is on the table. Client timeouts are 0.5 s.
"""

from __future__ import annotations

import email
import itertools
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email import policy

import pytest
from sqlmodel import select

from govcal.flows.steps import notify
from govcal.models.db import session_scope, upgrade
from govcal.models.directory_import import import_directory
from govcal.models.ledger import LedgerEntry, recent_failures
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import Outgoing, SmtpSettings, SmtpTransport
from tests.fault_relay import (
    ANSWERS,
    PASSWORD,
    SESSION_STAGES,
    STAGES,
    USER,
    Fault,
    FaultRelayServer,
    Relay,
    make_certificate,
)
from tests.support.paths import SAMPLE_DIRECTORY

DAY = date(2026, 10, 5)  # the S11 28-day reminders: a batch of about 25 messages
SEVEN = datetime(2026, 10, 5, 7, tzinfo=UTC)
SENDER = Sender("WFSCP business team", "wfscp-business@example.org")
LATER = [timedelta(0), timedelta(minutes=10), timedelta(minutes=40), timedelta(hours=3)]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One prepared database (sample directory, synced), copied by each test."""
    from govcal.rules.loader import load_partnership

    path = tmp_path_factory.mktemp("template") / "govcal.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", load_partnership("wfscp"))
        sync_partnership(s, load_partnership("wfscp"), DAY)
    from govcal.models.db import get_engine

    get_engine(url).dispose()
    return path


@pytest.fixture
def database(template, tmp_path):
    path = tmp_path / "govcal.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def relay(certificate):
    server = FaultRelayServer(certificate)
    server.start()
    yield server
    server.stop()


def transport(server: FaultRelayServer) -> SmtpTransport:
    return SmtpTransport(
        SmtpSettings(
            "127.0.0.1",
            server.port,
            security="starttls",
            username=USER,
            password=PASSWORD,
            timeout=0.5,
            data_timeout=0.5,
            ca_file=str(server.cert),
        )
    )  # (the end of DATA too: the table's "slow" answer comes after 1.5 s)


def run(url: str, server: FaultRelayServer, day: date = DAY, now: datetime = SEVEN):
    from govcal.rules.loader import load_partnership

    with session_scope(url) as s:
        return notify(
            s,
            [load_partnership("wfscp")],
            day,
            transport(server),
            SENDER,
            now=now,
            settings=get_settings(),
        )


def ledger(url: str) -> list[LedgerEntry]:
    with session_scope(url) as s:
        return list(s.exec(select(LedgerEntry)).all())


def mail_rows(url: str) -> list[LedgerEntry]:
    return [r for r in ledger(url) if r.status not in ("skipped", "flagged")]


def assert_each_message_once_or_failed(url: str, relay: Relay, uncertain: set[int]) -> None:
    """Every mail row is sent or failed; each sent row's (recipient, Message-ID) is held
    once by the relay, twice at most if it went through the uncertain window; a failed
    row's recipient holds no copy of it."""
    copies = relay.copies()
    rows = mail_rows(url)
    assert rows, "nothing was planned"
    assert Counter(r.status for r in rows).keys() <= {"sent", "failed"}, Counter(
        r.status for r in rows
    )
    for row in rows:
        if row.status != "sent":
            continue
        held = [
            n
            for (rcpt, mid), n in copies.items()
            if rcpt == row.recipient.lower() and row.message_key in mid
        ]
        assert held, f"lost: {row.stage} to {row.recipient}"
        assert held[0] <= (2 if row.id in uncertain else 1), f"doubled: {row.recipient}"
    doubled = [key for key, n in copies.items() if n > 1]
    assert len(doubled) <= len(uncertain)
    sent = {(r.recipient.lower(), r.message_key) for r in rows if r.status == "sent"}
    for rcpt, mid in copies:  # no stray copy: a second copy under another Message-ID
        assert any(who == rcpt and key in mid for who, key in sent), f"stray: {rcpt} {mid}"


def row_params():
    for stage, answer in itertools.product(STAGES, ANSWERS):
        for position in (0, 3):
            yield pytest.param(Fault(stage, answer, position), id=f"{stage}-{answer}-at-{position}")


@pytest.mark.parametrize("fault", list(row_params()))
def test_every_message_arrives_once_or_is_reported_failed(database, relay, fault):
    relay.relay.fault = fault
    first = run(database, relay)
    assert relay.relay.fired, "the fault never fired: the row tests nothing"
    uncertain = {r.id for r in ledger(database) if r.status == "uncertain"}
    reports = [first] + [run(database, relay, now=SEVEN + wait) for wait in LATER[1:]]
    assert_each_message_once_or_failed(database, relay.relay, uncertain)
    failed = [r for r in mail_rows(database) if r.status == "failed"]
    permanent = fault.answer == "5xx" and fault.stage not in SESSION_STAGES
    assert bool(failed) == permanent  # 5xx in a transaction fails; nothing else does
    if permanent:  # reported with the relay's answer, and not tried again
        assert first.delivery.rows_refused == len(failed)
        assert all("injected" in (r.last_error or "") for r in failed)
        assert sum(r.delivery.rows_refused for r in reports[1:]) == 0
    unanswered = fault.stage == "after DATA" and fault.answer in ("drop", "slow")
    assert bool(uncertain) == unanswered  # only an unanswered end of DATA is uncertain
    assert relay.relay.logins_without_tls == 0


def test_a_refusal_at_data_is_permanent_and_never_stops_the_rest(database, relay):
    """Found: 554 at DATA was retried for ever and, after three, stopped the batch."""
    relay.relay.fault = Fault("after DATA", "5xx", 0)
    report = run(database, relay)
    assert report.delivery.rows_refused >= 1
    assert report.delivery.messages_sent == len(relay.relay.stored) > 20  # the rest all went
    with session_scope(database) as s:
        failures = recent_failures(s, SEVEN - timedelta(1))
    assert len(failures) == report.delivery.rows_refused  # the dashboard's query...
    assert all("554 5.6.0 injected" in f.answer for f in failures)  # ...with the answer
    again = run(database, relay, now=SEVEN + timedelta(hours=1))
    assert again.delivery.rows_refused == 0  # never retried
    told = [s for s in relay.relay.stored[-2:] if b"could not be delivered" in s.data]
    assert sorted(s.rcpt_tos[0] for s in told) == [
        "business-team@example.org",
        "partnership-manager@example.org",
    ]


def test_a_message_that_cannot_be_built_is_reported_not_retried_for_ever(database, relay):
    """An address stored before the input checks held a control character. Its rows are
    refused once and reported to the business team like a relay's refusal (the relay
    took the ESC before), never put in a message with others (a meeting's invite to
    everyone), and never tried again."""
    from sqlalchemy import text

    with session_scope(database) as s:
        s.connection().execute(
            text(
                "UPDATE person SET email = replace(email, '@', char(27) || '@') "
                "WHERE email LIKE '%nwas%'"
            )
        )
    first = run(database, relay)
    broken = [r for r in mail_rows(database) if "\x1b" in r.recipient]
    assert broken, "the damaged address was planned a message"
    assert all(r.status == "failed" for r in broken)
    assert all("control character" in (r.last_error or "") for r in broken)
    assert first.delivery.rows_refused == len(broken)  # the others' messages all went
    assert first.delivery.messages_sent == len(relay.relay.stored) > 20  # the rest all went
    again = run(database, relay, now=SEVEN + timedelta(hours=3))
    assert again.delivery.rows_refused == 0  # not tried again
    run(database, relay, day=DAY + timedelta(1), now=SEVEN + timedelta(1))
    told = [m for m in relay.relay.stored if b"could not be delivered" in m.data]
    assert told and b"control character" in told[0].data  # in the team's next digest


def test_a_temporary_refusal_at_rcpt_is_retried_and_delivered(database, relay):
    """Found: 450 at RCPT was recorded as a permanent failure."""
    relay.relay.fault = Fault("RCPT", "4xx", 0)
    first = run(database, relay)
    assert first.delivery.rows_refused == 0 and first.delivery.rows_retry == 1
    run(database, relay, now=SEVEN + timedelta(minutes=5))
    assert [r.status for r in mail_rows(database)].count("sent") == len(mail_rows(database))


@pytest.mark.parametrize("answer", ["drop", "slow"])
def test_stored_then_unanswered_is_not_resent_in_the_same_run(database, relay, answer):
    """Found: a relay that stored the message and dropped the link (or answered after
    the timeout) got it 2 or 3 times in one run. Now: once in the run; the next run
    resends it with the same Message-ID (the one at-least-once window)."""
    relay.relay.fault = Fault("after DATA", answer, 2)
    run(database, relay)
    copies = relay.relay.copies()
    assert max(copies.values()) == 1
    uncertain = [r for r in ledger(database) if r.status == "uncertain"]
    assert len({r.message_key for r in uncertain}) == 1  # one message, its recipients
    run(database, relay, now=SEVEN + timedelta(minutes=5))
    again = relay.relay.copies()
    doubled = [key for key, n in again.items() if n == 2]
    assert {rcpt for rcpt, _mid in doubled} == {r.recipient.lower() for r in uncertain}
    assert all(uncertain[0].message_key in mid for _rcpt, mid in doubled)  # same Message-ID
    assert max(again.values()) == 2


def test_idna_domains_go_and_a_bad_recipient_fails_alone_without_503(tmp_path, certificate):
    """Found: `aaa1@exämple.org` raised mid-conversation and every later message got
    "503 nested MAIL". Now the domain goes as IDNA; a non-ASCII mailbox name uses
    SMTPUTF8 where offered, and otherwise that recipient alone fails for good."""
    for smtputf8 in (True, False):
        server = FaultRelayServer(certificate, Relay(smtputf8=smtputf8))
        server.start()
        try:
            client = transport(server)
            data = b"Message-ID: <m1@govcal>\r\nSubject: t\r\n\r\nhello\r\n"
            both = ["aaa1@exämple.org", "jörg@example.org"]
            first = client.send(Outgoing("m1", SENDER.email, both, data))
            second = client.send(
                Outgoing("m2", SENDER.email, ["ok@example.org"], data.replace(b"m1", b"m2"))
            )
            client.close()
        finally:
            server.stop()
        assert second.accepted == ["ok@example.org"]  # the session was not left broken
        held = {(rcpt, s.message_id) for s in server.relay.stored for rcpt in s.rcpt_tos}
        assert ("aaa1@xn--exmple-cua.org", "<m1@govcal>") in held
        if smtputf8:
            assert first.accepted == ["aaa1@exämple.org", "jörg@example.org"]
        else:
            assert first.accepted == ["aaa1@exämple.org"]
            assert first.refused["jörg@example.org"].startswith("553 5.6.7")


def test_a_run_stops_at_its_time_budget_and_the_next_run_carries_on(database, relay):
    from govcal.rules.loader import load_partnership

    counts = []
    for hour in range(3):
        with session_scope(database) as s:
            report = notify(
                s,
                [load_partnership("wfscp")],
                DAY,
                transport(relay),
                SENDER,
                now=SEVEN + timedelta(hours=hour),
                budget=timedelta(0),
                settings=get_settings(),
            )
        counts.append(report.delivery.messages_sent)
    assert counts == [1, 1, 1]  # the first message always goes; the rest wait, unharmed
    assert max(relay.relay.copies().values()) == 1
    left = [r for r in mail_rows(database) if r.status == "pending"]
    assert left and all(r.attempts == 0 for r in left)  # not counted as failed attempts


def test_soak_twenty_runs_of_random_faults_then_a_clean_run(database, relay):
    """20 daily runs, each with one fault drawn from the table (seeded), then a clean
    run: nothing lost, nothing doubled beyond the uncertain rule."""
    rng = random.Random(20261125)
    uncertain: set[int] = set()
    for i in range(20):
        relay.relay.fault = Fault(rng.choice(STAGES), rng.choice(ANSWERS), rng.randrange(4))
        relay.relay.fired = False
        relay.relay.messages_seen = 0
        day = DAY + timedelta(days=i)
        run(database, relay, day=day, now=SEVEN + timedelta(days=i))
        uncertain |= {r.id for r in ledger(database) if r.status == "uncertain"}
    relay.relay.fault = None
    last = DAY + timedelta(days=21)
    run(database, relay, day=last, now=SEVEN + timedelta(days=21))
    assert_each_message_once_or_failed(database, relay.relay, uncertain)
    assert len(mail_rows(database)) > 40


def test_notify_exits_3_when_mail_waits_and_4_when_mail_was_refused(
    database, relay, template, tmp_path
):
    """Found: `govcal notify` exited 0 with nothing delivered and everything to retry."""
    env = {
        **os.environ,
        "GOVCAL_DATABASE_URL": database,
        "GOVCAL_TRANSPORT": "SMTP",
        "GOVCAL_SMTP_PORT": str(relay.port),
        "GOVCAL_SMTP_SECURITY": "STARTTLS",
        "GOVCAL_SMTP_USERNAME": USER,
        "GOVCAL_SMTP_PASSWORD": PASSWORD,
        "GOVCAL_SMTP_CA_FILE": str(relay.cert),
        "GOVCAL_SMTP_TIMEOUT": "0.5",
    }

    def notify_cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "govcal.cli", "notify", "--as-of", str(DAY)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    relay.relay.fault = Fault("connect", "4xx", 0)  # the relay is not taking mail
    down = notify_cli()
    assert down.returncode == 3, down.stderr
    assert "Delivered 0 message(s)" in down.stdout and "0 refused" in down.stdout

    other = tmp_path / "other.db"
    shutil.copy(template, other)
    env["GOVCAL_DATABASE_URL"] = f"sqlite:///{other}"
    relay.relay.fault, relay.relay.fired = Fault("after DATA", "5xx", 1), False
    refused = notify_cli()
    assert refused.returncode == 4, refused.stderr
    # the refused message is one email, to one person or (an invite) to each attendee:
    # the summary counts every recipient refused, and each is named with the relay's answer
    named = [
        line
        for line in refused.stdout.splitlines()
        if line.startswith("  ! ") and "injected" in line
    ]
    assert named and f"0 to retry, {len(named)} refused." in refused.stdout
    assert PASSWORD not in refused.stdout + refused.stderr + down.stdout + down.stderr


def test_a_rerun_inside_the_retry_wait_exits_3_and_says_what_waits_until_when(database, relay):
    """Found: a rerun a minute after the relay was down exited 0 with "0 to retry" while
    every notice waited for its backoff. It exits 3 now, saying how many wait, and until
    when."""
    env = {
        **os.environ,
        "GOVCAL_DATABASE_URL": database,
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_PORT": str(relay.port),
        "GOVCAL_SMTP_USERNAME": USER,
        "GOVCAL_SMTP_PASSWORD": PASSWORD,
        "GOVCAL_SMTP_CA_FILE": str(relay.cert),
        "GOVCAL_SMTP_TIMEOUT": "0.5",
    }
    command = [sys.executable, "-m", "govcal.cli", "notify", "--as-of", str(DAY)]
    relay.relay.fault = Fault("connect", "4xx", 0)  # down for the first run
    down = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 3, down.stderr
    waiting = [r for r in mail_rows(database) if r.status == "pending"]
    relay.relay.fault = None  # back up, but the rows wait for their backoff (a minute)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 3, rerun.stdout + rerun.stderr
    first = min(r.next_attempt_at for r in waiting if r.next_attempt_at)
    assert (
        f"{len(waiting)} notice(s) wait to be retried after a temporary failure; the first "
        f"is due again at {first:%Y-%m-%d %H:%M} UTC"
    ) in rerun.stdout
    assert not relay.relay.stored  # nothing was sent early


def test_a_reschedule_while_invites_wait_sends_each_attendee_one_latest_invite(database, relay):
    """Found: a meeting moved while its first invites were still pending (relay down)
    sent each attendee two "Updated" invites with different Message-IDs."""
    from zoneinfo import ZoneInfo

    import vobject

    from govcal.models.records import Actor, reschedule

    meeting = "wfscp:safeguarding-accountability-meeting:2026-10-13"
    relay.relay.fault = Fault("connect", "4xx", 0)  # the relay is down for the first run
    run(database, relay)
    waiting = [r for r in ledger(database) if r.kind == "invite" and r.status == "pending"]
    assert waiting and not relay.relay.stored
    with session_scope(database) as s:
        reschedule(
            s,
            meeting,
            datetime(2026, 10, 20, 10, tzinfo=ZoneInfo("Europe/London")),
            "chair unavailable",
            Actor("business.team@example.org"),
        )
    run(database, relay, day=date(2026, 10, 6), now=SEVEN + timedelta(days=1))
    invites: dict[str, list[tuple[str, int]]] = {}
    for stored in relay.relay.stored:
        message = email.message_from_bytes(stored.data, policy=policy.default)
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            event = vobject.readOne(part.get_content()).vevent
            if event.uid.value.rpartition("@")[0] == meeting:
                for rcpt in stored.rcpt_tos:
                    invites.setdefault(rcpt, []).append(
                        (str(message["Message-ID"]), int(event.sequence.value))
                    )
    assert invites and all(len(got) == 1 for got in invites.values()), invites
    assert {seq for got in invites.values() for _mid, seq in got} == {1}
    skipped = [r for r in ledger(database) if r.stage == "invite-0" and r.status == "skipped"]
    assert {r.recipient for r in skipped} == set(invites)


def _slow_relay_transport(server, data_timeout: float) -> SmtpTransport:
    return SmtpTransport(
        SmtpSettings(
            "127.0.0.1", server.port, security="none", timeout=0.2, data_timeout=data_timeout
        )
    )


def _notify_through(
    url: str,
    server,
    now: datetime,
    *,
    data_timeout: float,
    budget: timedelta = timedelta(minutes=20),
):
    from govcal.rules.loader import load_partnership

    with session_scope(url) as s:
        return notify(
            s,
            [load_partnership("wfscp")],
            DAY,
            _slow_relay_transport(server, data_timeout),
            SENDER,
            now=now,
            budget=budget,
            settings=get_settings(),
        )


def test_a_relay_slow_to_answer_the_end_of_data_is_waited_for_not_sent_twice(database, smtp):
    """Found: GOVCAL_SMTP_TIMEOUT also bounded the wait for the answer to the end of
    DATA, so a relay taking longer than it over every message made every message
    "uncertain" and resent. The final answer now has its own, longer wait."""
    smtp.recorder.late = 0.4  # beyond the 0.2 s for each other answer
    report = _notify_through(database, smtp, SEVEN, data_timeout=5)
    assert report.delivery.rows_retry == 0 and report.delivery.rows_uncertain == 0
    again = _notify_through(database, smtp, SEVEN + timedelta(hours=1), data_timeout=5)
    assert again.delivery.messages_sent == 0
    ids = Counter(r.message["Message-ID"] for r in smtp.recorder.received)
    assert len(ids) == report.delivery.messages_sent > 20 and max(ids.values()) == 1


def test_a_relay_never_answering_in_time_gets_each_message_twice_at_most(database, smtp):
    """Found: a relay slow on every run got 3 copies of each message after 3 runs
    (README: "resent once"). Resent once; unanswered again, the rows fail with the
    reason (the business team is told) and are never sent a third time."""
    smtp.recorder.late = 0.5  # beyond even the wait for the end of DATA (0.3 s)
    for hours in range(4):
        _notify_through(database, smtp, SEVEN + timedelta(hours=hours), data_timeout=0.3)
    copies = Counter(
        (rcpt.lower(), r.message["Message-ID"])
        for r in smtp.recorder.received
        for rcpt in r.rcpt_tos
        if "failure" not in r.message["Message-ID"]
    )
    assert copies and max(copies.values()) == 2
    given_up = [r for r in mail_rows(database) if r.kind != "failure"]
    assert given_up and all(r.status == "failed" for r in given_up)
    assert all("not sent again" in (r.last_error or "") for r in given_up)


def test_resends_go_after_new_messages_and_never_starve_them(database, smtp):
    """Found: the resends went first and used the run's time budget, so the Lead
    Partners' escalations behind them were never sent. New messages go first now."""
    smtp.recorder.late = 0.5
    first = _notify_through(database, smtp, SEVEN, data_timeout=0.3, budget=timedelta(seconds=1))
    uncertain = {r.message_key for r in ledger(database) if r.status == "uncertain"}
    assert uncertain and first.delivery.rows_retry > first.delivery.rows_uncertain  # some untried
    smtp.recorder.late = 0
    before = len(smtp.recorder.received)
    _notify_through(
        database, smtp, SEVEN + timedelta(hours=1), data_timeout=0.3, budget=timedelta(0)
    )  # room for one message: it must be a new one
    [sent] = smtp.recorder.received[before:]
    assert not any(key in sent.message["Message-ID"] for key in uncertain)
