"""The reminder and escalation ladder: when an owner is reminded, who is told when late.

A partnership sets its ladder in the header (or keeps the default one) and a rule may
set its own. Both are checked the same way here: reminder days count down to the due
day, escalation days rise and are distinct, and every role an escalation names or flags
is declared, since a message to an undeclared role would reach nobody.
"""

from __future__ import annotations

from govcal.rules.model import EscalationStep, Ladder, Role
from govcal.rules.report import Report
from govcal.rules.spec import EscalationSpec
from govcal.rules.yamlsource import Path as DataPath


def build_ladder(
    reminders: list[int] | None,
    escalation: list[EscalationSpec] | None,
    path: DataPath,
    roles: dict[str, Role],
    default: Ladder,
    report: Report,
) -> Ladder:
    """The ladder written at `path`, each part not written taken from `default`."""
    if reminders is not None and any(not 0 <= day <= 366 for day in reminders):
        report.add(
            (*path, "reminders"),
            "reminder days count down to the due date: use 0 to 366",
        )
    steps = (
        tuple(EscalationStep(s.day, tuple(s.to), s.flag) for s in escalation)
        if escalation is not None
        else default.escalations
    )
    days = [s.day for s in steps]
    if days != sorted(set(days)):
        report.add(
            (*path, "escalation"), "escalation steps must have distinct days in rising order"
        )
    origin = "" if escalation is not None else " (the default escalation ladder)"
    for i, step in enumerate(steps):
        where = (*path, "escalation", i) if escalation is not None else path
        for role in step.to:
            if role != "owner" and role not in roles:
                report.add(
                    where,
                    f"escalation day {step.day}{origin} names role '{role}', which this "
                    f"partnership does not declare; add it under roles: or override "
                    f"escalation:",
                )
        if step.flag is not None and step.flag not in roles:
            report.add(
                where,
                f"escalation day {step.day}{origin} flags role '{step.flag}', which this "
                "partnership does not declare; add it under roles: or override escalation:",
            )
    chosen_reminders = (
        tuple(sorted(set(reminders), reverse=True))
        if reminders is not None
        else default.reminder_days
    )
    return Ladder(chosen_reminders, steps)


def flag_step(ladder: Ladder) -> EscalationStep | None:
    """The first step that raises a dashboard flag (the Independent Scrutineer's, by
    default): from that day overdue an item needs a decision rather than a reminder."""
    return next((step for step in ladder.escalations if step.flag is not None), None)
