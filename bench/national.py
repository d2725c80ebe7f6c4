"""The national day through a pool of workers: one worker, then two, on this machine.

    nice .venv/bin/python -m bench.national --scale 1 --share-size 5

For each count of workers, the production topology starts (deploy/run_local.py:
PostgreSQL, a Prefect server on it, workers with data folders of their own, at most two
flow runs at once each), the data set of bench/generate.py is imported and synced into
its fresh govcal database, and the `national-day` deployment runs for the national day.
Reported: the day's wall time (the parent run asked for until it ended, as Prefect
recorded it), the CPU seconds of every process of the topology (PostgreSQL's aside), and
for each share, from its run's state history: its work (Running to its end), its start
cost (Pending, a worker took it, to Running: a fresh process importing Prefect and
govcal and the deployment's pull step) and its pick-up (from the moment a worker's slot
was free for it to Pending: the poll). How the day would go with N workers on separate
machines, one share at a time each, is computed from those measurements of the
one-worker day, where each share had the machine to itself: the shares dealt in order to
whichever machine is free first, each costing its own pick-up + start + work, plus the
national-day run's own time outside its shares; not an assumption of linear speed-up.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.run import NATIONAL_DAY, load, phase

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("run_local", ROOT / "deploy" / "run_local.py")
assert _spec is not None and _spec.loader is not None
run_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_local)


def one_day(data: Path, root: Path, workers: int, share_size: int) -> dict[str, Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    extra = {"GOVCAL_RULES_PATH": str(data / "rules"), "GOVCAL_DEFAULT_PARTNERSHIP": "syn-001"}
    topology = run_local.start(root, workers, extra, ["national-day", "daily-share"], 2)
    try:
        env = run_local.environment_of(topology, "ops")
        phase("sync", data, env["GOVCAL_DATABASE_URL"], env)
        given = {PREFECT_API_URL: topology["api"], PREFECT_API_AUTH_STRING: topology["login"]}
        with temporary_settings(updates=given), get_client(sync_client=True) as client:
            asked = time.perf_counter()
            parent = run_deployment(
                "national-day/national-day",
                timeout=0,
                as_subflow=False,
                parameters={"as_of": NATIONAL_DAY, "share_size": share_size},
            )
            tagged = FlowRunFilter(tags=FlowRunFilterTags(all_=["national-day"]))
            machine: dict[Any, str] = {}  # share run -> the worker whose process ran it
            while True:
                run = client.read_flow_run(parent.id)
                if run.state and run.state.is_final():
                    break
                for share in client.read_flow_runs(flow_run_filter=tagged):
                    if share.id not in machine and (found := worker_of(topology, share)):
                        machine[share.id] = found
                time.sleep(1)
            waited = time.perf_counter() - asked
            shares = client.read_flow_runs(flow_run_filter=tagged)
            history = {s.id: client.read_flow_run_states(s.id) for s in shares}
        cpu = {
            name: cpu_seconds(run_local.tree(pid)) for name, pid in topology["processes"].items()
        }
        measured = [
            share_costs(s, history[s.id], machine.get(s.id, ""))
            for s in sorted(shares, key=lambda s: s.name)
        ]
        picked_up(measured)
        return {
            "workers": workers,
            "state": run.state.name if run.state else "",
            "asked_to_end_s": waited,
            "parent_run_s": run.total_run_time.total_seconds(),
            "parent_outside_shares_s": outside_shares(run, measured),
            "cpu_s": cpu,
            "shares": measured,
        }
    finally:
        run_local.stop(root)


def worker_of(topology: dict[str, Any], run: Any) -> str:
    """Which worker a share run's process descends from, while it runs ('' otherwise)."""
    if not run.infrastructure_pid:
        return ""
    pid = int(str(run.infrastructure_pid).rsplit(":", 1)[-1])
    for name, top in topology["processes"].items():
        if name.startswith("worker") and pid in run_local.tree(top):
            return name
    return ""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and of the children they have waited for."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return round(total / tick, 1)


def _at(states: list[Any], kind: str) -> datetime | None:
    found = [s.timestamp for s in states if s.type.value == kind]
    return min(found) if found else None


def share_costs(run: Any, states: list[Any], worker: str) -> dict[str, Any]:
    """One share run's times from its state history (seconds; None: it never got there)."""
    created, pending, running = run.created, _at(states, "PENDING"), _at(states, "RUNNING")
    return {
        "name": run.name,
        "state": run.state.name if run.state else "",
        "worker": worker,
        "run_s": run.total_run_time.total_seconds(),
        "start_cost_s": (running - pending).total_seconds() if running and pending else None,
        "created": created.isoformat() if created else None,
        "pending": pending.isoformat() if pending else None,
        "end": run.end_time.isoformat() if run.end_time else None,
    }


