"""The national day through a pool of workers: one worker, then two, on this machine.

    nice .venv/bin/python -m bench.national --scale 1 --share-size 5

For each count of workers, the production topology starts (deploy/run_local.py:
PostgreSQL, a Prefect server on it, workers with data folders of their own, at most two
flow runs at once each), the data set of bench/generate.py is imported and synced into
its fresh govcal database, and the `national-day` deployment runs for the national day.
Reported: the day's wall time (the parent run asked for until it ended, as Prefect
recorded it) and each share's own run time and worker. How the day would go with
workers on separate machines follows from the shares' own times (measured here, each
with the machine to itself only as far as two cores allow): the longest chain of shares
one worker would run, not an assumption of linear speed-up.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.run import NATIONAL_DAY, load

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
        subprocess.run([sys.executable, "-m", "bench.phases", "sync", "--data", str(data),
                        "--db", env["GOVCAL_DATABASE_URL"]], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
        given = {PREFECT_API_URL: topology["api"], PREFECT_API_AUTH_STRING: topology["login"]}
        with temporary_settings(updates=given), get_client(sync_client=True) as client:
            asked = time.perf_counter()
            parent = run_deployment(
                "national-day/national-day", timeout=0, as_subflow=False,
                parameters={"as_of": NATIONAL_DAY, "share_size": share_size},
            )  # fmt: skip
            while True:
                run = client.read_flow_run(parent.id)
                if run.state and run.state.is_final():
                    break
                time.sleep(1)
            waited = time.perf_counter() - asked
            shares = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["national-day"]))
            )
        workers_of = {str(pid): name for name, pid in topology["processes"].items()}
        return {
            "workers": workers,
            "state": run.state.name if run.state else "",
            "asked_to_end_s": waited,
            "parent_run_s": run.total_run_time.total_seconds(),
            "shares": [
                {
                    "name": s.name,
                    "state": s.state.name if s.state else "",
                    "run_s": s.total_run_time.total_seconds(),
                    "start": s.start_time.isoformat() if s.start_time else None,
                    "end": s.end_time.isoformat() if s.end_time else None,
                    "worker": workers_of.get(str(s.infrastructure_pid), ""),
                }
                for s in sorted(shares, key=lambda s: s.name)
            ],
        }
    finally:
        run_local.stop(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--share-size", type=int, default=5)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="govcal-bench-national-"))
    data = where / "data"
    generate(data, partnerships=10 * args.scale, schools=1_600 * args.scale)
    results: dict[str, Any] = {"scale": args.scale, "share_size": args.share_size,
                               "load_start": load(), "days": []}  # fmt: skip
    for count in [int(n) for n in args.workers.split(",")]:
        day = one_day(data, where / f"pool-{count}", count, args.share_size)
        day["load"] = load()
        results["days"].append(day)
        print(json.dumps(day), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
