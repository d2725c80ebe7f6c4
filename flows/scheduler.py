"""`govcal serve`: the flows on schedule in-process, with APScheduler, no server needed.

Jobs live in a persistent job store in govcal's own database. On restart a job whose
trigger is unchanged is kept as stored, so a run missed while govcal was down is still
due: it runs once (misfires coalesced), then the schedule carries on.

The schedule has one source, prefect.yaml: every deployment with a schedule becomes a
job here (same flow, parameters, cron and time zone), so the embedded mode cannot miss
one production runs (it once had three jobs of five, and never opened an S11 or S175
cycle).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from govcal.rules.model import DEFAULT_TIMEZONE

JOB_TABLE = "apscheduler_jobs"
PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # cron: 0 and 7 are Sunday


class ScheduleError(ValueError):
    """prefect.yaml's schedules cannot be read; the message says where and what."""


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    func: Callable[..., Any] | str  # a module-level function (jobs are pickled)
    trigger: BaseTrigger
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def run_deployment(entrypoint: str, parameters: dict[str, Any]) -> None:
    """Run a deployment's flow in this process, as a worker would run it."""
    path, _, name = entrypoint.partition(":")
    module = importlib.import_module("govcal." + path.removesuffix(".py").replace("/", "."))
    getattr(module, name)(**parameters, return_state=True)  # a failed run ends Failed


def default_jobs(
    timezone: str = DEFAULT_TIMEZONE, prefect_yaml: Path = PREFECT_YAML
) -> list[ScheduledJob]:
    """One job per scheduled deployment of prefect.yaml: its flow, parameters, cron and
    time zone (`timezone` when a schedule names none). Raises ScheduleError."""
    try:
        deployments = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8"))["deployments"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ScheduleError(f"{prefect_yaml}: its deployments cannot be read ({exc})") from None
    jobs = []
    for deployment in deployments:
        for schedule in deployment.get("schedules") or []:
            name, cron = deployment["name"], schedule.get("cron")
            if not cron:
                raise ScheduleError(f"{prefect_yaml}: {name}: only cron schedules are run")
            zone = schedule.get("timezone") or timezone
            jobs.append(
                ScheduledJob(
                    name,
                    "govcal.flows.scheduler:run_deployment",
                    cron_trigger(cron, zone),
                    args=(deployment["entrypoint"], dict(deployment.get("parameters") or {})),
                )
            )
    return jobs


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """A five-field cron line as APScheduler's trigger. Day names, not numbers:
    APScheduler counts Monday as 0, cron counts Sunday as 0."""
    fields = cron.split()
    if len(fields) != 5:
        raise ScheduleError(f"cron '{cron}': expected five fields (minute hour day month weekday)")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_day_names(weekday),
        timezone=timezone,
    )


def _day_names(weekday: str) -> str:
    """cron's weekday numbers as names ("1-5" -> "mon-fri"); "*" and names as they are."""

    def name(part: str) -> str:
        return _DAYS[int(part)] if part.isdigit() and int(part) < len(_DAYS) else part

    return ",".join("-".join(name(p) for p in item.split("-")) for item in weekday.split(","))


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
        if (
            stored is not None
            and str(stored.trigger) == str(job.trigger)
            and (tuple(stored.args), dict(stored.kwargs)) == (job.args, job.kwargs)
        ):
            kept.append(job.id)
            continue
        scheduler.add_job(
            job.func,
            job.trigger,
            args=job.args,
            kwargs=job.kwargs,
            id=job.id,
            name=job.id,
            replace_existing=True,
        )
    return kept
