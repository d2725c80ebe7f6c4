"""Read the partnership's mailbox back: record calendar answers, bounces and
auto-replies; move what was read to the processed folder; leave the rest for people.

A plain step (the Prefect task and `govcal mailbox` both call `read_mailbox`). Each
message is one unit of work: its Message-ID is claimed in the database (a second
reader, or a second run, finds it claimed and records nothing), what it says is
recorded, and the whole is committed before the message is moved. A message recorded
but not yet moved (a crash between the two) is moved by the next run, not recorded
twice. Nothing read here is ever answered: no mail goes back to a sender.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from govcal.flows.steps import tell_the_business_team
from govcal.models import bounces, ledger, mailbox
from govcal.models.attendance import PARTSTAT, AnswerRefused, AnswerSource, record_answer
from govcal.models.feed_tokens import uid_form
from govcal.models.mailbox import Read
from govcal.models.types import utcnow
from govcal.notifications.imap import MAX_MESSAGE_BYTES, Mailbox
from govcal.notifications.inbound import OTHER, Inbound, read_message
from govcal.rules.model import Partnership


@dataclass
class MailboxReport:
    """What one reading did. `lines` are for the business team: one line each."""

    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)
    bounced: int = 0  # ledger rows that became "bounced"
    failing: dict[str, int] = field(default_factory=dict)  # address -> hard bounces

    @property
    def read(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        said = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        return f"Read {self.read} message(s): {said or 'none'}; {self.bounced} notice(s) bounced."

    def as_result(self) -> dict:
        return {
            "counts": dict(self.counts),
            "lines": self.lines[:200],
            "bounced": self.bounced,
            "failing": self.failing,
        }


@dataclass(frozen=True)
class _Context:
    partnerships: list[Partnership]
    our_domain: str
    now: datetime


def read_mailbox(
    session: Session,
    box: Mailbox,
    partnerships: list[Partnership],
    *,
    mail_from: str,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> MailboxReport:
    """Read every message not read before, batch by batch (bounded memory)."""
    context = _Context(partnerships, mail_from.rpartition("@")[2].lower(), now or utcnow())
    report = MailboxReport()
    for window in box.to_read():
        for fetched, too_large in box.batches(window):
            for uid in too_large:
                report.counts["unreadable"] += 1
                report.lines.append(
                    f"message UID {uid} is larger than "
                    f"{MAX_MESSAGE_BYTES // 2**20} MiB: left where it is"
                )
            box.leave(too_large)
            moves: list[int] = []
            leaves: list[int] = []
            for uid, raw in fetched:
                action = _one(session, read_message(raw), raw, context, report)
                (moves if action == "move" else leaves if action == "leave" else []).append(uid)
            box.move(moves)
            box.leave(leaves)
            if progress is not None and fetched:
                progress(f"{report.read} message(s) read (to UID {fetched[-1][0]})")
    report.failing = ledger.failing_addresses(session)
    return report


def _one(
    session: Session, inbound: Inbound, raw: bytes, context: _Context, report: MailboxReport
) -> str:
    """Record one message; returns what to do with it: move, leave, or retry (nothing)."""
    if inbound.kind == OTHER:
        report.counts["left for people"] += 1
        return "leave"
    kind = Read(inbound.kind)
    key = mailbox.key_of(inbound.message_id, raw)
    done = "leave" if kind is Read.UNREADABLE else "move"
    try:
        if not mailbox.take(session, key, inbound.message_id, kind, inbound.sender):
            mailbox.give_up(session)
            report.counts["already read"] += 1
            # its reader moves it; one left behind (that reader stopped) is moved later
            return "retry" if mailbox.read_recently(session, key) else done
        outcome, occurrence, tell = _record(session, inbound, kind, context, report)
        mailbox.settle(session, key, outcome, occurrence)
    except Exception as exc:  # one message must not stop the others; read again next time
        mailbox.give_up(session)
        report.counts["not recorded"] += 1
        report.lines.append(
            f"{_named(inbound)}: could not be recorded ({type(exc).__name__}); read again next time"
        )
        return "retry"
    report.counts[kind.value] += 1
    if tell:
        report.lines.append(f"{_named(inbound)}: {outcome}")
    return done


def _named(inbound: Inbound) -> str:
    return f"message {inbound.message_id[:80] or '(no Message-ID)'} from {inbound.sender or '?'}"


def _record(
    session: Session, inbound: Inbound, kind: Read, context: _Context, report: MailboxReport
) -> tuple[str, int | None, bool]:
    """(what was done, the meeting or item it concerns, whether to tell people)."""
    if kind is Read.UNREADABLE:
        return f"unreadable: {inbound.problem}; skipped, left where it is", None, True
    if kind is Read.AUTO_REPLY:
        occurrence = _occurrence_referred(session, inbound, context)
        return "an automatic reply: recorded, not answered", occurrence, False
    if kind is Read.BOUNCE:
        return _bounce(session, inbound, context, report)
    return _reply(session, inbound, kind)


def _our_keys(ids: tuple[str, ...], context: _Context) -> list[str]:
    """The ledger keys of govcal's own Message-IDs (<key.installation@our-domain>)."""
    keys = []
    for message_id in ids:
        local, _, domain = message_id.strip("<>").rpartition("@")
        if domain.lower() == context.our_domain and re.fullmatch(r"[\w-]+(\.[\w-]+)?", local):
            keys.append(local.partition(".")[0])
    return keys


