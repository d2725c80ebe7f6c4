"""Property (issue 20): whatever a partnership edits in a meeting rule (its cadence,
weekday, time or owner), after a year of history, `govcal sync` changes nothing dated
before the day of the edit, and `notify` plans no message for an occurrence that did not
exist before the edit and is already past."""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from typer.testing import CliRunner

from govcal.cli import app
from govcal.models.calendar import OccurrenceRow
from govcal.models.db import get_engine
from tests.support.paths import ROOT
from tests.support.snapshots import copy_data, data_folder

EDIT_DAY = date(2026, 11, 24)  # the sample history runs to 21 Nov 2026
WFSCP_FILE = ROOT / "rules" / "partnerships" / "westmorland-furness.yaml"
MEETINGS = {  # rule id -> (its "every:" line, its "start:" line)
    "lsp-meeting": ("every: four times a year on the second Wednesday", "start: 2025-05-14 10:00"),
    "safeguarding-accountability-meeting": (
        "every: every 2 months on the second Tuesday",
        "start: 2025-04-08 14:00",
    ),
}

edits = st.fixed_dictionaries(
    {
        "rule": st.sampled_from(sorted(MEETINGS)),
        "cadence": st.sampled_from(
            ["four times a year", "every 2 months", "monthly", "every 3 months", "six times a year"]
        ),
        "ordinal": st.sampled_from(["first", "second", "third", "fourth", "last"]),
        "weekday": st.sampled_from(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]),
        "time": st.sampled_from(["09:30", "10:00", "14:00", "16:15"]),
        "owner": st.sampled_from(["business-team", "partnership-manager", "dcs"]),
    }
)


def edited(text: str, edit: dict[str, str]) -> str:
    """The rule file with one meeting rule's schedule, time and owner changed."""
    every, start = MEETINGS[edit["rule"]]
    head = f"  - id: {edit['rule']}\n"
    at = text.index(head)
    end = text.index("\n  - id: ", at + len(head))
    block = text[at:end]
    block = block.replace(
        every, f"every: {edit['cadence']} on the {edit['ordinal']} {edit['weekday']}"
    )
    block = block.replace(start, re.sub(r"\d\d:\d\d$", edit["time"], start))
    block = re.sub(r"\n    owner: [a-z-]+\n", f"\n    owner: {edit['owner']}\n", block, count=1)
    return text[:at] + block + text[end:]


def snapshot(url: str) -> dict[str, tuple]:
    """Every WFSCP occurrence as recorded: what a reader's status is made of."""
    with Session(get_engine(url)) as s:
        rows = s.exec(select(OccurrenceRow).where(OccurrenceRow.partnership_id == "wfscp")).all()
        return {
            r.public_id: (
                r.due,
                r.starts_at,
                r.lifecycle,
                r.orphaned,
                r.rescheduled,
                r.completed_at,
                r.owner_role,
                r.id,
            )
            for r in rows
        }


@settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(edit=edits)
def test_a_rule_edit_never_changes_the_past_nor_chases_a_date_that_never_was(
    sample_history_data, edit
):
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_data(sample_history_data, Path(tmp) / "data")
        rules = Path(tmp) / "westmorland-furness.yaml"
        rules.write_text(edited(WFSCP_FILE.read_text(encoding="utf-8"), edit), encoding="utf-8")
        with data_folder(folder):
            url = f"sqlite:///{folder / 'govcal.db'}"
            before = snapshot(url)
            synced = CliRunner().invoke(
                app, ["sync", "--rules", str(rules), "--as-of", EDIT_DAY.isoformat()]
            )
            assert synced.exit_code == 0, synced.output
            after = snapshot(url)

            past = {i: v for i, v in before.items() if v[0] < EDIT_DAY}
            assert {i: after.get(i) for i in past} == past, edit  # history, exactly as it was
            invented = {i for i, v in after.items() if i not in before and v[0] < EDIT_DAY}
            assert not invented, (edit, sorted(invented))

            from govcal.flows.steps import plan
            from govcal.rules.loader import load_partnerships

            with Session(get_engine(url)) as s:
                planned = plan(s, load_partnerships([rules]), EDIT_DAY)
            known = {v[-1] for v in before.values()}
            chased = {
                p.item.public_id
                for p in planned
                if p.item.ref not in known and p.item.due < EDIT_DAY
            }
            assert not chased, (edit, sorted(chased))
