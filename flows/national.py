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

Inside a share each partnership runs on its own: one that fails (its rule file does not
load, its relay defers its mail, an error in its data) is recorded and named, and the
others in the share complete. The share's table artifact says which partnership did
what; the national day reads it and asks again for the failed partnerships only (the
whole share when the run left no table: its worker died).

Sending stays exactly-once across shares and retries: each share claims only its own
partnerships' ledger rows (models/ledger.py), and a retry finds what the dead run sent
already marked sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.states import State

from govcal.flows.forms import AsOfDay, RulesPath
from govcal.flows.jobs import the_day
from govcal.flows.runtime import Runtime
from govcal.flows.tasks import handed, mailbox_task, run_runtime
from govcal.rules.model import active_partnerships

SHARE_DEPLOYMENT = "daily-share/daily-share"
SUMMARY_KEY = "national-day"


OUTCOMES = "each partnership of the share: ran, or failed and why"  # the table's description
NO_RULES = "its rule file does not load and has no last good version; run `govcal rules check`"


@flow(name="daily-share")
def daily_share(
    partnerships: list[str], as_of: AsOfDay = None, rules: RulesPath = None
) -> dict[str, Any]:
    """One share of the national day: the daily steps for each of these partnerships on
    its own, so one that fails stops none of the others. Ends Failed naming those that
    failed (and why) when any did; the run's table artifact lists every partnership."""
    runtime = run_runtime(rules)
    day = as_of or runtime.today()
    known = {p.id for p in runtime.partnerships}
    failed: dict[str, str] = {}
    results: dict[str, Any] = {}
    for pid in partnerships:
        if pid not in known:
            failed[pid] = NO_RULES
            continue
        try:
            done = the_day(runtime, day, share=[pid])
        except Exception as exc:  # any error of one partnership's: the others go on
            failed[pid] = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            continue
        if isinstance(done, State):  # a day whose mail did not all go, or cockpit not posted
            failed[pid] = done.message or "failed"
            results[pid] = done.data if isinstance(done.data, dict) else {}
            continue
        results[pid] = done
        if waiting := _mail_waiting(runtime, pid):
            failed[pid] = waiting
    for pid, why in failed.items():
        get_run_logger().warning("%s failed: %s", pid, why)
    _post_outcomes(partnerships, failed)
    result = {
        "as_of": day.isoformat(),
        "ran": [p for p in partnerships if p not in failed],
        "failed": failed,
        "partnerships": results,
    }
    if not failed:
        return result
    from prefect.states import Failed

    named = "; ".join(f"{pid}: {why}" for pid, why in failed.items())
    return Failed(  # type: ignore[return-value]
        message=f"{len(failed)} of {len(partnerships)} failed ({named})", data=result
    )


def _mail_waiting(runtime: Runtime, pid: str) -> str:
    """What of the partnership's mail an earlier try's relay put off and no run has sent
    yet ('' when none): a try inside that wait sends nothing, and is not all well."""
    from govcal.models.db import session_scope
    from govcal.models.ledger import waiting_for_retry

    with session_scope(runtime.settings) as session:
        count, first = waiting_for_retry(session, runtime.now(), [pid])
    if not count:
        return ""
    when = f" until {first:%H:%M} UTC" if first is not None else ""
    return f"{count} notice(s) put off by the relay wait{when}; a later run sends them"


def _post_outcomes(partnerships: list[str], failed: dict[str, str]) -> None:
    """The share's own table (on its run's page): what the national day reads back. The
    words of what happened (an error's, a relay's) are escaped as the summary's are."""
    from prefect.artifacts import create_table_artifact

    from govcal.rules.text import markdown_text

    table = [
        {
            "partnership": pid,
            "outcome": "failed" if pid in failed else "ran",
            "what happened": markdown_text(failed.get(pid, "")),
        }
        for pid in partnerships
    ]
    create_table_artifact(table, description=OUTCOMES)


def failed_in(run_id: UUID, client: Any) -> list[str] | None:
    """The partnerships a share's run names as failed in its table, or None when it left
    no table (it crashed, or its worker died before the end): then all of it is unsure."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    found = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
            type=ArtifactFilterType(any_=["table"]),
        )
    )
    for artifact in found:
        if artifact.description != OUTCOMES:
            continue
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        return [row["partnership"] for row in rows if row.get("outcome") == "failed"]
    return None


def shares_of(ids: list[str], size: int) -> list[list[str]]:
    """Partnerships in shares of `size`, in id order (the same shares every day)."""
    ordered = sorted(ids)
    return [ordered[i : i + size] for i in range(0, len(ordered), max(1, size))]


@dataclass
class Share:
    """One share's runs: the latest flow run asked for, and how its runs ended."""

    partnerships: list[str]
    run_ids: list[UUID] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the latest run's partnerships
    failed: list[str] = field(default_factory=list)  # those the latest run names failed
    outcome: str = "late"  # ran (all of it), failed (some of it) or late
    message: str = ""
    seconds: float | None = None  # the last run's time running, as Prefect recorded it

    def by_outcome(self) -> dict[str, list[str]]:
        """Each partnership's outcome: those a try ran stay ran whatever a later try did."""
        if self.outcome == "ran":
            return {"ran": list(self.partnerships), "failed": [], "late": []}
        open_ = set(self.failed if self.outcome == "failed" else self.asked)
        return {
            "ran": [p for p in self.partnerships if p not in open_],
            "failed": sorted(open_) if self.outcome == "failed" else [],
            "late": sorted(open_) if self.outcome == "late" else [],
        }


