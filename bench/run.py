"""Run the benchmark and print its figures as Markdown tables (and JSON to OUT/results.json).

    nice .venv/bin/python -m bench.run [--scales 1,4,16] [--runs 3] [--postgres ADMIN_URL]
    .venv/bin/python -m bench.run --cli-only --runs 5     # the everyday commands alone

Scale 1 is 10 partnerships with 1,600 schools; 16 is 160 partnerships with 25,600 schools
(a little over England). The rules of the generated partnerships begin in 2025 and the
history is ten years deep, so the national day is 26 November 2035.

Method (so that every comparison is fair):
- Every timed job runs in a fresh process and is timed from outside, interpreter start
  and imports included, as cron or a person pays them.
- Each scale's database is built once (import, sync, ten years of history) and copied
  before every daily-job run: every run of every mode starts from the same ledger state.
- The daily job runs three ways on the same copy: plain functions (cron + a script), the
  Prefect flow on Prefect's ephemeral in-process API (what `govcal run` pays alone), and
  the flow against a long-lived Prefect server (what `govcal serve` keeps).
- Nothing is extrapolated: the naive one-task-per-item flow runs on every item at 1x.
- Each figure is the min and median of --runs runs; the machine's load is printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent
NATIONAL_DAY = "2035-11-26"
SAMPLE_DAY = "2026-11-24"
PY = sys.executable


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, dict]:
    """Wall seconds of one fresh process (start-up included) and its JSON line, if any."""
    t0 = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return wall, (json.loads(lines[-1]) if lines else {})


def phase(name: str, data: Path, db: str, env: dict[str, str] | None = None) -> dict:
    wall, figures = timed([PY, "-m", "bench.phases", name, "--data", str(data), "--db", db], env)
    return {**figures, "wall_s": wall}


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "runs": len(values)}


def fmt(s: dict, digits: int = 2) -> str:
    return f"{s['min']:.{digits}f} / {s['median']:.{digits}f}"


def postgres_database(admin_url: str) -> str:
    import psycopg

    name = f"govcal_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def day_env(folder: Path, work: Path, db: Path, run: str) -> dict[str, str]:
    return {
        "GOVCAL_DATABASE_URL": f"sqlite:///{db}",
        "GOVCAL_RULES_PATH": str(folder / "rules"),
        "GOVCAL_DATA_DIR": str(work / "data"),
        "GOVCAL_OUTBOX_DIR": str(work / f"outbox-{run}"),
        "GOVCAL_FEEDS_DIR": str(work / f"feeds-{run}"),
        "GOVCAL_TRANSPORT": "outbox",
    }


LOGINS: dict[str, str] = {}  # a kept server's URL -> its login (govcal/prefect_env.py)


def kept_env(url: str) -> dict[str, str]:
    """What a child needs to use a kept server: its URL and its login."""
    return {"PREFECT_API_URL": url, "PREFECT_API_AUTH_STRING": LOGINS[url]}


def scale_figures(scale: int, out: Path, runs: int, server_url: str, pg: str) -> dict:
    folder = out / f"x{scale}"
    shutil.rmtree(folder, ignore_errors=True)
    generate(folder, partnerships=10 * scale, schools=1_600 * scale)
    r: dict = {"partnerships": 10 * scale}
    r["expand"] = spread([phase("expand", folder, "")["expand_s"] for _ in range(runs)])
    imports, syncs = [], []
    base = folder / "base.db"
    for _ in range(runs):  # a fresh database each time: import and sync from nothing
        db = folder / "sync.db"
        db.unlink(missing_ok=True)
        figures = phase("sync", folder, f"sqlite:///{db}")
        imports.append(figures["import_s"])
        syncs.append(figures["sync_s"])
        r["occurrences_created"] = figures["occurrences_created"]
    shutil.copy(db, base)
    r["import"], r["sync"] = spread(imports), spread(syncs)
    if pg:
        r["sync_pg"] = phase("sync", folder, postgres_database(pg))["sync_s"]
    work = folder / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    # The day before's feeds, as a deployment finds them each morning (tokens are issued
    # into base.db here); the first publish of every feed is reported on its own.
    yesterday = (date.fromisoformat(NATIONAL_DAY) - timedelta(days=1)).isoformat()
    _, first = timed(
        [PY, "-m", "bench.day", "feeds", "--as-of", yesterday], day_env(folder, work, base, "base")
    )
    r["feeds_first_publish"] = {"s": first["feeds_s"], "feeds": first["feeds"]}
    # Prefect's home for the ephemeral runs is made once, untimed, as on a user's machine
    timed(
        [PY, "-m", "bench.day", "floor", "--as-of", NATIONAL_DAY],
        day_env(folder, work, base, "warm"),
    )
    kept = kept_env(server_url)
    # The day before's cockpit, on both APIs, as a deployment finds it each morning; the
    # first post of every artifact is reported on its own
    first_post = [PY, "-m", "bench.day", "post-boards", "--as-of", yesterday]
    wall, posted = timed(first_post, {**day_env(folder, work, base, "seed"), **kept})
    r["artifacts_first_post"] = {"s": wall, "artifacts": posted["posted"]}
    timed(first_post, day_env(folder, work, base, "seed"))

    def yesterdays_cockpit(extra: dict[str, str]) -> None:
        """Untimed: the day before's artifacts the latest again (a returns table that a
        measured run changed is changed back), so every run finds the same API state."""
        timed(first_post, {**day_env(folder, work, base, "seed"), **extra})

    modes = {
        "plain": ("plain", {}),
        "flow-ephemeral": ("flow", {}),
        "flow-server": ("flow", kept),
        "plain-publish": ("plain-publish", kept),
    }
    first_plain = None
    for label, (mode, extra) in modes.items():
        walls, inner = [], []
        for n in range(runs):
            db = work / f"{label}-{n}.db"
            shutil.copy(base, db)  # the same ledger state for every run of every mode
            shutil.copytree(work / "feeds-base", work / f"feeds-{label}-{n}")
            env = {**day_env(folder, work, db, f"{label}-{n}"), **extra}
            if label != "plain" and n:
                yesterdays_cockpit(extra)
            wall, figures = timed([PY, "-m", "bench.day", mode, "--as-of", NATIONAL_DAY], env)
            walls.append(wall)
            inner.append(figures)
            if label == "plain" and first_plain is None:
                first_plain = db
        r[label] = {**spread(walls), "last": inner[-1]}
    sweeps = [phase("sweep", folder, f"sqlite:///{first_plain}") for _ in range(runs)]
    r["sweep_full_day"] = spread([s["sweep_s"] for s in sweeps])
    r["sweep_detail"] = sweeps[-1]
    r["sweep_empty_ledger"] = phase("sweep", folder, f"sqlite:///{base}")["sweep_s"]
    return r


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, its write-ahead log included (a file
    copy of govcal.db alone can miss the last writes)."""
    import sqlite3

    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def sample_figures(out: Path, runs: int) -> dict:
    """`govcal run` and the everyday commands on the shipped sample, as a person runs them."""
    from govcal.local_api import start, stop
    from govcal.prefect_env import api_auth

    data = out / "sample"
    shutil.rmtree(data, ignore_errors=True)
    env = {"GOVCAL_DATA_DIR": str(data)}
    for key in ("GOVCAL_DATABASE_URL", "GOVCAL_RULES_PATH", "PREFECT_HOME", "PREFECT_API_URL"):
        os.environ.pop(key, None)
    govcal = [PY, "-m", "govcal.cli"]
    r: dict = {}
    r["run_first"] = timed([*govcal, "run", "--as-of", SAMPLE_DAY], env)[0]
    prepared = out / "sample-prepared.db"
    _copy_sqlite(data / "govcal.db", prepared)

    def fresh_db() -> None:
        shutil.copy(prepared, data / "govcal.db")
        for suffix in ("-wal", "-shm"):
            (data / f"govcal.db{suffix}").unlink(missing_ok=True)

    def runs_of(command: list[str], before=None) -> dict:
        walls = []
        for _ in range(runs):
            if before:
                before()
            walls.append(timed(command, env)[0])
        return spread(walls)

    r["python"] = runs_of([PY, "-c", "pass"])
    floor_plain = [PY, "-m", "bench.day", "floor-plain", "--as-of", SAMPLE_DAY]
    r["python_floor_script"] = runs_of(floor_plain)
    r["prefect_floor_ephemeral"] = runs_of([PY, "-m", "bench.day", "floor", "--as-of", SAMPLE_DAY])
    r["run_ephemeral"] = runs_of([*govcal, "run", "--as-of", SAMPLE_DAY], fresh_db)
    _, inner = timed([PY, "-m", "bench.day", "flow", "--as-of", SAMPLE_DAY], env)
    r["run_ephemeral_phases"] = inner
    server, process = start(data / "prefect", port=0)  # what `govcal serve` keeps
    LOGINS[server.url] = api_auth(data / "prefect")
    try:
        r["prefect_floor_server"] = spread(
            [
                timed(
                    [PY, "-m", "bench.day", "floor", "--as-of", SAMPLE_DAY],
                    {**env, **kept_env(server.url)},
                )[0]
                for _ in range(runs)
            ]
        )
        r["run_server"] = runs_of([*govcal, "run", "--as-of", SAMPLE_DAY], fresh_db)
        _, inner = timed(
            [PY, "-m", "bench.day", "flow", "--as-of", SAMPLE_DAY], {**env, **kept_env(server.url)}
        )
        r["run_server_phases"] = inner
    finally:
        stop(process, data / "prefect")
    fresh_db()
    r.update(cli_figures(out, data, runs))
    return r


