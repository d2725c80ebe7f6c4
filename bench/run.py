"""Run the national benchmark and print its figures as Markdown tables.

    .venv/bin/python -m bench.run [--scales 1,4,16] [--postgres ADMIN_URL] [--out DIR]

Scale 1 is 10 partnerships with 1,600 schools; 16 is 160 partnerships with 25,600 schools
and 3,200 agencies (a little over England's 150 / 24,000 / 3,000). Each phase runs in its
own process (bench/phases.py), so its peak memory is its own. Ten years of history: the
rules of the shipped templates begin in 2025, so the sweep is run as of 26 November 2035.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent
PHASES_AT_EVERY_SCALE = ("expand", "sync", "sweep")


def phase(name: str, data: Path, db: str) -> dict:
    command = [sys.executable, "-m", "bench.phases", name, "--data", str(data), "--db", db]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"phase {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def postgres_database(admin_url: str) -> str:
    """A new, empty PostgreSQL database for one sync; returns its SQLAlchemy URL."""
    import psycopg

    name = f"govcal_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--postgres", default=os.environ.get("GOVCAL_TEST_POSTGRES", ""))
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench")
    args = parser.parse_args()
    results: dict[int, dict[str, dict]] = {}
    for scale in [int(s) for s in args.scales.split(",")]:
        folder = args.out / f"x{scale}"
        db_file = folder / "govcal.db"
        db_file.unlink(missing_ok=True)
        generate(folder, partnerships=10 * scale, schools=1_600 * scale)
        sqlite = f"sqlite:///{db_file}"
        results[scale] = {name: phase(name, folder, sqlite) for name in PHASES_AT_EVERY_SCALE}
        if args.postgres:
            results[scale]["sync-pg"] = phase("sync", folder, postgres_database(args.postgres))
        print(f"x{scale}: " + json.dumps(results[scale]), flush=True)
    largest = max(results)
    folder = args.out / f"x{largest}"
    results[largest]["deliver"] = phase("deliver", folder, f"sqlite:///{folder / 'govcal.db'}")
    results[largest]["flow"] = phase("flow", folder, f"sqlite:///{folder / 'govcal.db'}")
    print(report(results))


def report(results: dict[int, dict[str, dict]]) -> str:
    rows = [
        "| scale | partnerships | occurrences | open | returns | expand 10 y | import | "
        "sync SQLite | sync PostgreSQL | sweep (evaluate + plan) | sweep peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scale, r in sorted(results.items()):
        pg = f"{r['sync-pg']['sync_s']:.1f} s" if "sync-pg" in r else "n/a"
        rows.append(
            f"| {scale}x | {r['expand']['partnerships']} | {r['sweep']['occurrences']:,} | "
            f"{r['sweep']['open']:,} | {r['sweep']['returns']:,} | "
            f"{r['expand']['expand_s']:.2f} s | {r['sync']['import_s']:.1f} s | "
            f"{r['sync']['sync_s']:.1f} s | {pg} | "
            f"{r['sweep']['sweep_s']:.2f} s | {r['sweep']['peak_rss_mb']:.0f} MB |"
        )
    largest = results[max(results)]
    d, f = largest["deliver"], largest["flow"]
    rows += [
        "",
        f"Delivery at {max(results)}x: {d['messages']} messages to aiosmtpd on 127.0.0.1 in "
        f"{d['deliver_s']:.2f} s over {d['connections']} connection(s) "
        f"({d['per_1000_s']:.2f} s per 1,000; peak RSS {d['peak_rss_mb']:.0f} MB).",
        f"daily-compliance at {max(results)}x: plain functions {f['plain_s']:.2f} s, the flow "
        f"{f['flow_s']:.2f} s (+{f['flow_overhead_pct']:.0f}%); naive one-task-per-item "
        f"{f['naive_sample_s']:.2f} s for {f['naive_sample']} items, about "
        f"{f['naive_all_items_s_estimate']:.0f} s for all {f['open_items']:,} "
        f"({f['naive_vs_batched_flow_ratio']:.1f}x the batched flow).",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
