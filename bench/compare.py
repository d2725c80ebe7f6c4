"""Before and after: the same phases at one scale, on an older commit and on this tree.

    nice .venv/bin/python -m bench.compare BEFORE_COMMIT [--scale 4] [--runs 3]

The older commit is checked out in a temporary git worktree and runs its own generator
and its own bench/phases.py (import + sync, sweep, delivery of 1,000 mails), so each side
measures its own code on data it wrote itself from the same seed. Each side's sweep and
delivery start from a copy of the database its sync built. Prints min / median.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("sync", "sweep", "deliver")
FIGURES = {"sync": ("import_s", "sync_s"), "sweep": ("sweep_s",), "deliver": ("deliver_s",)}


def run_side(tree: Path, scale: int, runs: int, work: Path) -> dict[str, list[float]]:
    data = work / "data"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            str(data),
            "--partnerships",
            str(10 * scale),
            "--schools",
            str(1_600 * scale),
        ],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    out: dict[str, list[float]] = {}
    for n in range(runs):
        base = work / f"base-{n}.db"
        for name in PHASES:
            db = base if name == "sync" else work / f"{name}-{n}.db"
            if name != "sync":
                shutil.copy(base, db)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.phases",
                    name,
                    "--data",
                    str(data),
                    "--db",
                    f"sqlite:///{db}",
                ],
                cwd=tree,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
            if done.returncode or not lines:
                raise SystemExit(f"{tree}: phase {name} failed:\n{done.stderr[-2000:]}")
            figures = json.loads(lines[-1])
            for key in FIGURES[name]:
                out.setdefault(key, []).append(figures[key])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="govcal-compare-"))
    old = work / "before-tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(old), args.before],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        before = run_side(old, args.scale, args.runs, work / "before")
        after = run_side(ROOT, args.scale, args.runs, work / "after")
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(old)],
            cwd=ROOT,
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"| at {args.scale}x, seconds, min / median of {args.runs} | before "
        f"({args.before[:9]}) | after |"
    )
    print("|---|---|---|")
    for key in before:
        b, a = before[key], after[key]
        print(
            f"| {key} | {min(b):.2f} / {statistics.median(b):.2f} | "
            f"{min(a):.2f} / {statistics.median(a):.2f} |"
        )


if __name__ == "__main__":
    main()
