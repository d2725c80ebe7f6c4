"""One daily job in a fresh process, as cron (plain) or Prefect (flow) would start it.

    .venv/bin/python -m bench.day MODE --as-of DAY

MODE:
  plain       the daily-compliance steps as plain functions (cron + a script): sync,
              evaluate, plan + record + deliver, build every dashboard; no Prefect.
  flow        the daily-compliance flow; Prefect's API is PREFECT_API_URL if set (a
              long-lived server), otherwise its ephemeral in-process server.
  floor       Prefect's floor: a one-line flow, same API choice as `flow`.
  floor-plain Python's floor for this script: import nothing of govcal, do nothing.

Settings come from the environment (GOVCAL_DATABASE_URL, GOVCAL_RULES_PATH, outbox and
feeds folders), exactly as for `govcal run`. Prints one JSON line with the in-process
times; bench/run.py measures the wall time around the whole process, start-up included.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

T0 = time.perf_counter()


def plain(day: date) -> dict:
    from flows import dashboard, steps  # plain functions: neither imports Prefect
    from flows.runtime import build_runtime
    from models.db import session_scope
    from models.status import status_rows
    from models.sync import sync_all

    imported = time.perf_counter()
    run = build_runtime()
    settings, chosen = run.settings, run.partnerships
    with session_scope() as s:
        sync_all(s, chosen, day, horizon_months=settings.sync_horizon_months, actor="bench")
    synced = time.perf_counter()
    with session_scope() as s:
        status_rows(s, day, ahead_days=60)
    with session_scope() as s:
        report = steps.notify(s, chosen, day, run.transport(), run.sender,
                              invite_window_days=settings.invite_window_days)  # fmt: skip
    notified = time.perf_counter()
    with session_scope() as s:
        boards = [dashboard.build(s, p, day) for p in chosen]
    done = time.perf_counter()
    return {"import_s": imported - T0, "sync_s": synced - imported,
            "notify_s": notified - synced, "dashboard_s": done - notified,
            "messages": report.delivery.messages_sent, "notices": report.delivery.rows_sent,
            "boards": len(boards)}  # fmt: skip


def flow(day: date) -> dict:
    from govcal.prefect_env import configure_prefect

    configure_prefect(reuse_server=False)
    from flows.jobs import daily_compliance

    imported = time.perf_counter()
    state = daily_compliance(as_of=day, return_state=True)
    ran = time.perf_counter()
    result = state.result()
    return {"import_s": imported - T0, "flow_s": ran - imported,
            "tasks_s": _task_times(state.state_details.flow_run_id),
            "messages": result["sent"]["messages_sent"],
            "notices": result["sent"]["notices_sent"],
            "artifacts": len(result["artifacts"])}  # fmt: skip


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


MODES = {"plain": plain, "flow": flow, "floor": floor, "floor-plain": lambda day: {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    figures = MODES[args.mode](args.as_of)
    json.dump({"mode": args.mode, **figures, "in_process_s": time.perf_counter() - T0},
              sys.stdout)  # fmt: skip
    print()


if __name__ == "__main__":
    main()