def _occurrence_referred(session: Session, inbound: Inbound, context: _Context) -> int | None:
    for key in _our_keys(inbound.refers_to, context):
        found = ledger.occurrences_of_message(session, key)
        if found:
            return found[0]
    return None


def _bounce(
    session: Session, inbound: Inbound, context: _Context, report: MailboxReport
) -> tuple[str, int | None, bool]:
    assert inbound.bounce is not None
    keys = _our_keys(inbound.bounce.returned_ids, context)
    if not inbound.bounce.failures:
        return "a delivery report naming no failed address: nothing changed", None, True
    said, occurrence, bounced = [], None, []
    for failure in inbound.bounce.failures:
        rows = [r for key in keys for r in ledger.rows_of_message(session, key, failure.address)]
        if not rows:
            said.append(f"{failure.address} was never sent that message by govcal: nothing changed")
            continue
        occurrence = rows[0].occurrence_id
        if not failure.permanent:
            said.append(f"{failure.address}: delayed, the server keeps trying ({failure.words})")
            continue
        changed = ledger.mark_bounced(session, [r.id for r in rows if r.id], failure.words)
        bounces.record_bounces(session, changed, failure.address, failure.words, context.now)
        bounced.extend(changed)
        said.append(f"{failure.address} bounced: {failure.words}")
    if bounced:
        report.bounced += len(bounced)
        tell_the_business_team(session, context.partnerships, bounced)  # the next digest
    return "; ".join(said), occurrence, True


def _reply(session: Session, inbound: Inbound, kind: Read) -> tuple[str, int | None, bool]:
    reply = inbound.reply
    assert reply is not None
    public_id = reply.uid.rpartition("@")[0]
    meeting = mailbox.meeting_of(session, public_id) if public_id else None
    # the UID this installation gave that meeting (its own id, or `@govcal` before 0009)
    if meeting is not None and uid_form(session).uid(public_id, meeting[0]) != reply.uid:
        meeting = None
    if meeting is None:
        return (
            f"a calendar {reply.method} to a meeting govcal does not know: nothing changed",
            None,
            True,
        )
    occurrence, title, _current = meeting
    senders = {inbound.sender, *inbound.also_sent_by} - {""}
    theirs = [a for a in reply.attendees if a.address in senders]
    if not theirs:
        named = ", ".join(a.address for a in reply.attendees[:3]) or "nobody"
        return (
            (
                f"a {reply.method} to {public_id} from {inbound.sender or '?'} answering for "
                f"{named}: not from the invitee, nothing changed"
            ),
            occurrence,
            True,
        )
    if kind is Read.COUNTER:
        when = (
            f"{reply.proposed_start:%d/%m/%Y %H:%M} UTC" if reply.proposed_start else "another time"
        )
        return (
            (
                f"{inbound.sender} proposes {when} for {title} ({public_id}): "
                "for the business team to decide"
            ),
            occurrence,
            True,
        )
    said, tell = [], False
    for attendee in theirs:
        answer = PARTSTAT.get(attendee.partstat)
        if answer is None:
            said.append(f"{attendee.address}: no answer given ({attendee.partstat[:20]})")
            continue
        try:
            recorded = record_answer(
                session,
                occurrence_id=occurrence,
                attendee=attendee.address,
                answer=answer,
                sequence=reply.sequence,
                answered_at=reply.stamp or utcnow(),
                source=AnswerSource.MAILBOX,
                deputy=attendee.delegated_to,
            )
        except AnswerRefused as refused:
            said.append(str(refused))
            tell = True
            continue
        said.append(recorded.summary)
        tell = tell or not recorded.current or recorded.deputy_invited is not None
    return "; ".join(said), occurrence, tell
