"""SQLite beside PostgreSQL, from one run: the import, the ten-year sync, the daily job
plain and as a flow (against a kept Prefect server), and the sweep, scale by scale.

    nice .venv/bin/python -m bench.backends --scales 1,4 [--postgres ADMIN_URL]

Both backends get the same procedure: the data set of bench/generate.py, imported and
synced into a new database (bench/phases.py `sync`: directory import, ten years, the
history); that database copied (a file copy for SQLite, `CREATE DATABASE ... TEMPLATE`
for PostgreSQL) before each daily job so each starts from the same state; the sweep on
the copy the plain job left (the day's ledger in it). Every figure is one fresh process
timed from outside. The day before's feeds and cockpit are not prepared (bench/run.py
does that for SQLite alone): both backends' daily jobs here include the first publish
of every feed, so they read higher than bench/run.py's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.run import LOGINS, NATIONAL_DAY, PY, kept_env, load, phase, timed

ROOT = Path(__file__).resolve().parent.parent


def _pg_admin(admin: str) -> Any:
    import psycopg

    return psycopg.connect(admin, autocommit=True)


def new_database(backend: str, folder: Path, admin: str, name: str,
                 template: str | None = None) -> str:  # fmt: skip
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


def backend_figures(backend: str, folder: Path, admin: str, server: str) -> dict[str, Any]:
    work = folder / f"work-{backend}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    made: list[str] = []
    try:
        base = new_database(backend, work, admin, "base")
        made.append(base)
        synced = phase("sync", folder, base)
        r: dict[str, Any] = {k: synced[k] for k in ("import_s", "sync_s", "history_s")}
        r["occurrences"] = synced["occurrences_created"]
        for label, mode, extra in (("plain", "plain", {}), ("flow", "flow", kept_env(server))):
            url = new_database(backend, work, admin, label, template=base)
            made.append(url)
            wall, inner = timed([PY, "-m", "bench.day", mode, "--as-of", NATIONAL_DAY],
                                {**day_env(folder, work, url, label), **extra})  # fmt: skip
            r[f"day_{label}_s"] = wall
            r[f"day_{label}_detail"] = inner
        r["sweep_s"] = phase("sweep", folder, made[1])["sweep_s"]  # after the plain day
        return r
    finally:
        for url in made:
            drop(url, admin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench-backends")
    args = parser.parse_args()
    from govcal.local_api import start, stop
    from govcal.prefect_env import api_auth

    home = Path(tempfile.mkdtemp(prefix="govcal-bench-prefect-"))
    server, process = start(home, port=0)
    LOGINS[server.url] = api_auth(home)
    results: dict[str, Any] = {"load_start": load(), "scales": {}}
    print(f"load average at start: {results['load_start']}", flush=True)
    try:
        for scale in [int(s) for s in args.scales.split(",")]:
            folder = args.out / f"x{scale}"
            shutil.rmtree(folder, ignore_errors=True)
            generate(folder, partnerships=10 * scale, schools=1_600 * scale)
            row = {b: backend_figures(b, folder, args.postgres, server.url)
                   for b in ("sqlite", "postgresql")}  # fmt: skip
            row["load"] = load()
            results["scales"][scale] = row
            print(f"x{scale}: " + json.dumps(row), flush=True)
    finally:
        stop(process)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print("\n".join(table(results)))


COLUMNS = [("import", "import_s"), ("ten-year sync", "sync_s"), ("daily job, plain", "day_plain_s"),
           ("daily job, flow (kept server)", "day_flow_s"), ("sweep", "sweep_s")]  # fmt: skip


def table(results: dict[str, Any]) -> list[str]:
    """One row per figure, SQLite and PostgreSQL side by side at each scale."""
    scales = list(results["scales"])
    head = "| seconds | " + " | ".join(f"{s}x SQLite | {s}x PostgreSQL" for s in scales) + " |"
    lines = [head, "|---" * (1 + 2 * len(scales)) + "|"]
    for label, key in COLUMNS:
        cells = [f"{results['scales'][s][b][key]:.2f}" for s in scales
                 for b in ("sqlite", "postgresql")]  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
