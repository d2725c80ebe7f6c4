"""Prefect tasks: thin wrappers over flows/steps.py, one task per step of a job.

Work inside a task is batched (one query per kind of data, one SMTP connection per
batch); there is never one task per occurrence or per email.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.utilities.annotations import quote

from govcal.flows import cockpit_csv, dashboard, steps
from govcal.flows.publish import Publisher, PublishError, as_posted, board_artifacts
from govcal.flows.runtime import Runtime, build_runtime, web_secret
from govcal.models.db import session_scope
from govcal.models.status import status_rows
from govcal.models.sync import sync_all
from govcal.models.trail import Channel
from govcal.rules.model import active_partnerships


def _log() -> Any:
    """The run's logger in a Prefect run; Python's when a task's function is called on
    its own (the day's work done without Prefect's API, flows/jobs.py)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("govcal.flows")


def run_runtime(rules: str | None = None) -> Runtime:
    """A flow run's runtime, built once and handed to each of its tasks: from the rule
    file or folder the run was given (`govcal run --rules FILE`), else the configured
    ones; a broken file's problems go to the log."""
    runtime = build_runtime(rules=Path(rules) if rules else None)
    for line in runtime.rule_warnings():
        _log().warning("rule file: %s", line)
    return runtime


def _of_share(runtime: Runtime, share: list[str] | None) -> list[Any]:
    """The run's partnerships, or those of one share of the national day."""
    if share is None:
        return list(runtime.partnerships)
    return [p for p in runtime.partnerships if p.id in set(share)]


def handed(runtime: Runtime) -> Runtime:
    """The runtime as a task's argument. Every task is handed the flow run's Runtime: the
    tasks run in the flow's process (Prefect's default task runner: threads), so it is
    the same object, not a copy. quote() keeps Prefect from walking it for futures
    (about 1,000 objects per partnership); Prefect unwraps it before the task runs, so
    the task is given the Runtime itself, as typed. NO_CACHE on each task keeps Prefect
    from hashing it for a cache key."""
    return cast(Runtime, quote(runtime))


@task(name="sync-calendar", cache_policy=NO_CACHE)
def sync_task(
    runtime: Runtime, as_of: date, share: list[str] | None = None
) -> list[dict[str, Any]]:
    with session_scope(runtime.settings) as session:
        reports = sync_all(
            session,
            _of_share(runtime, share),
            as_of,
            horizon_months=runtime.settings.sync_horizon_months,
            actor="prefect",
            channel=Channel.SYNC,
        )
    summary = [
        {k: v for k, v in asdict(r).items() if k not in ("changes", "window")}
        | {"left_alone": r.left_alone()}
        for r in reports
    ]
    _log().info("synced %s", summary)
    return summary


@task(name="evaluate-states", cache_policy=NO_CACHE)
def evaluate_task(runtime: Runtime, as_of: date, share: list[str] | None = None) -> dict[str, int]:
    """Counts by state across every partnership (or one share's), as of the day."""
    with session_scope(runtime.settings) as session:
        rows = status_rows(session, as_of, ahead_days=60, partnership_ids=share)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status.state.value] = counts.get(r.status.state.value, 0) + 1
    return counts


@task(name="read-mailbox", cache_policy=NO_CACHE)
def mailbox_task(runtime: Runtime) -> dict[str, Any]:
    """Read the mailbox back (flows/mailbox.py). A mailbox that cannot be read now is
    a line in the result, not a failed day: the next run reads what this one did not."""
    from govcal.flows.mailbox import read_mailbox
    from govcal.notifications.imap import MailboxError

    logger = get_run_logger()
    if not runtime.settings.imap_host:
        return {"skipped": "GOVCAL_IMAP_HOST is not set"}
    try:
        with runtime.mailbox() as box, session_scope(runtime.settings) as session:
            report = read_mailbox(
                session,
                box,
                runtime.partnerships,
                mail_from=runtime.settings.mail_from,
                progress=logger.info,
            )
    except MailboxError as exc:
        logger.warning("mailbox not read: %s", exc)
        return {"problem": str(exc)}
    logger.info(report.summary())
    for line in report.lines[:50]:
        logger.info(line)
    return report.as_result()


