"""SQLite beside PostgreSQL, from one run: the import, the ten-year sync, the daily job
plain and as a flow (against a kept Prefect server), and the sweep, scale by scale.

    nice .venv/bin/python -m bench.backends --scales 1,4 [--postgres ADMIN_URL]

Both backends get the same procedure: the data set of bench/generate.py, imported and
synced into a new database (bench/phases.py `sync`: directory import, ten years, the
history); the day before's daily job run on it and its cockpit posted (a deployment finds
yesterday's ledger, feeds and cockpit each morning, and writes only what changed: the
first day after the load records ten years' overdue flags and publishes every feed, and
is reported apart as `first_day`); that database copied (a file copy for SQLite,
`CREATE DATABASE ... TEMPLATE` for PostgreSQL) before each daily job so each starts from
the same state; the sweep on the copy the plain job left (the day's ledger in it).

Every figure is one fresh process timed from outside, in wall seconds and in CPU
seconds: the process's own user + system time (its waited-for children included, from
getrusage), and for PostgreSQL the server's, summed over every process of the cluster.
The cluster is one this script starts for itself (initdb in a temporary folder, the
settings of this machine's server: fsync on, autovacuum off, shared_buffers 128 MB), so
no one else's queries are counted; `--postgres` uses a running server instead, and then
its CPU is not reported. CPU seconds are what a busy machine inflates least: the growth
per 4x is judged on them when the load average is high.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.run import LOGINS, NATIONAL_DAY, PY, kept_env, load

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
YESTERDAY = (date.fromisoformat(NATIONAL_DAY) - timedelta(days=1)).isoformat()


def _ticks(pid: int) -> tuple[int, int]:
    """(parent pid, CPU ticks: own user + system, and reaped children's) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds of a PostgreSQL cluster so far: the postmaster with every backend it
    has reaped, plus its live children (backends, checkpointer, writers)."""
    if postmaster is None:
        return 0.0
    total = _ticks(postmaster)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(postmaster):
            try:
                parent, ticks = _ticks(int(entry.name))
            except (OSError, IndexError, ValueError):  # ended while read
                continue
            if parent == postmaster:
                total += ticks
    return total / TICK


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), ""
    )
    if not found:
        raise SystemExit(f"{name} not found: install PostgreSQL or pass --postgres ADMIN_URL")
    return found


@contextmanager
def private_postgres() -> Iterator[tuple[str, int]]:
    """A PostgreSQL cluster of this run's own: (admin URL, postmaster pid)."""
    folder = Path(tempfile.mkdtemp(prefix="govcal-bench-pg-"))
    run_as: list[str] = []
    if os.getuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run(
        [*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {folder} -h 127.0.0.1 -c fsync=on -c autovacuum=off -c shared_buffers=128MB"
    )
    pg_ctl = [*run_as, _pg_bin("pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", pid
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres(admin: str) -> Iterator[tuple[str, int | None]]:
    """The server given (its CPU unknown: others share it), or a private cluster."""
    if admin:
        yield admin, None
        return
    with private_postgres() as (url, pid):
        yield url, pid


def measured(command: list[str], env: dict[str, str], postmaster: int | None) -> dict[str, Any]:
    """One fresh process: its wall seconds, its CPU seconds (user + system, its waited-for
    children's included), the PostgreSQL cluster's CPU seconds over the same span, and
    the JSON line it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = server_cpu(postmaster)
    t0 = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, **env}
    )
    wall = time.perf_counter() - t0
    time.sleep(0.2)  # the backends that served it reaped, their CPU counted
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "pg_cpu_s": server_cpu(postmaster) - server_before,
        "inner": json.loads(lines[-1]) if lines else {},
    }


def _pg_admin(admin: str) -> Any:
    import psycopg

    return psycopg.connect(admin, autocommit=True)


def new_database(
    backend: str, folder: Path, admin: str, name: str, template: str | None = None
) -> str:
    """A new database (a copy of `template` if given); its URL."""
    if backend == "sqlite":
        path = folder / f"{name}.db"
        path.unlink(missing_ok=True)
        if template:
            shutil.copy(template.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    db = f"govcal_bench_{name}_{uuid.uuid4().hex[:6]}"
    with _pg_admin(admin) as conn:
        copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        conn.execute(f'CREATE DATABASE "{db}"{copy}')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{db}"


def drop(url: str, admin: str) -> None:
    if url.startswith("sqlite"):
        return
    with _pg_admin(admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def day_env(folder: Path, work: Path, url: str, run: str) -> dict[str, str]:
    return {
        "GOVCAL_DATABASE_URL": url,
        "GOVCAL_RULES_PATH": str(folder / "rules"),
        "GOVCAL_DATA_DIR": str(work / "data"),
        "GOVCAL_OUTBOX_DIR": str(work / f"outbox-{run}"),
        "GOVCAL_FEEDS_DIR": str(work / f"feeds-{run}"),
        "GOVCAL_TRANSPORT": "outbox",
    }


def backend_figures(
    backend: str, folder: Path, admin: str, server: str, postmaster: int | None
) -> dict[str, Any]:
    work = folder / f"work-{backend}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    made: list[str] = []
    pg = postmaster if backend == "postgresql" else None
    day = [PY, "-m", "bench.day"]
    try:
        base = new_database(backend, work, admin, "base")
        made.append(base)
        sync = [PY, "-m", "bench.phases", "sync", "--data", str(folder), "--db", base]
        r: dict[str, Any] = {"sync": measured(sync, {}, pg)}
        # The day before, run whole on the base: its ledger, feeds (and their tokens), and
        # below its cockpit. Reported apart: being the first day after the load, it fills
        # the ledger with ten years' overdue flags and publishes every feed for the first time
        yesterday = [*day, "plain", "--as-of", YESTERDAY]
        r["first_day"] = measured(yesterday, day_env(folder, work, base, "base"), pg)
        cockpit = [*day, "post-boards", "--as-of", YESTERDAY]
        for label, mode, extra in (("plain", "plain", {}), ("flow", "flow", kept_env(server))):
            url = new_database(backend, work, admin, label, template=base)
            made.append(url)
            shutil.copytree(work / "feeds-base", work / f"feeds-{label}")
            env = {**day_env(folder, work, url, label), **extra}
            if extra:  # the same cockpit before every flow run, as bench/run.py leaves it
                measured(cockpit, env, None)
            r[f"day_{label}"] = measured([*day, mode, "--as-of", NATIONAL_DAY], env, pg)
        sweep = [PY, "-m", "bench.phases", "sweep", "--data", str(folder), "--db", made[1]]
        r["sweep"] = measured(sweep, {}, pg)  # after the plain day
        return r
    finally:
        for url in made:
            drop(url, admin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4")
    parser.add_argument("--postgres", default="", help="a running server's admin URL")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench-backends")
    args = parser.parse_args()
    from govcal.local_api import start, stop
    from govcal.prefect_env import api_auth

    args.out.mkdir(parents=True, exist_ok=True)
    results_file = args.out / "results.json"
    results: dict[str, Any] = {"load_start": load(), "scales": {}}
    print(f"load average at start: {results['load_start']}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="govcal-bench-prefect-"))
    server, process = start(home, port=0)
    LOGINS[server.url] = api_auth(home)
    with postgres(args.postgres) as (admin, postmaster):
        try:
            for scale in [int(s) for s in args.scales.split(",")]:
                folder = args.out / f"x{scale}"
                shutil.rmtree(folder, ignore_errors=True)
                generate(folder, partnerships=10 * scale, schools=1_600 * scale)
                row: dict[str, Any] = {}
                for b in args.backends.split(","):
                    row[f"load_{b}"] = load()
                    row[b] = backend_figures(b, folder, admin, server.url, postmaster)
                    print(f"x{scale} {b}: " + json.dumps(row[b]), flush=True)
                row["load"] = load()
                results["scales"][scale] = row
                results_file.write_text(json.dumps(results, indent=2))  # kept if stopped
        finally:
            stop(process)
    results["load_end"] = load()
    results_file.write_text(json.dumps(results, indent=2))
    print("\n".join(table(results)))


COLUMNS = [
    ("import", "sync", "import_s"),
    ("ten-year sync", "sync", "sync_s"),
    ("history (bulk update)", "sync", "history_s"),
    ("sync phase, whole process", "sync", None),
    ("daily job, plain", "day_plain", None),
    ("daily job, flow (kept server)", "day_flow", None),
    ("sweep", "sweep", "sweep_s"),
    ("sweep, whole process", "sweep", None),
]


def cell(m: dict[str, Any], inner: str | None) -> str:
    """In-process seconds of one step; or a whole process: wall, its CPU, the server's."""
    if inner:
        return f"{m['inner'][inner]:.2f}"
    pg = f" + {m['pg_cpu_s']:.1f}" if m["pg_cpu_s"] else ""
    return f"{m['wall_s']:.1f} ({m['cpu_s']:.1f}{pg})"


def table(results: dict[str, Any]) -> list[str]:
    """One row per figure, SQLite and PostgreSQL side by side at each scale, then the
    growth per 4x of each whole process's CPU (govcal's + the server's) and wall time."""
    scales = list(results["scales"])
    first = results["scales"][scales[0]]
    backends = [b for b in ("sqlite", "postgresql") if b in first]
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    head = " | ".join(f"{s}x {names[b]}" for s in scales for b in backends)
    lines = [f"| seconds | {head} |", "|---" * (1 + len(backends) * len(scales)) + "|"]
    for label, key, inner in COLUMNS:
        cells = [cell(results["scales"][s][b][key], inner) for s in scales for b in backends]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    loads = [results["scales"][s][f"load_{b}"] for s in scales for b in backends]
    lines.append("| load average before | " + " | ".join(loads) + " |")
    rule = "|---" * (1 + len(backends)) + "|"
    lines += ["", "| growth per 4x | " + " | ".join(backends) + " |", rule]
    for label, key, inner in COLUMNS:
        if inner is not None and inner != "sync_s":
            continue
        cells = []
        for b in backends:
            steps = []
            for a, z in itertools.pairwise(scales):
                x, y = results["scales"][a][b][key], results["scales"][z][b][key]
                if inner:
                    steps.append(f"x{y['inner'][inner] / x['inner'][inner]:.1f}")
                else:
                    cpu = (y["cpu_s"] + y["pg_cpu_s"]) / (x["cpu_s"] + x["pg_cpu_s"])
                    steps.append(f"CPU x{cpu:.1f}, wall x{y['wall_s'] / x['wall_s']:.1f}")
            cells.append("; ".join(steps))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