def cli_figures(out: Path, data: Path, runs: int) -> dict:
    """The everyday commands, each a fresh process as a person types it: those that need
    no database in an empty data folder, the others on the sample's database in `data`.
    Two write commands alternate (each undoes the other), so every run starts alike."""
    govcal = [PY, "-m", "govcal.cli"]
    env = {"GOVCAL_DATA_DIR": str(data)}
    empty = out / "no-database"
    shutil.rmtree(empty, ignore_errors=True)
    empty.mkdir(parents=True)
    bare = {"GOVCAL_DATA_DIR": str(empty)}
    item = "wfscp:annual-report:2026-09-30"
    complete = ["complete", item, "--evidence", "https://example.org/report", "--on", "2026-10-01"]
    first = subprocess.run(
        [*govcal, *complete],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    if first.returncode != 0 and "already completed" not in first.stderr:
        raise SystemExit(f"could not complete {item} to begin with:\n{first.stderr}")
    commands = {
        "--help": (["--help"], bare),
        "plan (no database)": (["plan", "--as-of", SAMPLE_DAY], bare),
        "rules check": (["rules", "check", "--as-of", SAMPLE_DAY], bare),
        "plan (database)": (["plan", "--as-of", SAMPLE_DAY], env),
        "status": (["status", "--as-of", SAMPLE_DAY], env),
        "sync (write)": (["sync", "--as-of", SAMPLE_DAY], env),
    }
    r: dict = {"cli_load_start": load(), "cli": {}}
    for name, (args, where) in commands.items():
        r["cli"][name] = spread([timed([*govcal, *args], where)[0] for _ in range(runs)])
    reopened, completed = [], []
    for _ in range(runs):  # two write commands, each undoing the other
        reopened.append(timed([*govcal, "reopen", item], env)[0])
        completed.append(timed([*govcal, *complete], env)[0])
    r["cli"]["reopen (write)"], r["cli"]["complete (write)"] = spread(reopened), spread(completed)
    r["cli_load_end"] = load()
    return r


def cli_only(out: Path, runs: int) -> dict:
    """The command figures alone, on a sample made once by `govcal run` (kept in OUT)."""
    data = out / "sample-cli"
    if not (data / "govcal.db").is_file():
        shutil.rmtree(data, ignore_errors=True)
        for key in ("GOVCAL_DATABASE_URL", "GOVCAL_RULES_PATH", "PREFECT_HOME", "PREFECT_API_URL"):
            os.environ.pop(key, None)
        timed(
            [PY, "-m", "govcal.cli", "run", "--as-of", SAMPLE_DAY], {"GOVCAL_DATA_DIR": str(data)}
        )
    return cli_figures(out, data, runs)


def cli_report(s: dict) -> list[str]:
    lines = [
        f"load average {s['cli_load_start']} before the commands, {s['cli_load_end']} after",
        "",
        "| command (fresh process) | min / median s |",
        "|---|---|",
    ]
    for name, v in s["cli"].items():
        lines.append(f"| govcal {name} | {fmt(v)} |")
    return lines


def naive_figures(out: Path, server_url: str) -> dict:
    folder = out / "x1"
    db = folder / "work" / "plain-0.db"
    return phase(
        "naive",
        folder,
        f"sqlite:///{db}",
        {**kept_env(server_url), "GOVCAL_DATA_DIR": str(folder / "work" / "data")},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--skip", default="", help="comma-separated: sample,naive,deliver")
    parser.add_argument(
        "--cli-only", action="store_true", help="only the everyday commands on the sample"
    )
    args = parser.parse_args()
    if args.cli_only:
        print("\n".join(cli_report(cli_only(args.out, args.runs))))
        return
    from govcal.local_api import start, stop
    from govcal.prefect_env import api_auth

    args.out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {"load_start": load(), "scales": {}}
    print(f"load average at start: {results['load_start']}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="govcal-bench-prefect-"))
    server, process = start(home, port=0)  # the long-lived server of the "flow-server" mode
    LOGINS[server.url] = api_auth(home)
    try:
        for scale in [int(s) for s in args.scales.split(",")]:
            results["scales"][scale] = scale_figures(
                scale, args.out, args.runs, server.url, args.postgres
            )
            print(f"x{scale}: " + json.dumps(results["scales"][scale]), flush=True)
        if "naive" not in skip and 1 in results["scales"]:
            results["naive"] = naive_figures(args.out, server.url)
            print("naive: " + json.dumps(results["naive"]), flush=True)
        largest = max(results["scales"])
        if "deliver" not in skip:
            folder = args.out / f"x{largest}"
            db = folder / "deliver.db"
            shutil.copy(folder / "base.db", db)
            results["deliver"] = phase("deliver", folder, f"sqlite:///{db}")
            print("deliver: " + json.dumps(results["deliver"]), flush=True)
    finally:
        stop(process)
        shutil.rmtree(home, ignore_errors=True)
    if "sample" not in skip:  # last: the growth table matters most if time runs out
        results["sample"] = sample_figures(args.out, args.runs)
        print("sample: " + json.dumps(results["sample"]), flush=True)
    results["load_end"] = load()
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(report(results))


def growth(r: dict, key: str, stat: str = "median") -> str:
    scales = sorted(r)
    values = [r[s][key][stat] if isinstance(r[s][key], dict) else r[s][key] for s in scales]
    steps = [f"x{b / a:.1f}" for a, b in itertools.pairwise(values) if a]
    return " -> ".join(f"{v:.2f}" for v in values) + f" s ({', '.join(steps)})"


def over(x: dict, key: str, base: str) -> str:
    return f"{(x[key]['median'] / x[base]['median'] - 1) * 100:+.0f}%"


def report(results: dict) -> str:
    r = results["scales"]
    runs = next(iter(r.values()))["plain"]["runs"]
    lines = [
        f"Load average (1, 5, 15 min) at start {results['load_start']}, at end "
        f"{results['load_end']}. Figures: min / median of {runs} runs, seconds, "
        "wall clock of a fresh process (start-up included).",
        "",
    ]
    lines += [
        "| scale | partnerships | occurrences | expand 10 y | import | sync SQLite | "
        "daily job, plain | flow, ephemeral API | flow, long-lived server | "
        "plain + the same artifacts posted | sweep, full day's ledger | sweep, empty ledger |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scale, x in sorted(r.items()):
        lines.append(
            f"| {scale}x | {x['partnerships']} | {x['sweep_detail']['occurrences']:,} | "
            f"{fmt(x['expand'])} | {fmt(x['import'])} | {fmt(x['sync'])} | "
            f"{fmt(x['plain'])} | {fmt(x['flow-ephemeral'])} | {fmt(x['flow-server'])} | "
            f"{fmt(x['plain-publish'])} | {fmt(x['sweep_full_day'])} | "
            f"{x['sweep_empty_ledger']:.2f} |"
        )
    lines += [
        "",
        "The flow against the long-lived server over the same day (medians): "
        + "; ".join(
            f"{scale}x {over(x, 'flow-server', 'plain')} over plain, "
            f"{over(x, 'flow-server', 'plain-publish')} over plain + the same "
            "artifacts posted"
            for scale, x in sorted(r.items())
        ),
    ]
    lines += [
        "",
        "First publish (untimed before the runs, once): "
        + "; ".join(
            f"{scale}x {x['feeds_first_publish']['feeds']:,} feeds "
            f"{x['feeds_first_publish']['s']:.1f} s, "
            f"{x['artifacts_first_post']['artifacts']} artifacts "
            f"{x['artifacts_first_post']['s']:.1f} s"
            for scale, x in sorted(r.items())
        ),
    ]
    lines += ["", "| cost (median) | 1x -> 4x -> 16x |", "|---|---|"]
    for key in ("plain", "flow-server", "plain-publish", "import", "sync", "sweep_full_day"):
        lines.append(f"| {key} | {growth(r, key)} |")
    if any("sync_pg" in x for x in r.values()):
        pg = {s: {"v": {"median": x.get("sync_pg", 0)}} for s, x in r.items()}
        lines.append(f"| sync PostgreSQL (1 run) | {growth(pg, 'v')} |")
    lines.append("")
    for scale, x in sorted(r.items()):
        inside = {k: x[k]["last"] for k in ("plain", "flow-server", "plain-publish")}
        lines.append(f"{scale}x day, in-process split: {json.dumps(inside)}")
    if "deliver" in results:
        d = results["deliver"]
        lines.append(
            f"Delivery: {d['messages']} messages in {d['deliver_s']:.2f} s over "
            f"{d['connections']} connection(s) ({d['per_1000_s']:.2f} s per 1,000)."
        )
    if "naive" in results:
        n = results["naive"]
        lines.append(
            f"Naive at 1x: {n['items']} tasks {n['naive_s']:.1f} s "
            f"{n['naive_failed'] or ''}; batched {n['batched_s']:.2f} s."
        )
    if "sample" in results:
        s = results["sample"]
        lines += ["", "| on the sample | min / median |", "|---|---|"]
        for key in (
            "python",
            "python_floor_script",
            "prefect_floor_ephemeral",
            "run_ephemeral",
            "prefect_floor_server",
            "run_server",
        ):
            lines.append(f"| {key} | {fmt(s[key])} |")
        lines.append(f"| run_first (fresh data folder, 1 run) | {s['run_first']:.2f} |")
        lines += ["", *cli_report(s)]
        lines.append(f"phases, ephemeral: {json.dumps(s['run_ephemeral_phases'])}")
        lines.append(f"phases, server: {json.dumps(s['run_server_phases'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
