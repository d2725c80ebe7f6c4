"""The notification planner: who is told what, and when. Pure, so tested by tables."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from govcal.rules.model import DEFAULT_LADDER
from govcal.rules.notify_plan import Action, Contact, Directory, Item, MessageKind, plan_messages
from govcal.rules.state import evaluate

D = date.fromisoformat
DUE = D("2026-12-09")  # a Wednesday, no bank holiday near


def directory() -> Directory:
    d = Directory()
    d.add("p", "agency-lead", Contact("lead.nwas@example.org", "NWAS lead"), agency="nwas")
    d.add("p", "agency-lead", Contact("lead.btp@example.org", "BTP lead"), agency="btp")
    d.add("p", "business-team", Contact("bt@example.org", "Business team"))
    d.add("p", "dsp", Contact("dsp.icb@example.org", "Chief Nurse"), agency="icb")
    d.add("p", "dsp", Contact("dsp.police@example.org", "ACC"), agency="police")
    d.add("p", "lsp", Contact("ce@example.org", "Chief Executive"), agency="la")
    d.add("p", "lsp", Contact("cc@example.org", "Chief Constable"), agency="police")
    d.add("p", "scrutineer", Contact("scrutineer@example.org", "Scrutineer"))
    return d


def item(today: date, *, due: date = DUE, completed: date | None = None, **extra) -> Item:
    fields = dict(
        ref=1,
        public_id="p:s11:2026-12-09:nwas",
        partnership="p",
        rule="s11",
        title="Section 11 audit",
        kind="audit",
        owner_role="agency-lead",
        due=due,
        subject="nwas",
        owning_agency="icb",
        status=evaluate(due, today, completed_on=completed),
    )
    fields.update(extra)
    return Item(**fields)


def plan(today: date, **extra):
    it = item(today, **extra)
    return plan_messages([it], directory(), {("p", it.rule): DEFAULT_LADDER}, today)


def sent(planned):
    return sorted((p.stage, p.recipient) for p in planned if p.action is Action.SEND)


@pytest.mark.parametrize(
    ("days_before", "stage"),
    [
        (28, "reminder-28"),
        (20, "reminder-28"),
        (14, "reminder-14"),
        (7, "reminder-7"),
        (1, "reminder-1"),
        (0, "due-today"),
    ],
)
def test_reminders_go_to_the_owner_of_that_agency_only(days_before, stage):
    today = DUE - timedelta(days=days_before)
    assert sent(plan(today)) == [(stage, "lead.nwas@example.org")]


def test_nothing_before_the_first_reminder():
    assert plan(DUE - timedelta(days=29)) == []


@pytest.mark.parametrize(
    ("days_after", "expected"),
    [
        (1, [("escalation-1", "bt@example.org"), ("escalation-1", "lead.nwas@example.org")]),
        (7, [("escalation-7", "dsp.icb@example.org")]),  # the DSP answerable for the agency
        (14, [("escalation-14", "cc@example.org"), ("escalation-14", "ce@example.org")]),
        (30, [("escalation-14", "cc@example.org"), ("escalation-14", "ce@example.org")]),
    ],
)
def test_escalation_ladder_when_overdue(days_after, expected):
    assert sent(plan(DUE + timedelta(days=days_after))) == expected


def test_day_28_flags_the_scrutineer_on_the_dashboard_and_never_emails_them():
    planned = plan(DUE + timedelta(days=28))
    flags = [p for p in planned if p.kind is MessageKind.FLAG]
    assert [(f.stage, f.recipient, f.action) for f in flags] == [
        ("escalation-28", "flag:scrutineer", Action.FLAG)
    ]
    assert "scrutineer@example.org" not in {p.recipient for p in planned}


def test_after_downtime_overtaken_stages_are_recorded_as_skipped_not_sent_late():
    planned = plan(DUE + timedelta(days=8))  # nothing ran for weeks
    skipped = sorted({p.stage for p in planned if p.action is Action.SKIP})
    assert skipped == [
        "due-today",
        "escalation-1",
        "reminder-1",
        "reminder-14",
        "reminder-28",
        "reminder-7",
    ]
    assert sent(planned) == [("escalation-7", "dsp.icb@example.org")]


def test_a_backlog_older_than_the_catch_up_window_is_flagged_not_emailed():
    # the first day govcal tracks a partnership (a Monday), an item 61 days overdue: its
    # last email stage (day 14) was 47 days ago, beyond the 28-day window; the flag stays
    backlog = plan(DUE + timedelta(days=61))
    assert sent(backlog) == []
    assert [(p.stage, p.action) for p in backlog] == [("escalation-28", Action.FLAG)]
    # 41 days overdue: the day-14 stage is 27 days back, inside the window, so it goes
    assert sent(plan(DUE + timedelta(days=41))) == [
        ("escalation-14", "cc@example.org"),
        ("escalation-14", "ce@example.org"),
    ]


@pytest.mark.parametrize("extra", [{"completed": D("2026-12-01")}])
def test_completed_items_produce_nothing(extra):
    assert plan(DUE + timedelta(days=3), **extra) == []


def test_waived_items_produce_nothing():
    it = item(DUE)
    waived = Item(
        **{**{f: getattr(it, f) for f in it.__slots__}, "status": evaluate(DUE, DUE, waived=True)}
    )
    assert plan_messages([waived], directory(), {("p", "s11"): DEFAULT_LADDER}, DUE) == []


def test_no_mail_at_weekends_or_on_bank_holidays_except_a_deadline_that_day():
    saturday = D("2026-12-12")
    assert plan(saturday) == []  # 3 days overdue: waits for Monday
    assert sent(plan(saturday, due=saturday)) == [("due-today", "lead.nwas@example.org")]
    boxing_day_substitute = D("2026-12-28")
    assert plan(boxing_day_substitute, due=D("2027-01-06")) == []
    monday = D("2026-12-14")
    assert sent(plan(monday)) == [
        ("escalation-1", "bt@example.org"),
        ("escalation-1", "lead.nwas@example.org"),
    ]


def test_every_message_has_a_stable_key():
    first = plan(DUE - timedelta(days=7))
    again = plan(DUE - timedelta(days=7))
    assert [p.key for p in first] == [p.key for p in again]
    [current] = [p for p in first if p.action is Action.SEND]
    assert current.key == (1, "reminder-7", "lead.nwas@example.org")


def test_a_rule_may_override_the_ladder():
    from govcal.rules.model import EscalationStep, Ladder

    short = Ladder(reminder_days=(3, 0), escalations=(EscalationStep(2, ("lsp",)),))
    it = item(DUE + timedelta(days=2))
    planned = plan_messages([it], directory(), {("p", "s11"): short}, DUE + timedelta(days=2))
    assert sent(planned) == [("escalation-2", "cc@example.org"), ("escalation-2", "ce@example.org")]


def test_owner_nobody_holds_for_that_school_falls_back_to_the_role_at_large():
    planned = plan(DUE, subject="unknown-agency")
    assert sent(planned) == [
        ("due-today", "lead.btp@example.org"),
        ("due-today", "lead.nwas@example.org"),
    ]
