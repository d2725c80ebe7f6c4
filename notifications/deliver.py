"""Deliver claimed ledger rows: one digest per recipient, one invite email per meeting.

Rows were claimed atomically (models.ledger.claim), so no other run holds them. Each
message is marked in the ledger as soon as the transport answers: sent rows never go
again, temporary failures return to pending with a backoff, and a permanently refused
address is reported and skipped without holding up the rest of the batch.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from models.ledger import LedgerEntry, mark_refused, mark_retry, mark_sent
from notifications.ics import CalendarEntry
from notifications.render import (
    Digest,
    DigestLine,
    InviteMessage,
    Sender,
    render_digest,
    render_invite,
)
from notifications.transport import Outgoing, TemporaryFailure, Transport
from rules.notify_plan import Directory, Item

_GIVE_UP_AFTER = 3  # consecutive temporary failures: the server is down, stop this batch


@dataclass
class DeliveryReport:
    messages_sent: int = 0
    rows_sent: int = 0
    rows_retry: int = 0
    rows_refused: int = 0
    errors: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _Message:
    key: str
    kind: str
    rows: list[LedgerEntry]
    recipients: list[str]
    render: object  # a callable returning the bytes


def _key(prefix: str, rows: list[LedgerEntry], today: date) -> str:
    digest = hashlib.sha256(",".join(str(r.id) for r in rows).encode()).hexdigest()[:16]
    return f"{today:%Y%m%d}-{prefix}-{digest}"


def compose(
    rows: list[LedgerEntry],
    items: dict[int, Item],
    names: dict[str, str],
    partnership_names: dict[str, str],
    directory: Directory,
    sender: Sender,
    today: date,
    stamp: datetime,
    reasons: dict[int, str | None],
) -> list[_Message]:
    """Group rows into messages: invites per (meeting, stage), the rest per recipient."""
    invites: dict[tuple[int, str], list[LedgerEntry]] = defaultdict(list)
    digests: dict[str, list[LedgerEntry]] = defaultdict(list)
    for row in rows:
        if row.kind in ("invite", "cancel"):
            invites[(row.occurrence_id, row.stage)].append(row)
        else:
            digests[row.recipient.lower()].append(row)
    messages: list[_Message] = []
    for (occurrence_id, _stage), group in sorted(invites.items()):
        item = items[occurrence_id]
        everyone = _attendees(item, directory)
        entry = CalendarEntry(
            public_id=item.public_id,
            title=item.title,
            description=f"{item.title}. Why: {item.source}. Evidence: {item.evidence}.",
            due=item.due,
            starts_at=item.starts_at,
            ends_at=item.ends_at,
            sequence=item.sequence,
            cancelled=item.cancelled,
            organizer=(sender.name, sender.email),
            attendees=tuple(everyone),
        )
        invitation = InviteMessage(
            key=_key(f"invite-{occurrence_id}", group, today),
            entry=entry,
            recipients=[(names.get(r.recipient, ""), r.recipient) for r in group],
            partnership_name=partnership_names.get(item.partnership, item.partnership),
            source=item.source,
            evidence=item.evidence,
            reason=reasons.get(occurrence_id),
        )
        messages.append(
            _Message(
                invitation.key,
                group[0].kind,
                group,
                [r.recipient for r in group],
                lambda inv=invitation: render_invite(inv, sender, stamp),
            )
        )
    for _recipient, group in sorted(digests.items()):
        first = items[group[0].occurrence_id]
        lines = [_line(row, items[row.occurrence_id]) for row in group]
        digest = Digest(
            key=_key("digest", group, today),
            recipient=group[0].recipient,
            recipient_name=names.get(group[0].recipient, ""),
            partnership_name=partnership_names.get(first.partnership, first.partnership),
            lines=lines,
        )
        messages.append(
            _Message(
                digest.key,
                "digest",
                group,
                [group[0].recipient],
                lambda d=digest: render_digest(d, sender),
            )
        )
    return messages


def _attendees(item: Item, directory: Directory) -> list[tuple[str, str]]:
    seen: dict[str, tuple[str, str]] = {}
    for role in (item.owner_role, *item.attendees):
        for contact in directory.of(item.partnership, role):
            seen.setdefault(contact.email.lower(), (contact.name, contact.email))
    return list(seen.values())


def _line(row: LedgerEntry, item: Item) -> DigestLine:
    return DigestLine(
        public_id=item.public_id,
        title=item.title,
        due=item.due,
        state=item.status.state,
        state_text=item.status.describe(),
        kind=row.kind,
        stage=row.stage,
        role=row.role,
        source=item.source,
        evidence=item.evidence,
        starts_at=item.starts_at,
        subject_name=item.subject_name or item.subject,
        days_overdue=item.status.days_overdue,
    )


def deliver(
    session: Session,
    transport: Transport,
    messages: list[_Message],
    sender: Sender,
    now: datetime,
) -> DeliveryReport:
    report = DeliveryReport()
    if not messages:
        return report
    failures_in_a_row = 0
    try:
        transport.open()
    except TemporaryFailure as exc:
        for message in messages:
            mark_retry(session, [r.id for r in message.rows if r.id], str(exc), now)
            report.rows_retry += len(message.rows)
        report.errors.append(str(exc))
        return report
    try:
        for index, message in enumerate(messages):
            ids: dict[str, list[int]] = defaultdict(list)
            for row in message.rows:
                if row.id:
                    ids[row.recipient.lower()].append(row.id)
            every_id = [i for group in ids.values() for i in group]
            try:
                data = message.render()  # type: ignore[operator]
                result = transport.send(
                    Outgoing(message.key, sender.email, message.recipients, data)
                )
            except Exception as exc:  # a bug in one message must not strand the batch
                if not isinstance(exc, TemporaryFailure):
                    exc = TemporaryFailure(f"could not build or send: {type(exc).__name__}: {exc}")
                failures_in_a_row += 1
                mark_retry(session, every_id, str(exc), now)
                report.rows_retry += len(every_id)
                report.errors.append(f"{message.key}: {exc}")
                if failures_in_a_row >= _GIVE_UP_AFTER:
                    for rest in messages[index + 1 :]:
                        rest_ids = [r.id for r in rest.rows if r.id]
                        mark_retry(session, rest_ids, f"not tried: {exc}", now)
                        report.rows_retry += len(rest_ids)
                    break
                continue
            failures_in_a_row = 0
            sent = [i for address in result.accepted for i in ids.get(address.lower(), [])]
            if sent:
                mark_sent(session, sent, message.key, result.response)
                report.messages_sent += 1
                report.rows_sent += len(sent)
                report.by_kind[message.kind] += 1
            for address, reason in result.refused.items():
                refused = ids.get(address.lower(), [])
                if refused:
                    mark_refused(session, refused, reason)
                    report.rows_refused += len(refused)
                    report.errors.append(f"{address} refused: {reason}")
    finally:
        transport.close()
    return report
