"""`govcal run`: the main job in one command on the embedded default.

Database created and migrated, sample directory loaded if the partnership has none, the
daily-compliance flow (which also publishes the calendar feeds) run once in-process
(Prefect's ephemeral API, or the server `govcal serve` keeps), mail written to the file
outbox, feeds to data/feeds, and a summary printed.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer

from govcal import local_api, run_now
from govcal.cli.common import (
    AsOfOption,
    RulesOption,
    actor,
    database,
    err,
    load_rules,
    out,
    parse_day,
    today,
)
from govcal.cli.common import runtime as build_runtime
from govcal.cli.past_day import AllowPastOption, refuse_a_past_day
from govcal.cli.summary_link import summary_lines
from govcal.exit_codes import delivery_exit_code
from govcal.flows.outcome import DayOutcome
from govcal.models.directory_import import import_directory
from govcal.models.queries import has_people
from govcal.models.sample_history import apply_history, history_file, last_day
from govcal.models.settings import get_settings, redact_url
from govcal.models.status import status_rows
from govcal.prefect_env import configure_prefect
from govcal.rules.model import Partnership, active_partnerships
from govcal.rules.state import State

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "sample_directory"


@contextmanager
def _one_loader() -> Iterator[None]:
    """One sample load at a time per data folder: two first runs started together would
    both find the database empty and the second would fail on the first's rows. The
    second waits here, then finds the people loaded and loads nothing."""
    folder = get_settings().data_dir
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".sample-load.lock", "a+b") as lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_samples_if_empty(
    rules: Path | None = None,
    *,
    history: bool = True,
    partnerships: list[Partnership] | None = None,
) -> list[str]:
    """Load each shipped sample directory, and its year of history, into an empty
    partnership (of `partnerships`, else those of the rule files): the first run then
    shows a partnership at work."""
    loaded = []
    chosen = partnerships if partnerships is not None else load_rules(rules)
    with _one_loader(), database() as session:
        for p in chosen:
            sample = SAMPLES / p.id
            if sample.is_dir() and not has_people(session, p.id):
                import_directory(session, sample, p, actor=actor().name)
                loaded.append(f"{p.id}: loaded the SAMPLE directory ({sample}, example.org)")
                if history and history_file(sample).is_file():
                    horizon = get_settings().sync_horizon_months
                    report = apply_history(session, p, history_file(sample), horizon_months=horizon)
                    loaded.append(
                        f"{p.id}: loaded its SAMPLE history up to "
                        f"{last_day(history_file(sample))} ({report.describe()})"
                    )
                    loaded.extend(str(problem) for problem in report.problems)
    return loaded


PROBE_S = 5.0  # Prefect's health check answers in milliseconds; a hung server never does


def _prefect_unavailable() -> str:
    """Why Prefect's API cannot run the flow now, in a few words (never its URL, which
    may carry a password); empty when it answers its health check in time."""
    try:
        local_api.wait_for_ephemeral()
    except local_api.ApiServerError as exc:
        return str(exc)
    url = os.environ.get("PREFECT_API_URL", "")
    if not local_api.answers(url.rstrip("/"), timeout=PROBE_S):
        return f"Prefect's API did not answer within {PROBE_S:.0f} s (down or hung)"
    return ""


def _refusal(exc: Exception) -> str:
    """Why Prefect's API failed a run it had accepted, in a few words."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 401:
        return "Prefect's API refused the login (HTTP 401): check PREFECT_API_AUTH_STRING"
    if isinstance(status, int):
        return f"Prefect's API refused the run (HTTP {status})"
    return f"Prefect's API failed the run ({type(exc).__name__})"