def picked_up(shares: list[dict[str, Any]]) -> None:
    """Each share's pick-up: from when it could be taken (asked for, or the end of the
    run before it on the worker that took it, whichever is later) to Pending."""
    for share in shares:
        share["pickup_s"] = None
        if not share["pending"] or not share["created"]:
            continue
        pending = datetime.fromisoformat(share["pending"])
        before = [
            datetime.fromisoformat(o["end"])
            for o in shares
            if o["worker"] == share["worker"]
            and o["end"]
            and o is not share
            and datetime.fromisoformat(o["end"]) <= pending
        ]
        free = max([datetime.fromisoformat(share["created"]), *before])
        share["pickup_s"] = round((pending - free).total_seconds(), 2)


def outside_shares(parent: Any, shares: list[dict[str, Any]]) -> float | None:
    """The national-day run's own time: its start to the first share asked for, and the
    last share's end to its own end (its summary, its artifact)."""
    created = [datetime.fromisoformat(s["created"]) for s in shares if s["created"]]
    ends = [datetime.fromisoformat(s["end"]) for s in shares if s["end"]]
    if not (created and ends and parent.start_time and parent.end_time):
        return None
    return round(
        (min(created) - parent.start_time).total_seconds()
        + (parent.end_time - max(ends)).total_seconds(),
        2,
    )


def on_machines(day: dict[str, Any], machines: int) -> float | None:
    """The day with `machines` workers on separate machines, one share at a time each,
    from the measured shares of `day` (first tries, in the order they were asked)."""
    firsts = [s for s in day["shares"] if "-try-1" in s["name"]]
    if not firsts or day["parent_outside_shares_s"] is None:
        return None
    pickups = sorted(s["pickup_s"] for s in firsts if s["pickup_s"] is not None)
    usual = pickups[len(pickups) // 2] if pickups else 0.0
    free = [0.0] * machines
    for share in sorted(firsts, key=lambda s: s["created"] or ""):
        pickup = share["pickup_s"] if share["pickup_s"] is not None else usual
        at = free.index(min(free))
        free[at] += pickup + (share["start_cost_s"] or 0.0) + share["run_s"]
    return round(day["parent_outside_shares_s"] + max(free), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--share-size", type=int, default=5)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="govcal-bench-national-"))
    data = where / "data"
    generate(data, partnerships=10 * args.scale, schools=1_600 * args.scale)
    results: dict[str, Any] = {
        "scale": args.scale,
        "share_size": args.share_size,
        "load_start": load(),
        "days": [],
    }
    for count in [int(n) for n in args.workers.split(",")]:
        day = one_day(data, where / f"pool-{count}", count, args.share_size)
        day["load"] = load()
        results["days"].append(day)
        print(json.dumps(day), flush=True)
    alone = results["days"][0]  # the fewest workers: each share with the cores to itself
    results["on_separate_machines_s"] = {n: on_machines(alone, n) for n in (1, 2, 4, 8)}
    print(json.dumps(results))
    print(table(results))


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def table(results: dict[str, Any]) -> str:
    """The figures as bench/README.md shows them."""
    lines = [
        "| workers | the day, asked to end | national-day run | its own time outside "
        "shares | CPU s (all processes) | load after |",
        "|---|---|---|---|---|---|",
    ]
    for day in results["days"]:
        lines.append(
            f"| {day['workers']} | {day['asked_to_end_s']:.1f} s | {day['parent_run_s']:.1f} s"
            f" | {day['parent_outside_shares_s']} s | {sum(day['cpu_s'].values()):.1f} | "
            f"{day['load']} |"
        )
    lines += [
        "",
        "| workers | share | worker | pick-up s | start cost s | work s |",
        "|---|---|---|---|---|---|",
    ]
    for day in results["days"]:
        for s in day["shares"]:
            lines.append(
                f"| {day['workers']} | {s['name']} | {s['worker']} | {_s(s['pickup_s'])} "
                f"| {_s(s['start_cost_s'])} | {s['run_s']:.1f} |"
            )
    lines += [
        "",
        "| machines (one share at a time each) | the day, computed from the shares "
        "measured with one worker |",
        "|---|---|",
    ]
    for n, seconds in results["on_separate_machines_s"].items():
        lines.append(f"| {n} | {seconds} s |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
