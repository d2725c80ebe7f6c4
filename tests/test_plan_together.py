"""The national plan reads every partnership's items together (one query of each kind);
each partnership must get exactly the items it gets when planned alone."""

from __future__ import annotations

from datetime import date

from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.notify_inputs import open_items
from govcal.models.sync import sync_partnership
from govcal.rules.loader import load_partnerships
from tests.support.paths import SAMPLE_DIRECTORY


def test_items_read_together_are_each_partnerships_items_read_alone(tmp_path, migrated_copy):
    """Real SQLite, the sample directory and two partnerships synced: the same items,
    in the same order, with the same agency names, lead partners and attendees; a
    partnership that was not asked for contributes nothing."""
    url = migrated_copy(tmp_path / "plan.db")
    partnerships = {p.id: p for p in load_partnerships()}
    wfscp, older = partnerships["wfscp"], partnerships["cscp-2023"]
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, date(2026, 10, 1))
        sync_partnership(s, older, date(2023, 6, 1))
    day = date(2026, 10, 1)  # cscp-2023 has overdue items, wfscp overdue and ahead
    with session_scope(url) as s:
        together = open_items(s, [wfscp, older], day)
        alone = [*open_items(s, [wfscp], day), *open_items(s, [older], day)]
        only_one = open_items(s, [older], day, invite_window_days=0)
    assert together == alone
    assert {i.partnership for i in together} == {"wfscp", "cscp-2023"}
    assert any(i.subject_name and i.owning_agency for i in together)
    assert any(i.kind == "meeting" and i.attendees for i in together)
    assert {i.partnership for i in only_one} == {"cscp-2023"}
