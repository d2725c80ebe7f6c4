"""`govcal serve`: the flows on schedule in-process, with APScheduler, no server needed.

Jobs live in a persistent job store in govcal's own database. On restart a job whose
trigger is unchanged is kept as stored, so a run missed while govcal was down is still
due: it runs once (misfires coalesced), then the schedule carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from rules.model import DEFAULT_TIMEZONE

JOB_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    func: Callable[..., Any] | str  # a module-level function (jobs are pickled)
    trigger: BaseTrigger


def run_daily_compliance() -> None:
    from flows.jobs import daily_compliance

    daily_compliance(return_state=True)  # a run with mail left to retry ends Failed


def run_send_invites() -> None:
    from flows.jobs import send_invites

    send_invites(return_state=True)


def run_publish_feeds() -> None:
    from flows.jobs import publish_feeds

    publish_feeds()


def default_jobs(timezone: str = DEFAULT_TIMEZONE) -> list[ScheduledJob]:
    """The same cadence as prefect.yaml, in the partnership's time zone. Day names, not
    numbers: APScheduler counts Monday as 0, unlike cron."""
    return [
        ScheduledJob("daily-compliance", "flows.scheduler:run_daily_compliance",
                     CronTrigger(day_of_week="mon-fri", hour=7, minute=0, timezone=timezone)),
        ScheduledJob("send-invites", "flows.scheduler:run_send_invites",
                     CronTrigger(hour=7, minute=30, timezone=timezone)),
        ScheduledJob("publish-feeds", "flows.scheduler:run_publish_feeds",
                     CronTrigger(minute=5, timezone=timezone)),
    ]  # fmt: skip


def configure(
    scheduler: BaseScheduler, database_url: str, timezone: str = DEFAULT_TIMEZONE
) -> None:
    scheduler.configure(
        jobstores={"default": SQLAlchemyJobStore(url=database_url, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=timezone,
    )


def install(scheduler: BaseScheduler, jobs: list[ScheduledJob]) -> list[str]:
    """Add jobs, keeping any stored job whose trigger is unchanged (and so its missed
    run). Call on a started-but-paused scheduler so the store is open."""
    wanted = {job.id for job in jobs}
    for stored in scheduler.get_jobs():
        if stored.id not in wanted:
            stored.remove()
    kept = []
    for job in jobs:
        stored = scheduler.get_job(job.id)
        if stored is not None and str(stored.trigger) == str(job.trigger):
            kept.append(job.id)
            continue
        scheduler.add_job(job.func, job.trigger, id=job.id, name=job.id, replace_existing=True)
    return kept
