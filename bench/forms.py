"""Submit -> result for every form of the cockpit, through a kept Prefect server's API.

    nice .venv/bin/python -m bench.forms --runs 10 --baseline-runs 3

One fresh data folder with the sample (`govcal run --as-of 2026-11-24`), one `govcal
serve` (its Prefect server and the forms runner it keeps), prefect.yaml deployed. Each
form is submitted as the UI's Run does (`create_flow_run_from_deployment`) and timed from
just before that call to the first read of a final state (Completed or Failed), reads
every 0.1 s: what a person waits for. The forms go one at a time, in rounds, so each
round's completion is undone by the next form (reopen) and the next round can complete
again. Beside them, in the same run:

- `worker-10s`: today's setup before the forms runner: the same forms deployed to a pool
  of their own (copies of the deployments, same entrypoints and working directory) and
  `prefect worker start` on it with Prefect's defaults (a poll every 10 s, a new process
  per run);
- `worker-1s`: the same worker asked every second (PREFECT_WORKER_QUERY_SECONDS=1): the
  poll taken out, the process start left in.

The choose-from-a-list path is timed too (`waive-item` without an id): Submit -> Paused,
and Resume (the run input the UI's drop-down sends, its first choice) -> Completed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcal.flows.form_names import deployment_of

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAY = "24/11/2026"
LSP = "wfscp:lsp-meeting:2026-11-11"
PAPERS = "wfscp:lsp-meeting-papers:2026-11-11"  # escalated on the day
S11 = "wfscp:section-11-audit:2026-10-31:uhmb"  # overdue on the day
FUTURE = "wfscp:lsp-meeting:2027-02-10"
BY = "Bench Officer"
EVIDENCE = "https://example.org/bench.pdf"
BASELINE_POOL = "bench-baseline"
REASON = "bench: not needed this time"  # a statutory duty's waiver needs 15 characters


def rounds(i: int) -> list[tuple[str, dict[str, Any]]]:
    """Round i's forms, in order: each completion is undone (reopen) in the same round;
    each round's incident reference is new (i counts on across setups)."""
    new_day = f"{2 + i % 9:02d}/12/2026"
    return [
        ("record-completion", {"item": LSP, "evidence": EVIDENCE, "completed_by": BY}),
        ("record-attendance", {"item": LSP, "by": BY}),
        ("reopen-item", {"item": LSP, "reason": "bench: undo", "by": BY}),
        (
            "record-return",
            {"item": S11, "evidence": EVIDENCE, "submitted_on": DAY, "recorded_by": BY},
        ),
        ("review-return", {"item": S11, "rating": "amber", "by": BY}),
        ("reopen-item", {"item": S11, "reason": "bench: undo", "by": BY}),
        (
            "reschedule",
            {
                "item": FUTURE,
                "new_date": new_day,
                "new_time": "14:00",
                "new_place": "",
                "reason": "bench",
                "by": BY,
            },
        ),
        ("waive-item", {"item": FUTURE, "reason": "bench", "by": BY}),
        ("reopen-item", {"item": FUTURE, "reason": "bench: undo", "by": BY}),
        ("cancel-item", {"item": FUTURE, "reason": "bench", "by": BY}),
        ("reopen-item", {"item": FUTURE, "reason": "bench: undo", "by": BY}),
        ("acknowledge-escalation", {"item": PAPERS, "by": BY}),
        (
            "start-incident-clock",
            {
                "partnership": "wfscp",
                "reference": f"SI-2026-{500 + i}",
                "aware_on": "20/11/2026",
                "recorded_by": BY,
            },
        ),
        ("evidence-pack", {}),
    ]


def parameters(form: str, given: dict[str, Any]) -> dict[str, Any]:
    if form == "evidence-pack":
        return {"partnership": "wfscp", "year": "2026"}  # typed as text, as the form has it
    return {"form": given, "as_of": DAY}


@dataclass
class Timings:
    took: dict[str, list[float]] = field(default_factory=dict)
    ended: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, form: str, seconds: float, state: str) -> None:
        self.took.setdefault(form, []).append(seconds)
        counts = self.ended.setdefault(form, {})
        counts[state] = counts.get(state, 0) + 1


