"""One daily job in a fresh process, as cron (plain) or Prefect (flow) would start it.

    .venv/bin/python -m bench.day MODE --as-of DAY

MODE:
  plain       the daily-compliance steps as plain functions (cron + a script): sync,
              evaluate, plan + record + deliver, build every dashboard, publish the
              feeds; no Prefect.
  plain-publish
              plain, and the dashboards posted as the flow posts them (the same
              artifacts, through Prefect's client, to the server in PREFECT_API_URL) but
              with no flow or task around them: beside `flow`, what orchestration
              itself costs once both sides do the same work.
  flow        the daily-compliance flow; Prefect's API is PREFECT_API_URL if set (a
              long-lived server), otherwise its ephemeral in-process server.
  feeds       only publish the feeds (bench/run.py prepares the day before's with it).
  post-boards only build the boards and post their artifacts (bench/run.py leaves the
              day before's cockpit on the API with it, before every timed run).
  floor       Prefect's floor: a one-line flow, same API choice as `flow`.
  floor-plain Python's floor for this script: import nothing of govcal, do nothing.
  run         `govcal run` itself in this process, each of its phases timed (and each
              task as Prefect recorded it).
  table       prints where `govcal run` goes, phase by phase, beside Prefect's floor:
              fresh processes of `run` and `floor` on the shipped sample, on the
              ephemeral API and against a kept server (`--runs`, min / median).

Settings come from the environment (GOVCAL_DATABASE_URL, GOVCAL_RULES_PATH, outbox and
feeds folders), exactly as for `govcal run`. Prints one JSON line with the in-process
times; bench/run.py measures the wall time around the whole process, start-up included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

T0 = time.perf_counter()


def plain(day: date, publish: bool = False) -> dict:
    from govcal.flows import dashboard, steps  # plain functions: neither imports Prefect
    from govcal.flows.runtime import build_runtime
    from govcal.models.db import session_scope
    from govcal.models.status import status_rows
    from govcal.models.sync import sync_all

    if publish:  # Prefect's client, as a script posting artifacts would import it
        from govcal.flows.publish import Publisher, as_posted, board_artifacts
    imported = time.perf_counter()
    run = build_runtime()
    settings, chosen = run.settings, run.partnerships
    with session_scope(settings) as s:
        sync_all(s, chosen, day, horizon_months=settings.sync_horizon_months, actor="bench")
    synced = time.perf_counter()
    with session_scope(settings) as s:
        status_rows(s, day, ahead_days=60)
    with session_scope(settings) as s:
        report = steps.notify(
            s,
            chosen,
            day,
            run.transport(),
            run.sender,
            settings=settings,
            invite_window_days=settings.invite_window_days,
        )
    notified = time.perf_counter()
    with session_scope(settings) as s:
        boards = dashboard.build_all(s, chosen, day)
    built = time.perf_counter()
    published: dict[str, int] = {}
    with contextlib.ExitStack() as posting:
        if publish:  # as the daily flow does: the feeds written while the boards are posted
            d = report.delivery
            sent = dict(d.by_kind) | {"notices": d.rows_sent}
            post = posting.enter_context(Publisher())
            post(
                as_posted(
                    [
                        a
                        for b in boards
                        if b.items or b.cycles
                        for a in board_artifacts(b, day, sent)
                    ]
                )
            )
        with session_scope(settings) as s:  # the flow's last task: the same work on both sides
            feeds = steps.publish_feeds(s, chosen, day, settings.effective_feeds_dir)
        written = time.perf_counter()
    done = time.perf_counter()
    if publish:
        published = {"artifacts_posted": post.posted, "artifacts_unchanged": post.unchanged}
    return {
        "import_s": imported - T0,
        "sync_s": synced - imported,
        "notify_s": notified - synced,
        "dashboard_s": built - notified,
        "feeds_s": written - built,
        "posted_after_feeds_s": done - written,
        "feeds": len(feeds),
        "messages": report.delivery.messages_sent,
        "notices": report.delivery.rows_sent,
        "boards": len(boards),
        **published,
    }


def feeds(day: date) -> dict:
    """The feeds alone, as the day's run leaves them: bench/run.py publishes the day
    before (untimed) so each measured day finds yesterday's feeds, as a deployment does."""
    from govcal.flows import steps
    from govcal.flows.runtime import build_runtime
    from govcal.models.db import session_scope

    imported = time.perf_counter()
    run = build_runtime()
    with session_scope(run.settings) as s:
        written = steps.publish_feeds(s, run.partnerships, day, run.settings.effective_feeds_dir)
    return {
        "import_s": imported - T0,
        "feeds_s": time.perf_counter() - imported,
        "feeds": len(written),
    }


