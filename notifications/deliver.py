"""Deliver claimed ledger rows: one digest per recipient, one invite email per meeting.

Rows were claimed atomically (models.ledger.claim), so no other run holds them. Each
message is marked in the ledger as soon as the transport answers, per recipient, as an
MTA would (RFC 5321 4.2): delivered rows never go again; a temporary answer (4xx, no
answer before the end of DATA) returns them to pending with a backoff; a permanent one
(5xx) marks them failed, reported to the business team and never retried; no answer
after the end of DATA makes them "uncertain", resent by a later run with the same
Message-ID. One message's failure never stops another; only a relay that cannot be
reached at all, or the run's time budget, leaves the rest for the next run.

A transport that writes in batches (the file outbox: `stage`, then `flush`) is marked
sent only after its batch's flush made the messages durable, one commit per batch.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from govcal.models.ledger import (
    commit_batch,
    mark_refused,
    mark_retry,
    mark_sent,
    mark_uncertain,
    release,
)
from govcal.notifications.compose import ComposedMessage as _Message
from govcal.notifications.compose import compose  # noqa: F401  (callers import it from here)
from govcal.notifications.render import Sender
from govcal.notifications.transport import Outgoing, SendResult, TemporaryFailure, Transport


@dataclass
class DeliveryReport:
    messages_sent: int = 0
    rows_sent: int = 0
    rows_retry: int = 0  # temporary failures, uncertain ones and those not reached
    rows_refused: int = 0
    rows_uncertain: int = 0  # of rows_retry: sent without an answer
    failed_ids: list[int] = field(default_factory=list)  # refused for good in this run
    errors: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))


UNANSWERED_TWICE = (
    "sent twice and neither end of DATA was answered: not sent again (it has probably "
    "arrived; ask the relay's operator)"
)


def _resend(message: _Message) -> bool:
    """A message already sent once without an answer (its rows keep the key it went
    out under): it goes after every new message, and at most this once more."""
    return any(row.message_key for row in message.rows)


def _ids(message: _Message) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = defaultdict(list)
    for row in message.rows:
        if row.id:
            ids[row.recipient.lower()].append(row.id)
    return ids


def _defer(session: Session, report: DeliveryReport, ids: list[int], error: str, now) -> None:
    if ids:
        mark_retry(session, ids, error, now)
        report.rows_retry += len(ids)


BATCH = 200  # messages staged per flush of a batching transport


def _record(
    session: Session,
    report: DeliveryReport,
    message: _Message,
    result: SendResult,
    now,
    *,
    commit: bool = True,
) -> None:
    """Mark each recipient's rows by what the relay answered for that recipient."""
    ids = _ids(message)
    sent = [i for address in result.accepted for i in ids.get(address.lower(), [])]
    if sent:
        mark_sent(session, sent, message.key, result.response, commit=commit)
        report.messages_sent += 1
        report.rows_sent += len(sent)
        report.by_kind[message.kind] += 1
    for address, reason in result.refused.items():
        refused = ids.get(address.lower(), [])
        if refused:
            mark_refused(session, refused, reason)
            report.rows_refused += len(refused)
            report.failed_ids.extend(refused)
            report.errors.append(f"{address} refused: {reason}")
    for address, reason in result.deferred.items():
        _defer(session, report, ids.get(address.lower(), []), reason, now)
        report.errors.append(f"{address} deferred: {reason}")
    resent = _resend(message)
    for address, reason in result.uncertain.items():
        uncertain = ids.get(address.lower(), [])
        if uncertain and resent:  # twice unanswered: never a third copy
            mark_refused(session, uncertain, f"{UNANSWERED_TWICE}: {reason}")
            report.rows_refused += len(uncertain)
            report.failed_ids.extend(uncertain)
            report.errors.append(f"{address}: {UNANSWERED_TWICE}: {reason}")
        elif uncertain:
            mark_uncertain(session, uncertain, message.key, f"uncertain: {reason}", now)
            report.rows_retry += len(uncertain)
            report.rows_uncertain += len(uncertain)
            report.errors.append(f"{address} uncertain (resent later, same Message-ID): {reason}")


def _settle(
    session: Session,
    report: DeliveryReport,
    transport,
    staged: list[tuple[_Message, SendResult]],
    now,
) -> None:
    """Flush a batch, then mark it sent in one commit; if the flush fails, the batch's
    rows wait for the next run (a file already in place is then found by its key)."""
    if not staged:
        return
    try:
        transport.flush()
    except OSError as exc:
        ids = [i for message, _ in staged for group in _ids(message).values() for i in group]
        _defer(session, report, ids, f"could not write the outbox: {exc}", now)
        report.errors.append(f"outbox: {exc}")
    else:
        for message, result in staged:
            _record(session, report, message, result, now, commit=False)
        commit_batch(session)
    staged.clear()


def deliver(
    session: Session,
    transport: Transport,
    messages: list[_Message],
    sender: Sender,
    now: datetime,
    *,
    deadline: float | None = None,
) -> DeliveryReport:
    """Send every message once, unless the relay cannot be reached or `deadline` (a
    time.monotonic() value) passes: what is left then waits for the next run."""
    report = DeliveryReport()
    if not messages:
        return report
    messages = sorted(messages, key=_resend)  # new ones first: a resend never starves them
    try:
        transport.open()
    except TemporaryFailure as exc:
        _defer(session, report, [r.id for m in messages for r in m.rows if r.id], str(exc), now)
        report.errors.append(str(exc))
        return report
    batched = callable(getattr(transport, "stage", None))
    send = transport.stage if batched else transport.send  # type: ignore[attr-defined]
    staged: list[tuple[_Message, SendResult]] = []
    try:
        for index, message in enumerate(messages):
            if index and deadline is not None and time.monotonic() >= deadline:
                rest = [r.id for m in messages[index:] for r in m.rows if r.id]
                release(session, rest, "not tried: this run's delivery time budget was used up")
                report.rows_retry += len(rest)
                report.errors.append(
                    f"time budget used up: {len(rest)} notice(s) left for the next run"
                )
                break
            every_id = [i for group in _ids(message).values() for i in group]
            try:
                data = message.render()
            except Exception as exc:  # it would fail the same way every run: a person looks
                mark_refused(session, every_id, f"could not be built: {type(exc).__name__}: {exc}")
                report.rows_refused += len(every_id)
                report.failed_ids.extend(every_id)
                report.errors.append(f"{message.key}: could not be built: {exc}")
                continue
            try:
                result = send(Outgoing(message.key, sender.email, message.recipients, data))
            except TemporaryFailure as exc:  # no session with the relay: nothing can go now
                rest = [r.id for m in messages[index:] for r in m.rows if r.id]
                _defer(session, report, rest, str(exc), now)
                report.errors.append(str(exc))
                break
            except Exception as exc:  # a fault sending one message must not strand the batch
                _defer(
                    session,
                    report,
                    every_id,
                    f"could not send: {type(exc).__name__}: {exc}",
                    now,
                )
                report.errors.append(f"{message.key}: {type(exc).__name__}: {exc}")
                continue
            if not batched:
                _record(session, report, message, result, now)
                continue
            staged.append((message, result))
            if len(staged) >= BATCH:
                _settle(session, report, transport, staged, now)
        _settle(session, report, transport, staged, now)
    finally:
        transport.close()
    return report
