"""The daily status query reads through indexes, never the whole occurrence table.

The plan is read from the database itself (EXPLAIN on the statement SQLAlchemy really
sends, with its parameters), on SQLite and on PostgreSQL. PostgreSQL is asked with
sequential scans discouraged, since an empty test table makes any plan cheap: the test
shows that an index path exists for every part of the query.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import event
from sqlmodel import select

from govcal.models.db import get_engine, session_scope
from govcal.models.status import status_rows


def plan_of_status_query(url: str, **options) -> str:
    return plans_of(url, "occurrence", lambda s: status_rows(s, date(2026, 11, 24), **options))


def _full_scan(plan: str) -> bool:
    return "SCAN occurrence" in plan or "Seq Scan on occurrence" in plan


def test_the_all_partnership_status_query_reads_only_through_indexes(db_url):
    """Open items by (lifecycle, due), recent completions by (lifecycle, completed_at):
    ten years of completed history are never read."""
    plan = plan_of_status_query(db_url, ahead_days=60)
    assert "ix_occurrence_open_due" in plan, plan
    assert "ix_occurrence_completed" in plan, plan
    assert not _full_scan(plan), plan


def test_one_partnerships_status_query_never_scans_the_table(db_url):
    for options in ({"partnership_id": "wfscp"}, {"partnership_ids": ["wfscp", "cscp-2023"]}):
        plan = plan_of_status_query(db_url, ahead_days=60, **options)
        assert "ix_occurrence_" in plan and not _full_scan(plan), plan


def plans_of(url: str, table: str, read) -> str:
    """The plans of the statements on `table` that `read(session)` sends."""
    engine = get_engine(url)
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if f"FROM {table}" not in statement or "EXPLAIN" in statement:
            return
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.extend(str(row[-1]) for row in cursor.fetchall())
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.extend(str(row[0]) for row in cursor.fetchall())

    event.listen(engine, "before_cursor_execute", explain)
    try:
        with session_scope(url) as session:
            read(session)
    finally:
        event.remove(engine, "before_cursor_execute", explain)
    return "\n".join(plans)


def test_the_dashboards_ledger_reads_go_by_occurrence_not_by_status(db_url):
    """Each partnership's dashboard asks the ledger about its own items: read through the
    (occurrence, stage, recipient) key, never every partnership's sent rows by status
    (quadratic in a national day: 160 dashboards each reading 35,000 rows)."""
    from govcal.models import escalations, ledger

    def read(session):
        ledger.flagged(session, [1, 2, 3])
        escalations.escalations(session, [1, 2, 3])
        ledger.invited_pairs(session, [1, 2, 3])

    plan = plans_of(db_url, "notification_ledger", read)
    assert plan and "ix_ledger_status_next" not in plan, plan
    assert "SCAN notification_ledger" not in plan and "Seq Scan on notification_ledger" not in plan


def test_sync_reads_completions_by_partnership_and_rule(db_url):
    """Sync reads the completions that move a date through the partnership's unique key,
    not every partnership's completions through (lifecycle, completed_at)."""
    from govcal.models import queries

    plan = plans_of(
        db_url, "occurrence", lambda s: queries.completions(s, "wfscp", {"annual-report"})
    )
    assert plan and "ix_occurrence_completed" not in plan and not _full_scan(plan), plan


def test_reads_by_public_id_go_through_the_public_id_not_the_partnership(db_url):
    """Sync looks occurrences up by public id (new ones, changed ones, audit returns):
    on SQLite through the public id's index, never every occurrence of the partnership
    per 500 ids (28 s of a national ten-year sync); on PostgreSQL through an index."""
    from govcal.models import queries

    keys = [f"wfscp:lsp-meeting:2026-{month:02d}-13" for month in range(1, 13)]  # 3+ ids

    def read(session):
        queries.occurrence_ids(session, "wfscp", keys)
        queries.occurrences_by_keys(session, "wfscp", keys)
        queries.occurrence_columns(session, "wfscp", keys=keys)

    plan = plans_of(db_url, "occurrence", read)
    assert plan and not _full_scan(plan), plan
    if "sqlite" in db_url:  # no statistics: PostgreSQL may choose (models/queries.py)
        assert "ix_occurrence_partnership_due" not in plan, plan


