"""The compliance dashboard as data: a table per partnership, a summary, return progress.

Plain functions over the database, so the dashboard is tested without Prefect; the
flows publish the result as artifacts with stable keys (the UI shows the latest).
No child-identifying data can appear: rows carry titles, dates, roles and references.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from models import ledger, queries
from models.status import StatusRow, status_rows
from rules.model import Partnership
from rules.state import State


@dataclass
class ReturnProgress:
    cycle: str
    title: str
    due: date
    returned: int
    total: int
    noun: str  # schools or agencies

    @property
    def fraction(self) -> float:
        return self.returned / self.total if self.total else 1.0

    def describe(self) -> str:
        return f"{self.returned} of {self.total} {self.noun} returned"


@dataclass
class Dashboard:
    partnership: str
    name: str
    as_of: date
    table: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    decisions: list[str] = field(default_factory=list)  # flagged: consider referral
    returns: list[ReturnProgress] = field(default_factory=list)

    def markdown(self, sent: dict[str, int] | None = None) -> str:
        lines = [f"# {self.name}: compliance as of {self.as_of:%A %d %B %Y}", ""]
        lines.append("| state | count |")
        lines.append("|---|---|")
        for state in ("overdue", "due", "due_soon", "upcoming", "completed_late",
                      "completed_on_time", "waived", "cancelled"):  # fmt: skip
            if self.counts.get(state):
                lines.append(f"| {state.replace('_', ' ')} | {self.counts[state]} |")
        lines += ["", "## Sent this run", ""]
        if sent:
            lines += [f"- {n} {kind}" for kind, n in sorted(sent.items())]
        else:
            lines.append("- nothing")
        lines += ["", "## Needs a human decision", ""]
        if self.decisions:
            lines.append(
                "28 days or more overdue: flagged for the Independent Scrutineer; "
                "consider referral."
            )
            lines += [f"- {d}" for d in self.decisions]
        else:
            lines.append("- nothing")
        if self.returns:
            lines += ["", "## Audit returns", ""]
            lines += [f"- {r.title} (due {r.due}): {r.describe()}" for r in self.returns]
        return "\n".join(lines) + "\n"


def build(session: Session, partnership: Partnership, as_of: date) -> Dashboard:
    rows = status_rows(
        session, as_of, partnership_id=partnership.id, ahead_days=60,
        due_soon_days={partnership.id: partnership.due_soon_days},
    )  # fmt: skip
    ids = [r.row.id for r in rows if r.row.id]
    stages, flags = ledger.stages_and_flags(session, ids)
    board = Dashboard(partnership.id, partnership.name, as_of)
    board.counts = Counter(r.status.state.value for r in rows)
    rounds: dict[tuple[str, str], list[StatusRow]] = defaultdict(list)
    for r in rows:
        if r.row.subject:
            rounds[(r.row.rule_id, r.row.period)].append(r)
            continue
        board.table.append(_row(r, stages.get(r.row.id or 0, "")))
        if r.row.id in flags and r.status.state is State.OVERDUE:
            board.decisions.append(f"{r.row.public_id}: {r.row.title}, {r.status.describe()}")
    for (rule, period), members in sorted(rounds.items(), key=lambda kv: kv[1][0].row.due):
        board.table.append(_round_row(partnership.id, rule, period, members))
        late = [m for m in members if m.row.id in flags and m.status.state is State.OVERDUE]
        if late:
            board.decisions.append(
                f"{partnership.id}:{rule}:{period}: {len(late)} returns 28+ days overdue"
            )
    board.returns = returns_progress(session, partnership, as_of)
    return board


def _row(r: StatusRow, stage: str) -> dict[str, Any]:
    return {
        "obligation": r.row.public_id,
        "title": r.row.title,
        "due": r.row.due.isoformat(),
        "owner": r.row.owner_role,
        "state": r.status.state.value.replace("_", " "),
        "rag": r.status.state.rag,
        "days_overdue": r.status.days_overdue if r.status.state is State.OVERDUE else 0,
        "escalation_stage": stage,
        "evidence": r.row.evidence_url or r.row.evidence_file or "",
    }


def _round_row(pid: str, rule: str, period: str, members: list[StatusRow]) -> dict[str, Any]:
    states = Counter(m.status.state for m in members)
    done = states[State.COMPLETED_ON_TIME] + states[State.COMPLETED_LATE]
    worst = next(
        (s for s in (State.OVERDUE, State.DUE, State.DUE_SOON, State.UPCOMING) if states[s]),
        State.COMPLETED_ON_TIME,
    )
    first = members[0]
    return {
        "obligation": f"{pid}:{rule}:{period}",
        "title": f"{first.row.title} ({done} of {len(members)} returned)",
        "due": first.row.due.isoformat(),
        "owner": first.row.owner_role,
        "state": worst.value.replace("_", " "),
        "rag": worst.rag,
        "days_overdue": max(
            (m.status.days_overdue for m in members if m.status.state is State.OVERDUE), default=0
        ),
        "escalation_stage": "",
        "evidence": f"govcal returns {pid}:{rule}:{period}",
    }


def returns_progress(
    session: Session, partnership: Partnership, as_of: date
) -> list[ReturnProgress]:
    """Open S11/S175 cycles: due within the last year or the next, not all returned."""
    out = []
    cycles = [
        c for c in queries.audit_cycles(session, partnership.id)
        if abs((c.due - as_of).days) <= 366
    ]  # fmt: skip
    counts = queries.return_counts(session, [c.id for c in cycles if c.id], as_of)
    for cycle in cycles:
        returned, total = counts.get(cycle.id or 0, (0, 0))
        noun = "schools" if cycle.per == "school" else "agencies"
        progress = ReturnProgress(cycle.public_id, cycle.title, cycle.due, returned, total, noun)
        if progress.returned < progress.total:
            out.append(progress)
    return out


def current_cycles(returns: list[ReturnProgress], as_of: date) -> list[ReturnProgress]:
    """One cycle per audit rule: the one due nearest the day. Its progress artifact is
    keyed by rule, so publishing every open cycle would only overwrite it (and each
    artifact is an API call: at national scale they were most of the flow's overhead);
    the summary lists every open cycle."""
    nearest: dict[str, ReturnProgress] = {}
    for progress in returns:
        rule = progress.cycle.split(":")[1]
        best = nearest.get(rule)
        if best is None or abs((progress.due - as_of).days) < abs((best.due - as_of).days):
            nearest[rule] = progress
    return list(nearest.values())