def submit_and_wait(client: Any, deployment: Any, params: dict[str, Any]) -> tuple[float, Any]:
    """Seconds from Submit to a final (or paused) state, and that state."""
    start = time.monotonic()
    run = client.create_flow_run_from_deployment(deployment.id, parameters=params)
    state = wait(client, run.id, lambda s: s.is_final() or s.is_paused())
    return time.monotonic() - start, state


def wait(client: Any, run_id: Any, done: Callable[[Any], bool], limit: float = 300.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = client.read_flow_run(run_id).state
        if state is not None and done(state):
            return state
        time.sleep(0.1)
    raise SystemExit(f"flow run {run_id} did not finish in {limit:.0f} s")


def measure(client: Any, suffix: str, runs: int, first: int = 0) -> tuple[Timings, Timings]:
    """Every form `runs` times (deployments named NAME/NAME + suffix), and the
    choose-from-a-list path; returns (forms, pause path)."""
    forms, pause = Timings(), Timings()
    deployments: dict[str, Any] = {}
    for i in range(first, first + runs):
        for form, given in rounds(i):
            if form not in deployments:
                deployments[form] = client.read_deployment_by_name(
                    f"{form}/{deployment_of(form)}{suffix}"
                )
            seconds, state = submit_and_wait(client, deployments[form], parameters(form, given))
            forms.add(form, seconds, state.type.value)
        waive = client.read_deployment_by_name(f"waive-item/{deployment_of('waive-item')}{suffix}")
        seconds, state = submit_and_wait(
            client, waive, {"form": {"item": "", "reason": REASON, "by": BY}, "as_of": DAY}
        )
        pause.add("Submit -> Paused (waive-item, no id)", seconds, state.type.value)
        if not state.is_paused():
            continue
        run_id = state.state_details.flow_run_id
        start = time.monotonic()
        client.resume_flow_run(run_id, run_input={"item": first_choice(client, state)})
        ended = wait(client, run_id, lambda s: s.is_final())
        pause.add("Resume -> Completed", time.monotonic() - start, ended.type.value)
        item = re.search(r"\((\w[\w-]*:[^()\s]+)\)", ended.message or "")
        if item is None:
            continue
        reopen = client.read_deployment_by_name(
            f"reopen-item/{deployment_of('reopen-item')}{suffix}"
        )
        submit_and_wait(
            client,
            reopen,
            parameters("reopen-item", {"item": item.group(1), "reason": "bench: undo", "by": BY}),
        )
    return forms, pause


def first_choice(client: Any, paused: Any) -> str:
    """The drop-down's first entry, from the input schema the paused run saved."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    key = paused.state_details.run_input_keyset["schema"]
    for _ in range(100):  # the run saves its schema just after it pauses (as the UI sees it)
        try:
            text = client.read_flow_run_input(paused.state_details.flow_run_id, key)
            break
        except (ObjectNotFound, PrefectHTTPStatusError):
            time.sleep(0.1)
    else:
        raise SystemExit(f"the paused run {paused.state_details.flow_run_id} saved no schema")
    schema = json.loads(text)
    if isinstance(schema, str):
        schema = json.loads(schema)
    for definition in schema.get("definitions", schema.get("$defs", {})).values():
        if "enum" in definition:
            return definition["enum"][0]
    return schema["properties"]["item"]["enum"][0]


def copy_deployments(client: Any, pool: str) -> None:
    """The forms' deployments again, on a pool of their own, named NAME-baseline."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    names = {form for form, _ in rounds(0)}
    for form in sorted(names):
        d = client.read_deployment_by_name(f"{form}/{deployment_of(form)}")
        client.create_deployment(
            flow_id=d.flow_id,
            name=f"{deployment_of(form)}-baseline",
            entrypoint=d.entrypoint,
            work_pool_name=pool,
            path=d.path,
            pull_steps=d.pull_steps,
            parameter_openapi_schema=d.parameter_openapi_schema,
            parameters=d.parameters,
            enforce_parameter_schema=d.enforce_parameter_schema,
        )


def cli(env: dict[str, str], *args: Any, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{args}: {done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def process(env: dict[str, str], log: Path, *args: Any) -> Iterator[subprocess.Popen]:
    with log.open("ab") as out:
        child = subprocess.Popen(
            [str(a) for a in args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield child
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_for(log: Path, text: str, limit: float = 180.0) -> None:
    deadline = time.monotonic() + limit
    while text not in log.read_text(encoding="utf-8", errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{text!r} not in {log} after {limit:.0f} s")
        time.sleep(0.5)


def figures(label: str, timings: Timings) -> list[str]:
    lines = []
    for form, took in timings.took.items():
        ended = ", ".join(f"{n} {s.lower()}" for s, n in sorted(timings.ended[form].items()))
        lines.append(
            f"| {form} | {label} | {len(took)} | {statistics.median(took):.2f} | "
            f"{max(took):.2f} | {ended} |"
        )
    return lines


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds on the forms runner")
    parser.add_argument("--baseline-runs", type=int, default=10, help="rounds on each worker")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="govcal-bench-forms-"))
    data, home = folder / "data", folder / "data" / "prefect"
    env = {
        **os.environ,
        "GOVCAL_DATA_DIR": str(data),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    for key in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING"):
        env.pop(key, None)
    serve_log = folder / "serve.log"
    print(f"data folder {folder}; load average {load_average()}", flush=True)
    with process(env, serve_log, BIN / "govcal", "serve", "--port", "0", "--web-port", "-1"):
        wait_for(serve_log, "govcal serve is running")
        server = json.loads((home / "api-server.json").read_text(encoding="utf-8"))
        env["PREFECT_API_URL"] = server["url"]
        env["PREFECT_API_AUTH_STRING"] = (home / "api-auth").read_text(encoding="utf-8").strip()
        os.environ.update(
            {
                k: env[k]
                for k in (
                    "PREFECT_API_URL",
                    "PREFECT_API_AUTH_STRING",
                    "PREFECT_HOME",
                    "GOVCAL_DATA_DIR",
                )
            }
        )
        cli(env, BIN / "govcal", "run", "--as-of", "2026-11-24")
        cli(env, BIN / "prefect", "--no-prompt", "deploy", "--all")
        from prefect.client.orchestration import get_client

        tables: list[str] = []
        pauses: list[str] = []
        with get_client(sync_client=True) as client:
            print(f"forms runner ({args.runs} rounds), load {load_average()}", flush=True)
            forms, pause = measure(client, "", args.runs)
            tables += figures("govcal forms runner (serve)", forms)
            pauses += figures("govcal forms runner (serve)", pause)
            if args.baseline_runs:
                copy_deployments(client, BASELINE_POOL)
            workers = (("worker, poll 10 s (default)", None), ("worker, poll 1 s", "1"))
            for n, (label, query) in enumerate(workers if args.baseline_runs else ()):
                worker_env = {**env, **({"PREFECT_WORKER_QUERY_SECONDS": query} if query else {})}
                print(f"{label} ({args.baseline_runs} rounds), load {load_average()}", flush=True)
                with process(
                    worker_env,
                    folder / "worker.log",
                    BIN / "prefect",
                    "worker",
                    "start",
                    "--pool",
                    BASELINE_POOL,
                ):
                    first = args.runs + n * args.baseline_runs
                    forms, pause = measure(client, "-baseline", args.baseline_runs, first)
                tables += figures(label, forms)
                pauses += figures(label, pause)
        print(f"\nSubmit -> result, seconds; load average at the end {load_average()}\n")
        print("| form | picked up by | runs | median | worst | ended |")
        print("|---|---|---|---|---|---|")
        print("\n".join(sorted(tables, key=lambda line: line.split("|")[1])))
        print("\n| choose from a list | picked up by | runs | median | worst | ended |")
        print("|---|---|---|---|---|---|")
        print("\n".join(pauses))
        every = [float(line.split("|")[4]) for line in tables if "forms runner" in line]
        print(f"\nforms runner: worst median {max(every):.2f} s", flush=True)
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
