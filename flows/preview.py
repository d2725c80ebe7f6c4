"""`govcal notify --dry-run`: exactly the messages the next real run would send.

A real run records today's plan in the ledger (keys already there are left alone, pending
rows of overtaken stages become skipped), then claims every pending row and composes
them into messages. The preview does the same reading without writing: planned rows not
yet in the ledger, plus pending rows, minus the overtaken, composed by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy

from sqlmodel import Session

from govcal.flows.message_context import message_context
from govcal.flows.steps import for_tomorrow, plan
from govcal.models.ledger import Delivery, LedgerEntry
from govcal.models.notify_inputs import existing_keys, items_by_ids, sendable_rows
from govcal.models.settings import Settings
from govcal.models.types import utcnow
from govcal.notifications.compose import compose
from govcal.notifications.render import Sender
from govcal.rules.model import Partnership
from govcal.rules.notify_plan import Action, still_wanted


@dataclass(frozen=True)
class Preview:
    kind: str  # digest, invite or cancel
    recipients: tuple[str, ...]
    subject: str


def preview(
    session: Session,
    partnerships: list[Partnership],
    today: date,
    sender: Sender,
    *,
    settings: Settings,
    now: datetime | None = None,
    invite_window_days: int = 60,
    lease: timedelta = timedelta(seconds=900),
) -> list[Preview]:
    """The messages a real `notify` would send now, in the order it would send them.
    Changes nothing: whatever reading needed is rolled back."""
    now = now or utcnow()
    try:
        planned = plan(session, partnerships, today, invite_window_days)
        known = existing_keys(session, {p.item.ref for p in planned})
        overtaken = {p.key for p in planned if p.action is Action.SKIP}
        rows = [
            r
            for r in sendable_rows(session, now, lease)
            if (r.occurrence_id, r.stage, r.recipient.lower()) not in overtaken
        ]
        for p in planned:
            if p.action is Action.SEND and (p.item.ref, p.stage, p.recipient) not in known:
                rows.append(
                    LedgerEntry(
                        occurrence_id=p.item.ref,
                        stage=p.stage,
                        recipient=p.recipient,
                        role=p.role,
                        kind=p.kind.value,
                        status=Delivery.PENDING.value,
                    )
                )
        items = items_by_ids(session, partnerships, sorted({r.occurrence_id for r in rows}), today)

        live = [r for r in rows if still_wanted(r.kind, r.stage, items.get(r.occurrence_id))]
        held = {id(r) for r in for_tomorrow(session, live, items, today)}
        live = [r for r in live if id(r) not in held]
        context = message_context(
            session, partnerships, items, live, settings=settings, issue_links=False
        )
        out = []
        for message in compose(live, items, context, sender, today, now):
            parsed = message_from_bytes(message.render(), policy=policy.default)
            out.append(Preview(message.kind, tuple(message.recipients), str(parsed["Subject"])))
        return out
    finally:
        session.rollback()