@task(name="deliver-notifications", cache_policy=NO_CACHE)
def notify_task(
    runtime: Runtime,
    as_of: date,
    kinds: list[str] | None = None,
    share: list[str] | None = None,
) -> dict[str, Any]:
    with session_scope(runtime.settings) as session:
        report = steps.notify(
            session,
            _of_share(runtime, share),
            as_of,
            runtime.transport(),
            runtime.sender,
            settings=runtime.settings,
            invite_window_days=runtime.settings.invite_window_days,
            budget=timedelta(seconds=runtime.settings.delivery_time_budget),
            lease=timedelta(seconds=runtime.settings.claim_lease),
            kinds=frozenset(kinds) if kinds is not None else None,
            share=share is not None,
        )
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
        _log().warning("%d delivery problem(s), e.g. %s", len(d.errors), d.errors[0])
    return result


IN_PROCESS_AT_MOST = 40  # artifacts; more go to a poster process (flows/publish.py)


@task(name="build-dashboard", cache_policy=NO_CACHE)
def build_dashboard_task(
    runtime: Runtime,
    as_of: date,
    sent: dict[str, int] | None = None,
    only: str | None = None,
    share: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Per partnership: the summary, the open-items table, and one table per audit rule
    for its current cycle, ready to post. The boards are read together (one query of each
    kind for all partnerships); `only` rebuilds one partnership (after a change made from
    a form). A partnership running on the last good version of its broken rule file is
    told so at the top of its summary; with a public address for the web app, the
    summary links each table as CSV (flows/cockpit_csv.py)."""
    among = active_partnerships(_of_share(runtime, share), as_of)
    chosen = [p for p in among if only in (None, p.id)]
    csv_key = web_secret(runtime.settings) if runtime.settings.public_url else None
    artifacts = []
    with session_scope(runtime.settings) as session:
        for board in dashboard.build_all(session, chosen, as_of):
            board.rule_problems = runtime.rule_problems_of(board.partnership)
            if csv_key is not None and runtime.settings.public_url:
                board.downloads = cockpit_csv.links(board, runtime.settings.public_url, csv_key)
            if board.items or board.cycles or board.rule_problems:
                artifacts += as_posted(board_artifacts(board, as_of, sent))
    return artifacts


@task(name="publish-dashboard", cache_policy=NO_CACHE)
def publish_dashboard_task(artifacts: list[dict[str, Any]]) -> list[str]:
    """Post the built artifacts, a handful of API calls per partnership whatever its size,
    by a process of their own (flows/publish.py); a returns table only if it changed.
    Returns every key, posted or found unchanged; a run whose artifacts were not all
    taken ends Failed with one line saying why (no traceback: the API is what failed)."""
    try:
        with Publisher(
            in_process=len(artifacts) <= IN_PROCESS_AT_MOST, count=len(artifacts)
        ) as post:
            post(artifacts)
    except PublishError as refused:
        from prefect.states import Failed

        return Failed(message=str(refused))  # type: ignore[return-value]
    get_run_logger().info(
        "artifacts: %d posted, %d unchanged (poster's seconds: %s)",
        post.posted,
        post.unchanged,
        post.report.get("seconds"),
    )
    return [a["key"] for a in artifacts if a["key"]]


def publish_dashboard(
    runtime: Runtime,
    as_of: date,
    sent: dict[str, int] | None = None,
    only: str | None = None,
) -> list[str]:
    """Build the boards, then post them: the two tasks in turn, as a form's run does."""
    return publish_dashboard_task(build_dashboard_task(handed(runtime), as_of, sent, only))


@task(name="publish-feeds", cache_policy=NO_CACHE)
def feeds_task(runtime: Runtime, as_of: date, share: list[str] | None = None) -> int:
    with session_scope(runtime.settings) as session:
        written = steps.publish_feeds(
            session, _of_share(runtime, share), as_of, runtime.settings.effective_feeds_dir
        )
    return len(written)