def test_the_claimed_rows_are_read_by_id_not_by_partnership(db_url, wfscp):
    """Delivery reads the items of the claimed ledger rows by their ids: through the
    primary key, never every occurrence of the partnership per 500 ids (a national day
    claims thousands of rows, each partnership holds ten years of history)."""
    from datetime import date

    from govcal.models.notify_inputs import items_by_ids

    def read(session):
        from govcal.models.calendar import OccurrenceRow
        from govcal.models.sync import register_partnership

        register_partnership(session, wfscp)
        for month in range(1, 5):  # stored rows, so each id reaches the item query
            day = date(2026, month, 13)
            session.add(
                OccurrenceRow(
                    partnership_id="wfscp",
                    rule_id="lsp-meeting",
                    public_id=f"wfscp:lsp-meeting:{day}",
                    period=str(day),
                    title="LSP meeting",
                    kind="meeting",
                    owner_role="lsp",
                    due=day,
                )
            )
        session.flush()
        items_by_ids(session, [wfscp], [1, 2, 3, 4], date(2026, 1, 1))

    plan = plans_of(db_url, "occurrence", read)
    assert plan and "ix_occurrence_partnership_due" not in plan and not _full_scan(plan), plan


def test_the_national_plan_reads_open_items_by_lifecycle_never_ten_years(db_url, wfscp):
    """The plan of several partnerships reads their open items in one query through
    an index led by the lifecycle (SQLite: (lifecycle, due)), never each partnership's
    ten years through (partnership, due), nor the table."""
    from datetime import date

    from govcal.models.notify_inputs import open_items
    from govcal.rules.loader import load_partnership

    older = load_partnership("cscp-2023")
    plan = plans_of(db_url, "occurrence", lambda s: open_items(s, [wfscp, older], date(2026, 1, 1)))
    assert "ix_occurrence_partnership_due" not in plan and not _full_scan(plan), plan
    assert "ix_occurrence_open_due" in plan or "postgres" in db_url, plan


@pytest.mark.postgres
def test_the_planner_knows_the_tables_as_the_syncs_bulk_load_leaves_them(postgres_url, tmp_path):
    """A first sync loads ten years of each partnership in one transaction, which
    autovacuum never sees (and this server runs none). Without statistics PostgreSQL
    guessed the rows per page from the column types (six times too few), costed a scan
    of every partnership's rows per 500 ids as cheap, and kept plans prepared while the
    table was nearly empty: the ten-year sync grew with the square of the partnerships
    (557 s at 40). As the loads leave them, inside the same transaction, the planner
    counts the occurrences and audit returns within a quarter of the truth, and the last
    partnership's reads by 500 ids go through an index, never a scan of every row."""
    from sqlalchemy import text

    from bench.generate import generate
    from govcal.models.db import get_engine, upgrade
    from govcal.models.directory_import import import_directory
    from govcal.models.sync import sync_partnership
    from govcal.rules.loader import load_partnerships

    generate(tmp_path, partnerships=6, schools=960)  # 160 schools each, as at 1x
    partnerships = load_partnerships([tmp_path / "rules"])
    upgrade(postgres_url)
    with session_scope(postgres_url) as session:
        for partnership in partnerships:
            import_directory(session, tmp_path / "directory" / partnership.id, partnership)
    engine = get_engine(postgres_url)
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT") and "FROM occurrence" in statement:
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(str(row[0]) for row in cursor.fetchall()))

    *first, last = partnerships
    with session_scope(postgres_url) as session:
        for partnership in first:
            sync_partnership(session, partnership, date(2035, 11, 26), horizon_months=120)
        event.listen(engine, "before_cursor_execute", explain)
        try:  # the last one's reads, planned on the table as the loads left it
            sync_partnership(session, last, date(2035, 11, 26), horizon_months=120)
        finally:
            event.remove(engine, "before_cursor_execute", explain)
        by_ids = [plan for plan in plans if "public_id" in plan]
        assert len(by_ids) >= 8, plans  # its new ids, then their database ids, by 500
        scans = [plan for plan in by_ids if "Seq Scan on occurrence" in plan]
        assert not scans, scans[0][:300]
        for table in ("occurrence", "audit_return"):
            rows = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            plan = session.execute(text(f"EXPLAIN SELECT * FROM {table}")).scalar_one()
            estimate = int(re.search(r"rows=(\d+)", plan).group(1))
            assert rows > 5_000 and 0.75 * rows <= estimate <= 1.25 * rows, (table, rows, plan)


