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
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HISTORY_YEARS = 10


def _partnerships(data: Path):
    from rules.loader import load_partnerships

    return load_partnerships([data / "rules"])


def _subjects(data: Path, pid: str):
    from rules.model import Per, Subject

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
    from rules.expand import expand
    from rules.model import ExpansionContext

    t0 = time.perf_counter()
    partnerships = _partnerships(data)
    contexts = {p.id: ExpansionContext(subjects=_subjects(data, p.id)) for p in partnerships}
    loaded = time.perf_counter()
    start, end = window(as_of)
    count = sum(len(expand(p, start, end, contexts[p.id])) for p in partnerships)
    done = time.perf_counter()
    return {"partnerships": len(partnerships), "occurrences": count,
            "load_s": loaded - t0, "expand_s": done - loaded}  # fmt: skip


def sync_db(data: Path, as_of: date, db: str, **_) -> dict:
    """Phase 2: directory import and the sync of ten years into the database, then a
    realistic history: 80% done on time, 8% late, 2% waived, 10% never done."""
    from sqlmodel import update

    from models import OccurrenceRow
    from models.calendar import Lifecycle
    from models.db import session_scope, upgrade
    from models.directory_import import import_directory
    from models.sync import sync_partnership

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
            OccurrenceRow.__table__.select()  # type: ignore[attr-defined]
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
        table = OccurrenceRow.__table__  # type: ignore[attr-defined]
        from sqlalchemy import bindparam

        for batch in (done_on_time, late):
            if batch:
                s.connection().execute(
                    table.update().where(table.c.id == bindparam("i"))
                    .values(lifecycle=Lifecycle.COMPLETED.value, completed_at=bindparam("at"),
                            completed_by="bench", evidence_url="https://example.org/evidence"),
                    batch,
                )  # fmt: skip
        for i in range(0, len(waived), 500):
            s.exec(update(OccurrenceRow).where(OccurrenceRow.id.in_(waived[i : i + 500]))  # type: ignore[union-attr]
                   .values(lifecycle=Lifecycle.WAIVED.value, reason="bench"))  # fmt: skip
    historied = time.perf_counter()
    return {"partnerships": len(partnerships), "occurrences_created": created,
            "import_s": imported - t0, "sync_s": synced - imported,
            "history_s": historied - synced, "past": len(past)}  # fmt: skip


def sweep(data: Path, as_of: date, db: str, **_) -> dict:
    """Phase 3: the daily sweep: every partnership's dashboard (each open occurrence and
    return evaluated as of the day) and the plan of the day's messages for all of them."""
    from sqlmodel import func, select

    from flows.dashboard import build
    from flows.steps import plan
    from models import AuditReturn, OccurrenceRow
    from models.calendar import Lifecycle
    from models.db import session_scope

    partnerships = _partnerships(data)
    with session_scope(db) as s:
        t0 = time.perf_counter()
        boards = [build(s, p, as_of) for p in partnerships]
        evaluated = time.perf_counter()
        planned = plan(s, partnerships, as_of)
        planned_at = time.perf_counter()
        is_open = OccurrenceRow.lifecycle == Lifecycle.OPEN.value
        open_count = s.exec(select(func.count()).select_from(OccurrenceRow).where(is_open)).one()
        total = s.exec(select(func.count()).select_from(OccurrenceRow)).one()
        return_count = s.exec(select(func.count()).select_from(AuditReturn)).one()
    return {"occurrences": total, "open": open_count, "returns": return_count,
            "evaluated": sum(sum(b.counts.values()) for b in boards), "planned": len(planned),
            "dashboards_s": evaluated - t0, "plan_s": planned_at - evaluated,
            "sweep_s": planned_at - t0}  # fmt: skip


PHASES = {"expand": expand_all, "sync": sync_db, "sweep": sweep}


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