def _ask(share: Share, number: int, day: date, rules: str | None) -> None:
    from prefect.deployments import run_deployment

    run = run_deployment(
        SHARE_DEPLOYMENT,
        parameters={"partnerships": share.asked, "as_of": day.isoformat(), "rules": rules},
        timeout=0,
        flow_run_name=f"share-{number + 1}-{day.isoformat()}-try-{len(share.run_ids) + 1}",
        tags=["national-day"],
    )
    share.run_ids.append(run.id)  # type: ignore[union-attr]  # sync here: a FlowRun


def _watch(shares: list[Share], day: date, rules: str | None, tries: int, until: float) -> None:
    """Wait for every share's run; a run that crashed or failed is asked for again while
    tries are left, for the partnerships it names failed (all of them when it names
    none: it died); what has not ended by `until` stays late."""
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
                    share.outcome, share.message, share.failed = "ran", "", []
                    waiting.discard(number)
                    continue
                share.message = f"{state.name}: {state.message or 'no message'}"
                named = failed_in(run.id, client) if state.is_failed() else None
                share.failed = [p for p in share.asked if named is None or p in named]
                if not share.failed:  # failed after naming none: ask again for all of it
                    share.failed = list(share.asked)
                if len(share.run_ids) < tries:
                    logger.warning(
                        "share %d (%s) %s; asked again for %s",
                        number + 1,
                        ", ".join(share.asked),
                        share.message,
                        ", ".join(share.failed),
                    )
                    share.asked = list(share.failed)
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
    shares = [Share(group, asked=list(group)) for group in shares_of(ids, share_size)]
    for number, share in enumerate(shares):
        _ask(share, number, day, rules)
    _watch(shares, day, rules, max(1, tries), time.monotonic() + late_after_minutes * 60)
    unloaded = {b.label: " ".join(b.lines()) for b in runtime.broken if b.fallback is None}
    result = summary(day, shares, unloaded)
    _post(result)
    problems = [f"{k}: {', '.join(result[k])}" for k in ("failed", "late") if result[k]]
    if not problems:
        return result
    from prefect.states import Failed

    return Failed(message="; ".join(problems), data=result)  # type: ignore[return-value]


def summary(
    day: date, shares: list[Share], unloaded: dict[str, str] | None = None
) -> dict[str, Any]:
    """The day as operators read it: partnerships by outcome, and each share's runs. A
    rule file that does not load (and never did here) counts as failed, by its name."""
    by: dict[str, list[str]] = {"ran": [], "failed": list(unloaded or {}), "late": []}
    for share in shares:
        for outcome, ids in share.by_outcome().items():
            by[outcome].extend(ids)
    return {
        "as_of": day.isoformat(),
        **{k: sorted(v) for k, v in by.items()},
        "rule_files": dict(unloaded or {}),
        "shares": [_share_result(s) for s in shares],
    }


def _share_result(share: Share) -> dict[str, Any]:
    return {
        "partnerships": share.partnerships,
        "outcome": share.outcome,
        **{f"{k}_partnerships": v for k, v in share.by_outcome().items() if k != "ran"},
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
        *(f"- {k}: {markdown_text(', '.join(result[k]))}" for k in ("failed", "late") if result[k]),
        *(
            f"- {markdown_text(name)}: {markdown_text(why)}"
            for name, why in result["rule_files"].items()
        ),
        "",
        "| share | partnerships | outcome | runs | seconds | what happened |",
        "|---|---|---|---|---|---|",
    ]
    for number, share in enumerate(result["shares"], start=1):
        seconds = "" if share["seconds"] is None else f"{share['seconds']:.1f}"
        lines.append(
            f"| {number} | {markdown_text(', '.join(share['partnerships']))} | "
            f"{_outcome_words(share)} | {share['runs']} | {seconds} | "
            f"{markdown_text(share['message'])} |"
        )
    create_markdown_artifact(
        "\n".join(lines), key=SUMMARY_KEY, description="Which partnerships ran, failed or are late"
    )


def _outcome_words(share: dict[str, Any]) -> str:
    """'ran', or which of the share's partnerships failed or are late."""
    from govcal.rules.text import markdown_text

    named = share.get(f"{share['outcome']}_partnerships")
    return f"{share['outcome']}: {markdown_text(', '.join(named))}" if named else share["outcome"]