@pytest.mark.postgres
def test_two_first_syncs_at_once_never_wait_on_each_others_statistics(postgres_url, tmp_path):
    """Two workers loading different partnerships at once: ANALYZE's lock is held to the
    end of a transaction, so the second sync skips a table the first is counting rather
    than waiting for the first to commit (or deadlocking with it)."""
    import threading

    from bench.generate import generate
    from govcal.models.db import upgrade
    from govcal.models.directory_import import import_directory
    from govcal.models.sync import sync_partnership
    from govcal.rules.loader import load_partnerships

    generate(tmp_path, partnerships=2, schools=320)
    first, second = partnerships = load_partnerships([tmp_path / "rules"])
    upgrade(postgres_url)
    with session_scope(postgres_url) as session:
        for partnership in partnerships:
            import_directory(session, tmp_path / "directory" / partnership.id, partnership)
    as_of = date(2035, 11, 26)
    done = threading.Event()

    def other_worker() -> None:
        with session_scope(postgres_url) as session:
            sync_partnership(session, second, as_of, horizon_months=120)
        done.set()

    with session_scope(postgres_url) as session:
        sync_partnership(session, first, as_of, horizon_months=120)  # counted, not committed
        worker = threading.Thread(target=other_worker, daemon=True)
        worker.start()
        finished = done.wait(timeout=120)
    worker.join(timeout=120)
    assert finished, "the second sync waited for the first one's transaction to end"


def statements_on(url: str, table: str, write) -> list[str]:
    """The statements on `table` that `write(session)` sends (each executemany once)."""
    engine = get_engine(url)
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if f" {table}" in statement:
            sent.append(statement.split(None, 1)[0])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(url) as session:
            write(session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent


def test_a_days_feeds_are_kept_in_a_few_statements_however_many_there_are(db_url):
    """A national day keeps 32,000 feeds: their digests are read by 500 keys and the
    changes written in bulk, never one query per feed (a round trip each on PostgreSQL).
    A feed whose bytes are unchanged keeps its ETag and date; a changed one gets new
    ones; a new one is added."""
    from govcal.models.served_feeds import ServedFeed, store

    day_one = {f"person{n}@example.org": b"BEGIN:VCALENDAR %d" % n for n in range(1_200)}
    first = statements_on(db_url, "served_feed", lambda s: store(s, day_one))
    day_two = {**day_one, "person7@example.org": b"changed", "new@example.org": b"new"}
    with session_scope(db_url) as session:
        before = {row.key: row for row in session.exec(select(ServedFeed)).all()}
    second = statements_on(db_url, "served_feed", lambda s: store(s, day_two))
    assert len(first) <= 4 and len(second) <= 5, (first, second)  # 3 reads of 500, writes
    with session_scope(db_url) as session:
        after = {row.key: row for row in session.exec(select(ServedFeed)).all()}
    assert len(after) == 1_201 and after["new@example.org"].content == b"new"
    assert after["person7@example.org"].content == b"changed"
    assert after["person7@example.org"].etag != before["person7@example.org"].etag
    same = after["person8@example.org"], before["person8@example.org"]
    assert (same[0].etag, same[0].changed_at) == (same[1].etag, same[1].changed_at)
