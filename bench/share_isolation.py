"""What running each partnership of a share on its own costs against one batch for all.

    nice .venv/bin/python -m bench.share_isolation --partnerships 2 --rounds 2

The synthetic data set (bench/generate.py) is imported and synced into a SQLite file
once; each round, on its own copy of that file and in a fresh process with Prefect's
test API, the share's day runs as one batch (`the_day(..., share=ids)` in a flow: the
baseline) and as `daily-share` runs it (each partnership on its own, flows/national.py),
the two in turn. Printed per run: wall seconds of the day (the API's start left out) and
the CPU seconds of the process (user + system, the flow's own work; the API runs in a
child process, reported apart), with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.run import NATIONAL_DAY, load, phase

ROOT = Path(__file__).resolve().parent.parent


def one(mode: str, ids: list[str]) -> dict[str, Any]:
    """One share's day in this process, as `mode` runs it."""
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from govcal.flows.jobs import the_day
    from govcal.flows.national import daily_share
    from govcal.flows.tasks import run_runtime

    @flow(name="share-as-one-batch")
    def batched(partnerships: list[str], as_of: date) -> Any:
        return the_day(run_runtime(None), as_of, share=partnerships)

    day = date.fromisoformat(NATIONAL_DAY)
    with prefect_test_harness(server_startup_timeout=180):
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        if mode == "batch":
            state = batched(ids, day, return_state=True)
        else:
            state = daily_share(ids, as_of=day, return_state=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "mode": mode,
        "state": state.name,
        "wall_s": round(wall, 2),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "api_cpu_s": round(children.ru_utime + children.ru_stime, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partnerships", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", choices=["batch", "each"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    ids = [f"syn-{n:03d}" for n in range(1, args.partnerships + 1)]
    if args.one:
        print(json.dumps(one(args.one, ids)))
        return
    where = Path(tempfile.mkdtemp(prefix="govcal-bench-isolation-"))
    data, base = where / "data", where / "base.db"
    generate(data, partnerships=args.partnerships, schools=160 * args.partnerships)
    phase("sync", data, f"sqlite:///{base}")
    runs = []
    for number in range(args.rounds):
        for mode in ("batch", "each"):
            work = where / f"{mode}-{number}"
            work.mkdir()
            shutil.copyfile(base, work / "govcal.db")
            env = {
                **os.environ,
                "GOVCAL_DATABASE_URL": f"sqlite:///{work / 'govcal.db'}",
                "GOVCAL_RULES_PATH": str(data / "rules"),
                "GOVCAL_DEFAULT_PARTNERSHIP": "syn-001",
                "GOVCAL_DATA_DIR": str(work / "data"),
                "GOVCAL_OUTBOX_DIR": str(work / "outbox"),
                "GOVCAL_TRANSPORT": "outbox",
                "PREFECT_HOME": str(work / "prefect"),
            }
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.share_isolation",
                    "--one",
                    mode,
                    "--partnerships",
                    str(args.partnerships),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            run = json.loads(done.stdout.strip().splitlines()[-1]) | {"load": load()}
            runs.append(run)
            print(json.dumps(run), flush=True)
    print("| mode | runs | wall s (each) | process CPU s (each) | load average after |")
    print("|---|---|---|---|---|")
    for mode in ("batch", "each"):
        mine = [r for r in runs if r["mode"] == mode]
        print(
            f"| {mode} | {len(mine)} | {' / '.join(str(r['wall_s']) for r in mine)} | "
            f"{' / '.join(str(r['cpu_s']) for r in mine)} | "
            f"{' / '.join(r['load'].split()[0] for r in mine)} |"
        )


if __name__ == "__main__":
    main()