def _run_here(day: date, rules: Path | None = None) -> tuple[str | None, str, object]:
    """The flow in this process: its state's name and message, and its result. The day's
    mail and feeds never depend on Prefect: if its API does not answer, or fails the run
    from outside the flow's own work, the same steps run without it and the outcome says
    the dashboard was not posted (exit 5)."""
    from govcal.flows.jobs import (
        daily_compliance,
        daily_compliance_without_prefect,
    )  # Prefect set up

    given = str(rules.resolve()) if rules else None  # every task loads these rules
    why = _prefect_unavailable()
    if not why:
        try:
            state = daily_compliance(as_of=day, rules=given, return_state=True)
            return state.name, state.message or "", state.result(raise_on_failure=False)
        except Exception as exc:  # the flow's own errors end in its state: this is Prefect's
            why = _refusal(exc)
    return "Completed", "", daily_compliance_without_prefect(day, why, given)


def run(
    as_of: AsOfOption = None, rules: RulesOption = None, allow_past_as_of: AllowPastOption = False
) -> None:
    """Run the daily-compliance job once, in-process, on the embedded default."""
    day = parse_day(as_of, "--as-of") or today()
    reused = configure_prefect()
    if not reused and not os.environ.get("PREFECT_API_URL"):  # boots while we work
        local_api.start_ephemeral(Path(os.environ["PREFECT_HOME"]))
    runtime = build_runtime(rules)
    runtime.transport()  # a missing secret block stops here, before any work
    settings = runtime.settings
    out.print(f"Database: {redact_url(settings.effective_database_url)}")
    for line in load_samples_if_empty(partnerships=runtime.partnerships):
        out.print(line)
    if as_of is not None:  # it sends mail: not for a stale day (today is never refused)
        refuse_a_past_day(day, allow_past_as_of)
    if reused:
        out.print(f"Prefect API: {reused} (kept by `govcal serve`)")
    handed = None
    if reused and not rules:
        try:
            handed = run_now.ask(Path(os.environ["PREFECT_HOME"]), day)
        except run_now.Declined as declined:
            err.print(
                f"Note: `govcal serve` did not take the run: {declined}; running it here.",
                markup=False,
            )
    if handed is not None:
        out.print("Run by `govcal serve`, where Prefect is already loaded.")
        state_name, message, result = handed["state"], handed["message"], handed["result"]
    else:
        state_name, message, result = _run_here(day, rules)
    outcome = DayOutcome.from_result(result)
    if outcome is None:  # the flow itself broke: its message says why
        err.print(f"Error: daily-compliance ended {state_name}: {message}", markup=False)
        raise typer.Exit(1)
    for s in outcome.synced:
        out.print(
            f"{s.partnership}: {s.created} created, {s.updated} moved by rule "
            f"changes, {s.orphaned} orphaned, {s.unchanged} unchanged"
            + (f"; {s.left_alone}" if s.left_alone else "")
        )
    sent = outcome.sent
    where = runtime.where()
    out.print(
        f"Sent {sent.messages_sent} message(s) carrying {sent.notices_sent} notices via "
        f"{settings.transport} ({where}); {sent.to_retry} to retry, {sent.refused} refused."
    )
    out.print(f"Wrote {outcome.feeds} calendar feeds under {settings.effective_feeds_dir}.")
    with database() as session:
        in_force = [p.id for p in active_partnerships(runtime.partnerships, day)]
        rows = status_rows(session, day, partnership_ids=in_force)
    counts = Counter(r.status.state for r in rows)
    out.print(
        f"As of {day}: {counts[State.OVERDUE]} overdue, {counts[State.DUE]} due today, "
        f"{counts[State.DUE_SOON]} due soon. Dashboard artifacts: "
        f"{', '.join(outcome.artifacts[:4])}{'...' if len(outcome.artifacts) > 4 else ''}"
    )
    for r in [r for r in rows if r.status.state is State.OVERDUE][:10]:
        out.print(f"  {r.row.public_id}  {r.row.title}: {r.status.describe()}")
    for line in summary_lines(runtime, day):
        out.print(line, markup=False, soft_wrap=True)
    if outcome.cockpit_problem:
        err.print(
            f"Error: the dashboard was not all posted to Prefect's API (mail and feeds "
            f"are done): {outcome.cockpit_problem}",
            markup=False,
        )
    code = delivery_exit_code(sent.to_retry, sent.refused, outcome.cockpit_problem)
    if code:
        raise typer.Exit(code)
