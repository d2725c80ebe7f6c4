"""The cockpit's summary on the sample year: what its complete sections cost.

    .venv/bin/python -m bench.summary [--runs 7] [--as-of 2026-11-24]

On a copy of the sample with its year of history (built once in a temporary folder),
times, in the same process and run, min / median of `--runs`:
  baseline   the rows `govcal status` reads and its closing count (status_rows +
             counts_line): what the summary's headline must agree with;
  board      the whole board as the flow builds it (dashboard.build_all) and its
             markdown: every section, the headline, rounds with their named leads,
             recently done, the audit trail's last two weeks, the CSV links' tables;
  new parts  the sections this summary added, alone: the trail's changes (one query),
             recently done, and the CSV tables built from the board.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path


def timed(runs: int, work) -> tuple[float, float]:
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        took.append(time.perf_counter() - t0)
    return round(min(took) * 1000, 1), round(statistics.median(took) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--as-of", default="2026-11-24")
    args = parser.parse_args()
    day = date.fromisoformat(args.as_of)
    with tempfile.TemporaryDirectory(prefix="govcal-bench-summary-") as folder:
        os.environ["GOVCAL_DATA_DIR"] = str(Path(folder) / "data")
        os.environ.setdefault("GOVCAL_ACTOR", "bench")
        os.environ.pop("GOVCAL_DATABASE_URL", None)
        from govcal.cli.run import load_samples_if_empty
        from govcal.flows import cockpit_csv, dashboard
        from govcal.models.db import session_scope
        from govcal.models.settings import get_settings
        from govcal.models.status import counts_line, status_rows
        from govcal.models.trail import changes_since
        from govcal.rules.loader import load_partnership

        load_samples_if_empty(history=True)
        wfscp = load_partnership("wfscp")

        def baseline() -> None:
            with session_scope(get_settings()) as s:
                counts_line(status_rows(s, day, partnership_id="wfscp"))

        def board() -> None:
            with session_scope(get_settings()) as s:
                dashboard.build_all(s, [wfscp], day)[0].markdown()

        with session_scope(get_settings()) as s:
            built = dashboard.build_all(s, [wfscp], day)[0]
            rows = status_rows(s, day, partnership_id="wfscp", ahead_days=60)
            names = {}

        def new_parts() -> None:
            with session_scope(get_settings()) as s:
                changes_since(s, ["wfscp"], day.replace(day=1), day)
            dashboard.recently_done(rows, day, names)
            for table in cockpit_csv.tables(built).values():
                cockpit_csv.to_csv(table)

        print(
            json.dumps(
                {
                    "as_of": day.isoformat(),
                    "runs": args.runs,
                    "load": os.getloadavg()[0],
                    "baseline_ms": timed(args.runs, baseline),
                    "board_ms": timed(args.runs, board),
                    "new_parts_ms": timed(args.runs, new_parts),
                    "open_items": len(built.items),
                    "done": len(built.done),
                }
            )
        )


if __name__ == "__main__":
    main()
