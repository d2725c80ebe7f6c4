"""One benchmark phase per process, so each reports its own peak memory.

    .venv/bin/python -m bench.phases PHASE --data DIR --db URL [--as-of DAY]

Prints one JSON line: the phase, its figures (seconds, counts) and `peak_rss_mb` (the
process's maximum resident set, from getrusage). Run by bench/run.py; usable alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import socket
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HISTORY_YEARS = 10


def _partnerships(data: Path):
    from govcal.rules.loader import load_partnerships

    return load_partnerships([data / "rules"])


def _subjects(data: Path, pid: str):
    from govcal.rules.model import Per, Subject

    def read(name: str) -> list[dict[str, str]]:
        with (data / "directory" / pid / name).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    return {
        Per.AGENCY: tuple(Subject(r["code"], r["name"], r["type"]) for r in read("agencies.csv")),
        Per.SCHOOL: tuple(Subject(r["code"], r["name"], r["phase"]) for r in read("schools.csv")),
    }


def window(as_of: date) -> tuple[date, date]:
    """Ten years of history up to `as_of` plus the sync horizon's 18 months ahead."""
    return as_of.replace(year=as_of.year - HISTORY_YEARS), as_of + timedelta(days=548)


def expand_all(data: Path, as_of: date, **_) -> dict:
    """Phase 1: the pure engine over every partnership for ten years."""
    from govcal.rules.expand import expand
    from govcal.rules.model import ExpansionContext

    t0 = time.perf_counter()
    partnerships = _partnerships(data)
    contexts = {p.id: ExpansionContext(subjects=_subjects(data, p.id)) for p in partnerships}
    loaded = time.perf_counter()
    start, end = window(as_of)
    count = sum(len(expand(p, start, end, contexts[p.id])) for p in partnerships)
    done = time.perf_counter()
    return {
        "partnerships": len(partnerships),
        "occurrences": count,
        "load_s": loaded - t0,
        "expand_s": done - loaded,
    }


def sync_db(data: Path, as_of: date, db: str, **_) -> dict:
    """Phase 2: directory import and the sync of ten years into the database, then a
    realistic history: 80% done on time, 8% late, 2% waived, 10% never done."""
    from sqlalchemy import bindparam
    from sqlmodel import col, update

    from govcal.models import OccurrenceRow
    from govcal.models.calendar import Lifecycle
    from govcal.models.chunks import chunks
    from govcal.models.db import session_scope, upgrade
    from govcal.models.directory_import import import_directory
    from govcal.models.sync import sync_partnership
    from govcal.models.types import table_of

    upgrade(db)
    partnerships = _partnerships(data)
    t0 = time.perf_counter()
    with session_scope(db) as s:
        for p in partnerships:
            import_directory(s, data / "directory" / p.id, p, actor="bench")
    imported = time.perf_counter()
    months = HISTORY_YEARS * 12
    created = 0
    with session_scope(db) as s:
        for p in partnerships:
            created += sync_partnership(s, p, as_of, horizon_months=months, actor="bench").created
    synced = time.perf_counter()
    rng = random.Random(2026)
    done_on_time, late, waived = [], [], []
    with session_scope(db) as s:
        past = s.exec(
            table_of(OccurrenceRow)
            .select()
            .with_only_columns(OccurrenceRow.id, OccurrenceRow.due)
            .where(OccurrenceRow.due < as_of)
        ).all()
        for ref, due in past:
            roll = rng.random()
            noon = datetime.combine(due, datetime.min.time(), UTC) + timedelta(hours=12)
            if roll < 0.80:
                done_on_time.append({"i": ref, "at": noon})
            elif roll < 0.88:
                late.append({"i": ref, "at": noon + timedelta(days=20)})
            elif roll < 0.90:
                waived.append(ref)
        table = table_of(OccurrenceRow)
        for batch in (done_on_time, late):
            if batch:
                s.connection().execute(
                    table.update()
                    .where(table.c.id == bindparam("i"))
                    .values(
                        lifecycle=Lifecycle.COMPLETED.value,
                        completed_at=bindparam("at"),
                        completed_by="bench",
                        evidence_url="https://example.org/evidence",
                    ),
                    batch,
                )
        for chunk in chunks(waived):
            s.exec(
                update(OccurrenceRow)
                .where(col(OccurrenceRow.id).in_(chunk))
                .values(lifecycle=Lifecycle.WAIVED.value, reason="bench")
            )
    historied = time.perf_counter()
    return {
        "partnerships": len(partnerships),
        "occurrences_created": created,
        "import_s": imported - t0,
        "sync_s": synced - imported,
        "history_s": historied - synced,
        "past": len(past),
    }


def sweep(data: Path, as_of: date, db: str, **_) -> dict:
    """Phase 3: the daily sweep: every partnership's dashboard (each open occurrence and
    return evaluated as of the day) and the plan of the day's messages for all of them."""
    from sqlmodel import func, select

    from govcal.flows.dashboard import build_all
    from govcal.flows.steps import plan
    from govcal.models import AuditReturn, OccurrenceRow
    from govcal.models.calendar import Lifecycle
    from govcal.models.db import session_scope

    partnerships = _partnerships(data)
    with session_scope(db) as s:
        t0 = time.perf_counter()
        boards = build_all(s, partnerships, as_of)
        evaluated = time.perf_counter()
        planned = plan(s, partnerships, as_of)
        planned_at = time.perf_counter()
        is_open = OccurrenceRow.lifecycle == Lifecycle.OPEN.value
        open_count = s.exec(select(func.count()).select_from(OccurrenceRow).where(is_open)).one()
        total = s.exec(select(func.count()).select_from(OccurrenceRow)).one()
        return_count = s.exec(select(func.count()).select_from(AuditReturn)).one()
    return {
        "occurrences": total,
        "open": open_count,
        "returns": return_count,
        "evaluated": sum(sum(b.counts.values()) for b in boards),
        "planned": len(planned),
        "dashboards_s": evaluated - t0,
        "plan_s": planned_at - evaluated,
        "sweep_s": planned_at - t0,
    }


