"""The national day shared by the workers of a pool.

`national-day` splits the partnerships in force into shares and asks for one `daily-share`
flow run per share through its deployment (Prefect's `run_deployment`): any worker of the
pool takes any share, so a second machine takes part of the day. A share whose run ends
Crashed or Failed (its worker died: Prefect marks a run Crashed when its heartbeats stop,
deploy/zombie-shares.yaml) is asked for once more, on whichever worker is free: a dead
worker costs a retry of its share, not the day. One share that fails never stops the
others. The operators' summary (the `national-day` artifact and the run's result) says
which partnerships ran, which failed and why, and which were still running when the day
was due to be over (late).

Sending stays exactly-once across shares and retries: each share claims only its own
partnerships' ledger rows (models/ledger.py), and a retry finds what the dead run sent
already marked sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, get_client, get_run_logger

from govcal.flows.forms import AsOfDay, RulesPath
from govcal.flows.jobs import the_day
from govcal.flows.tasks import handed, mailbox_task, run_runtime
from govcal.rules.model import active_partnerships

SHARE_DEPLOYMENT = "daily-share/daily-share"
SUMMARY_KEY = "national-day"


@flow(name="daily-share")
def daily_share(
    partnerships: list[str], as_of: AsOfDay = None, rules: RulesPath = None
) -> dict[str, Any]:
    """One share of the national day: the daily steps for these partnerships only."""
    runtime = run_runtime(rules)
    known = {p.id for p in runtime.partnerships}
    unknown = sorted(set(partnerships) - known)
    if unknown:
        from prefect.states import Failed

        return Failed(  # type: ignore[return-value]
            message=f"no rule file for {', '.join(unknown)}; check the share's partnerships"
        )
    return the_day(runtime, as_of or runtime.today(), share=list(partnerships))


def shares_of(ids: list[str], size: int) -> list[list[str]]:
    """Partnerships in shares of `size`, in id order (the same shares every day)."""
    ordered = sorted(ids)
    return [ordered[i : i + size] for i in range(0, len(ordered), max(1, size))]


@dataclass
class Share:
    """One share's runs: the latest flow run asked for, and how its runs ended."""

    partnerships: list[str]
    run_ids: list[UUID] = field(default_factory=list)
    outcome: str = "late"  # ran, failed or late
    message: str = ""
    seconds: float | None = None  # the last run's time running, as Prefect recorded it


def _ask(share: Share, number: int, day: date, rules: str | None) -> None:
    from prefect.deployments import run_deployment

    run = run_deployment(
        SHARE_DEPLOYMENT,
        parameters={"partnerships": share.partnerships, "as_of": day.isoformat(), "rules": rules},
        timeout=0,
        flow_run_name=f"share-{number + 1}-{day.isoformat()}-try-{len(share.run_ids) + 1}",
        tags=["national-day"],
    )
    share.run_ids.append(run.id)  # type: ignore[union-attr]  # sync here: a FlowRun


def _watch(shares: list[Share], day: date, rules: str | None, tries: int, until: float) -> None:
    """Wait for every share's run; a run that crashed or failed is asked for again while
    tries are left; what has not ended by `until` stays late."""
    logger = get_run_logger()
    waiting = set(range(len(shares)))
    with get_client(sync_client=True) as client:
        while waiting and time.monotonic() < until:
            for number in sorted(waiting):
                share = shares[number]
                run = client.read_flow_run(share.run_ids[-1])
                state = run.state
                if state is None or not state.is_final():
                    continue
                share.seconds = run.total_run_time.total_seconds()
                if state.is_completed():
                    share.outcome, share.message = "ran", ""
                    waiting.discard(number)
                    continue
                share.message = f"{state.name}: {state.message or 'no message'}"
                if len(share.run_ids) < tries:
                    logger.warning("share %d (%s) %s; asked again", number + 1,
                                   ", ".join(share.partnerships), share.message)  # fmt: skip
                    _ask(share, number, day, rules)
                    continue
                share.outcome = "failed"
                waiting.discard(number)
            if waiting:
                time.sleep(2)
    for number in waiting:
        shares[number].message = "still running when the day was due to be over"


@flow(name="national-day")
def national_day(
    as_of: AsOfDay = None,
    rules: RulesPath = None,
    share_size: int = 10,
    late_after_minutes: float = 60.0,
    tries: int = 2,
) -> dict[str, Any]:
    """The daily job for every partnership, in shares any worker of the pool takes; the
    summary says which partnerships ran, failed or are late."""
    runtime = run_runtime(rules)
    day = as_of or runtime.today()
    ids = [p.id for p in active_partnerships(runtime.partnerships, day)]
    if runtime.settings.imap_host:
        mailbox_task(handed(runtime))  # once for the day, before any share's digests
    shares = [Share(group) for group in shares_of(ids, share_size)]
    for number, share in enumerate(shares):
        _ask(share, number, day, rules)
    _watch(shares, day, rules, max(1, tries), time.monotonic() + late_after_minutes * 60)
    result = summary(day, shares)
    _post(result)
    problems = [f"{k}: {', '.join(result[k])}" for k in ("failed", "late") if result[k]]
    if not problems:
        return result
    from prefect.states import Failed

    return Failed(message="; ".join(problems), data=result)  # type: ignore[return-value]


def summary(day: date, shares: list[Share]) -> dict[str, Any]:
    """The day as operators read it: partnerships by outcome, and each share's runs."""
    by: dict[str, list[str]] = {"ran": [], "failed": [], "late": []}
    for share in shares:
        by[share.outcome].extend(share.partnerships)
    return {
        "as_of": day.isoformat(),
        **{k: sorted(v) for k, v in by.items()},
        "shares": [_share_result(s) for s in shares],
    }


def _share_result(share: Share) -> dict[str, Any]:
    return {
        "partnerships": share.partnerships,
        "outcome": share.outcome,
        "runs": len(share.run_ids),
        "message": share.message,
        "seconds": share.seconds,
    }


def _post(result: dict[str, Any]) -> None:
    """The summary as a markdown artifact; every text from a run is escaped."""
    from prefect.artifacts import create_markdown_artifact

    from govcal.rules.text import markdown_text

    counts = {k: len(result[k]) for k in ("ran", "failed", "late")}
    lines = [
        f"# National day {result['as_of']}",
        "",
        f"**{counts['ran']} ran, {counts['failed']} failed, {counts['late']} late.**",
        "",
        "| share | partnerships | outcome | runs | seconds | what happened |",
        "|---|---|---|---|---|---|",
    ]
    for number, share in enumerate(result["shares"], start=1):
        seconds = "" if share["seconds"] is None else f"{share['seconds']:.1f}"
        lines.append(
            f"| {number} | {markdown_text(', '.join(share['partnerships']))} | "
            f"{share['outcome']} | {share['runs']} | {seconds} | "
            f"{markdown_text(share['message'])} |"
        )
    create_markdown_artifact("\n".join(lines), key=SUMMARY_KEY,
                             description="Which partnerships ran, failed or are late")  # fmt: skip
