"""Where the test suite's time goes, read from a pytest JUnit report.

    nice bash scripts/test -q --junitxml=/tmp/suite.xml
    .venv/bin/python -m bench.suite /tmp/suite.xml [--top 15] [--files 25]

Prints the slowest tests (setup, call and teardown together: junit_duration_report is
"total" by default), the per-file totals and the sum over all tests (two workers: the wall
time is at least half that sum).
Two reports side by side (`before.xml after.xml`) show each file's change. Figures only:
the suite itself asserts nothing about time.
"""

from __future__ import annotations

import argparse
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def read(report: Path) -> dict[str, float]:
    """Seconds per test id (file::name[params]) from a JUnit XML report."""
    times: dict[str, float] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        path = re.sub(r"^(tests/[^/]+)/.*$", r"\1", path)  # drop a class name
        name = re.sub(r"@[\w-]+\]?$", "", case.get("name", ""))  # drop an xdist group
        times[f"{path}.py::{name}"] = float(case.get("time") or 0)
    return times


def per_file(times: dict[str, float]) -> dict[str, tuple[int, float]]:
    files: dict[str, list[float]] = defaultdict(list)
    for test, seconds in times.items():
        files[test.split("::")[0]].append(seconds)
    return {name: (len(v), sum(v)) for name, v in files.items()}


def show(reports: list[Path], top: int, nfiles: int) -> None:
    runs = [read(path) for path in reports]
    last = runs[-1]
    for path, times in zip(reports, runs, strict=True):
        print(f"{path}: {len(times)} tests, {sum(times.values()):.0f} s summed over tests")
    print(f"\nslowest {top} tests ({reports[-1].name}):")
    for test, seconds in sorted(last.items(), key=lambda kv: -kv[1])[:top]:
        before = "".join(f"{r.get(test, 0):8.1f}" for r in runs[:-1])
        print(f"{before}{seconds:8.1f}  {test}")
    print(f"\nper file, by total ({'  '.join(p.name for p in reports)}):")
    files = [per_file(times) for times in runs]
    names = sorted(files[-1], key=lambda name: -files[-1][name][1])
    for name in names[:nfiles]:
        cols = "".join(f"{f.get(name, (0, 0))[1]:8.1f}" for f in files)
        print(f"{cols}  {files[-1][name][0]:4d} tests  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JUnit XML reports, oldest first")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--files", type=int, default=25)
    args = parser.parse_args()
    show(args.reports, args.top, args.files)


if __name__ == "__main__":
    main()
