"""Prefect tasks: thin wrappers over flows/steps.py, one task per step of a job.

Work inside a task is batched (one query per kind of data, one SMTP connection per
batch); there is never one task per occurrence or per email.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)

from flows import dashboard, steps
from flows.runtime import build_runtime
from models.db import session_scope
from models.status import status_rows
from models.sync import sync_all
from models.trail import Channel


@task(name="sync-calendar")
def sync_task(as_of: date) -> list[dict[str, Any]]:
    runtime = build_runtime()
    with session_scope() as session:
        reports = sync_all(
            session, runtime.partnerships, as_of,
            horizon_months=runtime.settings.sync_horizon_months, actor="prefect",
            channel=Channel.SYNC,
        )  # fmt: skip
    summary = [
        {k: v for k, v in asdict(r).items() if k not in ("changes", "window")} for r in reports
    ]
    get_run_logger().info("synced %s", summary)
    return summary


@task(name="evaluate-states")
def evaluate_task(as_of: date) -> dict[str, int]:
    """Counts by state across every partnership, as of the day."""
    with session_scope() as session:
        rows = status_rows(session, as_of, ahead_days=60)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status.state.value] = counts.get(r.status.state.value, 0) + 1
    return counts


@task(name="deliver-notifications")
def notify_task(as_of: date, kinds: list[str] | None = None) -> dict[str, Any]:
    runtime = build_runtime()
    with session_scope() as session:
        report = steps.notify(
            session, runtime.partnerships, as_of, runtime.transport(), runtime.sender,
            invite_window_days=runtime.settings.invite_window_days,
            kinds=frozenset(kinds) if kinds is not None else None,
        )  # fmt: skip
    d = report.delivery
    result = {
        "planned": dict(report.counts()),
        "messages_sent": d.messages_sent,
        "notices_sent": d.rows_sent,
        "to_retry": d.rows_retry,
        "refused": d.rows_refused,
        "sent_by_kind": dict(d.by_kind),
        "errors": d.errors[:50],
    }
    if d.errors:
        get_run_logger().warning("%d delivery problem(s), e.g. %s", len(d.errors), d.errors[0])
    return result


@task(name="publish-dashboard")
def dashboard_task(as_of: date, sent: dict[str, int]) -> list[str]:
    """One table, one summary and one progress bar per open audit cycle, per partnership."""
    keys = []
    with session_scope() as session:
        boards = [dashboard.build(session, p, as_of) for p in build_runtime().partnerships]
    for board in boards:
        if not board.table and not board.returns:
            continue
        key = f"compliance-{board.partnership}"
        create_table_artifact(
            table=board.table, key=key,
            description=f"{board.name}: obligations as of {as_of} (latest run)",
        )  # fmt: skip
        create_markdown_artifact(
            markdown=board.markdown(sent), key=f"compliance-summary-{board.partnership}",
            description=f"{board.name}: summary as of {as_of}",
        )  # fmt: skip
        keys += [key, f"compliance-summary-{board.partnership}"]
        for progress in dashboard.current_cycles(board.returns, as_of):
            rule = progress.cycle.split(":")[1]
            progress_key = f"returns-{board.partnership}-{rule}"
            create_progress_artifact(
                progress=round(100 * progress.fraction, 1), key=progress_key,
                description=f"{progress.title} due {progress.due}: {progress.describe()}",
            )  # fmt: skip
            keys.append(progress_key)
    return keys


@task(name="publish-feeds")
def feeds_task(as_of: date) -> int:
    runtime = build_runtime()
    with session_scope() as session:
        written = steps.publish_feeds(
            session, runtime.partnerships, as_of, runtime.settings.effective_feeds_dir
        )
    return len(written)
