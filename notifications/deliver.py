"""Deliver claimed ledger rows: one digest per recipient, one invite email per meeting.

Rows were claimed atomically (models.ledger.claim), so no other run holds them. Each
message is marked in the ledger as soon as the transport answers: sent rows never go
again, temporary failures return to pending with a backoff, and a permanently refused
address is reported and skipped without holding up the rest of the batch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from models.ledger import mark_refused, mark_retry, mark_sent
from notifications.compose import ComposedMessage as _Message
from notifications.compose import compose  # noqa: F401  (callers import it from here)
from notifications.render import Sender
from notifications.transport import Outgoing, TemporaryFailure, Transport

_GIVE_UP_AFTER = 3  # consecutive temporary failures: the server is down, stop this batch


@dataclass
class DeliveryReport:
    messages_sent: int = 0
    rows_sent: int = 0
    rows_retry: int = 0
    rows_refused: int = 0
    errors: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))


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
