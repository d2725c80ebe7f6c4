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

from flows.outcome import DayOutcome
from govcal import local_api, run_now
from govcal.cli.common import (
    AsOfOption,
    RulesOption,
    actor,
    database,
    err,
    in_force,
    load_rules,
    out,
    parse_day,
    today,
)
from govcal.cli.common import runtime as build_runtime
from govcal.exit_codes import delivery_exit_code
from govcal.prefect_env import configure_prefect
from models.directory_import import import_directory
from models.queries import has_people
from models.sample_history import apply_history, history_file, last_day
from models.settings import get_settings, redact_url
from models.status import status_rows
from rules.state import State

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


def load_samples_if_empty(rules: Path | None = None, *, history: bool = True) -> list[str]:
    """Load each shipped sample directory, and its year of history, into an empty
    partnership: the first run then shows a partnership at work."""
    loaded = []
    with _one_loader(), database() as session:
        for p in load_rules(rules):
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


def _run_here(day: date) -> tuple[str | None, str, object]:
    """The flow in this process: its state's name and message, and its result."""
    from flows.jobs import daily_compliance  # once Prefect's settings are set

    try:
        local_api.wait_for_ephemeral()
    except local_api.ApiServerError as exc:
        err.print(f"Error: {exc}", markup=False)
        raise typer.Exit(1) from None
    state = daily_compliance(as_of=day, return_state=True)
    return state.name, state.message or "", state.result(raise_on_failure=False)


def run(as_of: AsOfOption = None, rules: RulesOption = None) -> None:
    """Run the daily-compliance job once, in-process, on the embedded default."""
    day = parse_day(as_of, "--as-of") or today()
    reused = configure_prefect()
    if not reused and not os.environ.get("PREFECT_API_URL"):  # boots while we work
        local_api.start_ephemeral(Path(os.environ["PREFECT_HOME"]))
    runtime = build_runtime(rules)
    runtime.transport()  # a missing secret block stops here, before any work
    settings = runtime.settings
    out.print(f"Database: {redact_url(settings.effective_database_url)}")
    for line in load_samples_if_empty(rules):
        out.print(line)
    if reused:
        out.print(f"Prefect API: {reused} (kept by `govcal serve`)")
    handed = None
    if reused and not rules:
        try:
            handed = run_now.ask(Path(os.environ["PREFECT_HOME"]), day)
        except run_now.Declined as declined:
            err.print(f"Note: `govcal serve` did not take the run: {declined}; running it here.",
                      markup=False)  # fmt: skip
    if handed is not None:
        out.print("Run by `govcal serve`, where Prefect is already loaded.")
        state_name, message, result = handed["state"], handed["message"], handed["result"]
    else:
        state_name, message, result = _run_here(day)
    outcome = DayOutcome.from_result(result)
    if outcome is None:  # the flow itself broke: its message says why
        err.print(f"Error: daily-compliance ended {state_name}: {message}", markup=False)
        raise typer.Exit(1)
    for s in outcome.synced:
        out.print(
            f"{s.partnership}: {s.created} created, {s.updated} moved by rule "
            f"changes, {s.orphaned} orphaned, {s.unchanged} unchanged"
        )
    sent = outcome.sent
    where = runtime.where()
    out.print(
        f"Sent {sent.messages_sent} message(s) carrying {sent.notices_sent} notices via "
        f"{settings.transport} ({where}); {sent.to_retry} to retry, {sent.refused} refused."
    )
    out.print(f"Wrote {outcome.feeds} calendar feeds under {settings.effective_feeds_dir}.")
    with database() as session:
        rows = status_rows(session, day, partnership_ids=in_force(day))
    counts = Counter(r.status.state for r in rows)
    out.print(
        f"As of {day}: {counts[State.OVERDUE]} overdue, {counts[State.DUE]} due today, "
        f"{counts[State.DUE_SOON]} due soon. Dashboard artifacts: "
        f"{', '.join(outcome.artifacts[:4])}{'...' if len(outcome.artifacts) > 4 else ''}"
    )
    for r in [r for r in rows if r.status.state is State.OVERDUE][:10]:
        out.print(f"  {r.row.public_id}  {r.row.title}: {r.status.describe()}")
    if outcome.cockpit_problem:
        err.print(f"Error: the dashboard was not all posted to Prefect's API (mail and feeds "
                  f"are done): {outcome.cockpit_problem}", markup=False)  # fmt: skip
    code = delivery_exit_code(sent.to_retry, sent.refused, outcome.cockpit_problem)
    if code:
        raise typer.Exit(code)