def flow(day: date) -> dict:
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=False)
    from govcal.flows.jobs import daily_compliance

    imported = time.perf_counter()
    state = daily_compliance(as_of=day, return_state=True)
    ran = time.perf_counter()
    result = state.result()
    return {
        "import_s": imported - T0,
        "flow_s": ran - imported,
        "tasks_s": _task_times(state.state_details.flow_run_id),
        "messages": result["sent"]["messages_sent"],
        "notices": result["sent"]["notices_sent"],
        "artifacts": len(result["artifacts"]),
    }


def _task_times(flow_run_id) -> dict[str, float]:
    """Each task's run time as Prefect recorded it: where the flow's time goes."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {r.name.rsplit("-", 1)[0]: r.total_run_time.total_seconds() for r in runs}


def floor(day: date) -> dict:
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=False)
    from prefect import flow as prefect_flow

    @prefect_flow(name="bench-floor")
    def one_line(day: date) -> str:
        return day.isoformat()

    imported = time.perf_counter()
    one_line(day)
    return {"import_s": imported - T0, "flow_s": time.perf_counter() - imported}


def run(day: date) -> dict:
    """`govcal run --as-of DAY` as the command runs it; its steps are wrapped to time
    them (nothing else changes). What lies between two wrapped steps is named by what
    the command does there: importing Prefect and the flows, running the flow."""
    import govcal.cli
    import govcal.cli.run as command
    from govcal import local_api

    marks: dict[str, list[float]] = {"imports (govcal, typer, SQLAlchemy)": [T0, _now()]}

    def wrap(module: object, name: str, label: str) -> None:
        inner = getattr(module, name)

        def timed(*args: object, **kwargs: object) -> object:
            start = _now()
            try:
                return inner(*args, **kwargs)
            finally:
                marks[label] = [start, _now()]

        setattr(module, name, timed)

    wrap(command, "configure_prefect", "Prefect settings, kept server looked up")
    wrap(local_api, "start_ephemeral", "API: spawned")
    wrap(command, "build_runtime", "runtime (rules, transport)")
    wrap(command, "load_samples_if_empty", "database opened, sample import checked")
    wrap(local_api, "wait_for_ephemeral", "API: waited for it to answer")
    wrap(command, "status_rows", "status summary (query)")
    sys.argv = ["govcal", "run", "--as-of", day.isoformat()]
    try:
        govcal.cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
    end = _now()
    loaded = marks["database opened, sample import checked"]
    summary = marks["status summary (query)"]
    if "API: waited for it to answer" in marks:  # the flow ran in this process
        waited = marks["API: waited for it to answer"]
        marks["import Prefect and the flows"] = [loaded[1], waited[0]]
        marks["daily-compliance flow run"] = [waited[1], summary[0]]
    else:  # handed to `govcal serve`
        marks["daily-compliance run by `govcal serve`, waited for"] = [loaded[1], summary[0]]
    marks["summary printed"] = [summary[1], end]
    phases = {k: round(b - a, 3) for k, (a, b) in sorted(marks.items(), key=lambda kv: kv[1])}
    return {
        "phases_s": phases,
        "tasks_s": _last_run_tasks(),
        "api": os.environ.get("PREFECT_API_URL", ""),
    }


def _now() -> float:
    return time.perf_counter()


def _last_run_tasks() -> dict[str, float]:
    """Each task of the latest daily-compliance run, as Prefect recorded it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["daily-compliance"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    tasks = _task_times(runs[0].id)
    return {"(the flow run, as Prefect counts it)": runs[0].total_run_time.total_seconds(), **tasks}


def table(day: date, runs: int) -> None:
    """Fresh processes on a sample data folder made here; prints Markdown."""
    import shutil
    import sqlite3
    import statistics
    import subprocess
    import tempfile

    from govcal.local_api import start, stop
    from govcal.prefect_env import api_auth

    folder = Path(tempfile.mkdtemp(prefix="govcal-bench-run-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GOVCAL_"))}
    env["GOVCAL_DATA_DIR"] = str(folder)
    python = [sys.executable, "-m"]

    def fresh(mode: str, extra: dict[str, str], copy: bool = True) -> tuple[float, dict]:
        if copy:  # the same ledger state each run (never under a running serve)
            for suffix in ("-wal", "-shm"):
                (folder / f"govcal.db{suffix}").unlink(missing_ok=True)
            shutil.copy(folder / "prepared.db", folder / "govcal.db")
        t0 = _now()
        done = subprocess.run(
            [*python, "bench.day", mode, "--as-of", day.isoformat()],
            env={**env, **extra},
            capture_output=True,
            text=True,
        )
        wall = _now() - t0
        if done.returncode:
            raise SystemExit(f"bench.day {mode} failed:\n{done.stderr[-2000:]}")
        return wall, json.loads([x for x in done.stdout.splitlines() if x.startswith("{")][-1])

    first = subprocess.run(
        [*python, "govcal.cli", "run", "--as-of", day.isoformat()],
        env=env,
        capture_output=True,
        check=True,
    )
    del first
    with (
        sqlite3.connect(folder / "govcal.db") as src,
        sqlite3.connect(folder / "prepared.db") as dst,
    ):
        src.backup(dst)  # with what the WAL holds: a plain copy of the file can miss it
    columns: dict[str, dict[str, list[float]]] = {}
    load = [Path("/proc/loadavg").read_text().split()[0]]
    server, process = None, None
    try:
        for api in ("ephemeral API", "kept server", "`govcal serve` (run it now)"):
            extra = {}
            if api == "kept server":
                server, process = start(folder / "prefect", port=0)
                extra = {
                    "PREFECT_API_URL": server.url,  # and its login (govcal/prefect_env.py)
                    "PREFECT_API_AUTH_STRING": api_auth(folder / "prefect"),
                }
            if api.startswith("`govcal serve`"):
                stop(process, folder / "prefect")  # type: ignore[arg-type]
                process = _serve(env, folder)
            rows: dict[str, list[float]] = {}
            serve = api.startswith("`govcal serve`")
            for _ in range(runs):
                if not serve:
                    wall, _ = fresh("floor", extra)
                    rows.setdefault("Prefect's floor (one-line flow), wall", []).append(wall)
                wall, inner = fresh("run", extra, copy=not serve)
                rows.setdefault("`govcal run`, wall", []).append(wall)
                if serve:  # the phases' own read of Prefect's task times loads Prefect here
                    t0 = _now()
                    subprocess.run(
                        [*python, "govcal.cli", "run", "--as-of", day.isoformat()],
                        env=env,
                        capture_output=True,
                        check=True,
                    )
                    rows["`govcal run`, wall"][-1] = _now() - t0
                if not serve:
                    rows.setdefault("govcal's share (run - floor)", []).append(
                        wall - rows["Prefect's floor (one-line flow), wall"][-1]
                    )
                for name, seconds in inner["phases_s"].items():
                    rows.setdefault(name, []).append(seconds)
                for name, seconds in inner["tasks_s"].items():
                    rows.setdefault(name if name[0] == "(" else f"  task {name}", []).append(
                        seconds
                    )
                if not serve:
                    rows.setdefault("exit (Prefect flushes; ephemeral API stopped)", []).append(
                        wall - inner["in_process_s"]
                    )
                load.append(Path("/proc/loadavg").read_text().split()[0])
            columns[api] = rows
    finally:
        if process is not None:
            stop(process, folder / "prefect")
        shutil.rmtree(folder, ignore_errors=True)
    del server
    names = list(dict.fromkeys(n for rows in columns.values() for n in rows))
    print(
        f"`govcal run --as-of {day}` on the sample, {runs} fresh runs each, seconds, "
        f"min / median; load average (1 min) {', '.join(load)}\n"
    )
    print("| phase | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in names:
        cells = []
        for rows in columns.values():
            v = rows.get(name)
            cells.append(f"{min(v):.2f} / {statistics.median(v):.2f}" if v else "")
        print(f"| {name} | " + " | ".join(cells) + " |")


def _serve(env: dict[str, str], folder: Path):
    """`govcal serve --port 0` on the folder, once it takes runs (its marker is written)."""
    import subprocess

    process = subprocess.Popen(
        [sys.executable, "-m", "govcal.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while not (folder / "prefect" / "run-now.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("govcal serve did not start")
        time.sleep(0.1)
    return process


def post_boards(day: date) -> dict:
    """Only build every board and post its artifacts (no sync, no mail, no feeds): how
    bench/run.py leaves the day before's cockpit on the Prefect API before each timed
    run, as a deployment finds it each morning (a returns table is posted only when it
    changed since then)."""
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=False)
    from govcal.flows import dashboard
    from govcal.flows.publish import Publisher, as_posted, board_artifacts
    from govcal.flows.runtime import build_runtime
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    run = build_runtime()
    with session_scope(get_settings()) as s, Publisher() as post:
        for board in dashboard.build_all(s, run.partnerships, day):
            if board.items or board.cycles:
                post(as_posted(board_artifacts(board, day, None)))
    return {"posted": post.posted, "unchanged": post.unchanged}


def plain_publish(day: date) -> dict:
    if not os.environ.get("PREFECT_API_URL"):
        raise SystemExit("plain-publish posts to a kept server: set PREFECT_API_URL")
    return plain(day, publish=True)


MODES = {
    "plain": plain,
    "plain-publish": plain_publish,
    "flow": flow,
    "feeds": feeds,
    "post-boards": post_boards,
    "floor": floor,
    "floor-plain": lambda day: {},
    "run": run,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted([*MODES, "table"]))
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 24))
    parser.add_argument("--runs", type=int, default=3, help="table: fresh runs of each")
    args = parser.parse_args()
    if args.mode == "table":
        table(args.as_of, args.runs)
        return
    figures = MODES[args.mode](args.as_of)
    json.dump({"mode": args.mode, **figures, "in_process_s": time.perf_counter() - T0}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