def deliver(data: Path, as_of: date, db: str, **_) -> dict:
    """Phase 4: plan, record, then deliver the first 1,000 messages of a heavy day (the
    S175 28-day reminders to every school's DSL) to a real SMTP server on 127.0.0.1
    (aiosmtpd, in a thread of this process)."""
    from aiosmtpd.controller import Controller

    from govcal.flows.steps import plan, record, send
    from govcal.models.db import session_scope
    from govcal.notifications.render import Sender
    from govcal.notifications.transport import SmtpSettings, SmtpTransport

    class Count:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Count.received += 1
            return "250 OK"

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    day = date(as_of.year + 1, 3, 3)  # S175 returns are due 31 March: 28 days before
    partnerships = _partnerships(data)
    transport = SmtpTransport(SmtpSettings("127.0.0.1", port, security="none", timeout=30))
    try:
        with session_scope(db) as s:
            t0 = time.perf_counter()
            recorded = record(s, plan(s, partnerships, day))
            planned_at = time.perf_counter()
            _hold_back_all_but(s, 1000)
            t1 = time.perf_counter()
            report, _ = send(s, partnerships, day, transport, Sender("govcal", "g@example.org"))
            sent_at = time.perf_counter()
    finally:
        controller.stop()
    return {
        "recorded": len(recorded),
        "messages": report.messages_sent,
        "notices": report.rows_sent,
        "received": Count.received,
        "connections": transport.connections_opened,
        "plan_record_s": planned_at - t0,
        "deliver_s": sent_at - t1,
        "per_1000_s": (sent_at - t1) * 1000 / max(report.messages_sent, 1),
    }


def _hold_back_all_but(session, recipients: int) -> None:
    """Keep the pending rows of the first N recipients (one digest each); park the rest."""
    from sqlmodel import col, select, update

    from govcal.models.chunks import chunks
    from govcal.models.ledger import Delivery, LedgerEntry

    pending = session.exec(
        select(LedgerEntry.id, LedgerEntry.recipient).where(
            LedgerEntry.status == Delivery.PENDING.value
        )
    ).all()
    keep = set(sorted({r for _, r in pending})[:recipients])
    held = [i for i, r in pending if r not in keep]
    for chunk in chunks(held):
        session.exec(
            update(LedgerEntry)
            .where(col(LedgerEntry.id).in_(chunk))
            .values(status=Delivery.SKIPPED.value, last_error="bench: held back")
        )
    session.commit()


def naive(data: Path, as_of: date, db: str, **_) -> dict:
    """Phase 5: the naive design, one Prefect task per open item, on every item the sweep
    evaluates (no sample, no extrapolation), against the API in PREFECT_API_URL; and the
    same evaluation batched in one task of one flow."""
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=False)
    from prefect import flow, task

    from govcal.models.db import session_scope
    from govcal.models.status import status_of, status_rows

    with session_scope(db) as s:
        rows = [r.row for r in status_rows(s, as_of, ahead_days=60)]
    items = [(r.due, r.completed_at is not None) for r in rows]

    @task
    def evaluate_one(due: date, completed: bool) -> str:
        return "done" if completed else "open"

    @flow(name="bench-naive")
    def one_task_per_item(items: list) -> int:
        futures = [evaluate_one.submit(due, completed) for due, completed in items]
        return len([f.result() for f in futures])

    @task
    def evaluate_all(items: list) -> int:
        return sum(1 for r in rows if status_of(r, as_of, 14, ZoneInfo("Europe/London")))

    @flow(name="bench-batched")
    def batched(items: list) -> int:
        return evaluate_all(items)

    t0 = time.perf_counter()
    batched(items)
    batched_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        one_task_per_item(items)
        naive_s, failed = time.perf_counter() - t0, ""
    except Exception as exc:  # the local server refusing the load is a finding too
        naive_s, failed = time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"[:200]
    return {"items": len(items), "naive_s": naive_s, "batched_s": batched_s, "naive_failed": failed}


def dashboard(data: Path, as_of: date, db: str, **_) -> dict:
    """The publish-dashboard task alone, in a one-task flow, against PREFECT_API_URL (a
    long-lived server) or the ephemeral API: every partnership's board read from the
    database and its artifacts posted. The same code in an older tree (PYTHONPATH) gives
    the before figure."""
    import os

    os.environ.update({"GOVCAL_DATABASE_URL": db, "GOVCAL_RULES_PATH": str(data / "rules")})
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=False)
    from prefect import flow

    from govcal.flows.tasks import publish_dashboard, run_runtime

    @flow(name="bench-dashboard")
    def publish(day: date) -> list[str]:
        return publish_dashboard(run_runtime(), day)

    publish(as_of)  # Prefect's own start (the ephemeral API, the first flow run): untimed
    t0 = time.perf_counter()
    keys = publish(as_of)
    return {"artifacts": len(keys), "dashboard_s": time.perf_counter() - t0}


PHASES = {
    "expand": expand_all,
    "sync": sync_db,
    "sweep": sweep,
    "deliver": deliver,
    "naive": naive,
    "dashboard": dashboard,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--db", default="")
    # ten years after the templates' rules begin (2025), so the history is ten years deep
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2035, 11, 26))
    args = parser.parse_args()
    t0 = time.perf_counter()
    figures = PHASES[args.phase](data=args.data, as_of=args.as_of, db=args.db)
    figures["total_s"] = time.perf_counter() - t0
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"phase": args.phase, **figures}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
