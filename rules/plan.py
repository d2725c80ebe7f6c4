"""A plan: the occurrences in a window with their state as of a day, ready to show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from govcal.rules.expand import expand
from govcal.rules.model import ExpansionContext, Occurrence, Partnership, Rule
from govcal.rules.state import Status, evaluate


@dataclass(frozen=True, slots=True)
class PlanRow:
    occurrence: Occurrence
    rule: Rule
    status: Status

    @property
    def due_display(self) -> str:
        if self.occurrence.starts_at is not None:
            return self.occurrence.starts_at.strftime("%Y-%m-%d %H:%M")
        return self.occurrence.due.isoformat()

    def as_json(self) -> dict[str, Any]:
        occ = self.occurrence
        due: str = occ.starts_at.isoformat() if occ.starts_at else occ.due.isoformat()
        return {
            "id": occ.id,
            "partnership": occ.partnership,
            "rule": occ.rule,
            "title": self.rule.title,
            "kind": self.rule.kind.value,
            "due": due,
            "owner": self.rule.owner,
            "subject": occ.subject,
            "state": self.status.state.value,
            "days_overdue": self.status.days_overdue,
            "source": self.rule.source,
        }


def build_plan(
    partnership: Partnership,
    start: date,
    end: date,
    as_of: date | datetime,
    context: ExpansionContext | None = None,
) -> list[PlanRow]:
    context = context or ExpansionContext()
    rules = {r.id: r for r in partnership.rules}
    rows = []
    for occ in expand(partnership, start, end, context):
        status = evaluate(
            occ.due,
            as_of,
            completed_on=context.completions.get(occ.key),
            due_soon_days=partnership.due_soon_days,
            tz=partnership.tz,
        )
        rows.append(PlanRow(occ, rules[occ.rule], status))
    return rows
