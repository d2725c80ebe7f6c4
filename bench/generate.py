"""Write a synthetic national data set: rule files and directories for N partnerships.

Deterministic from a seed. Rule files come from `rules.generate` (what `govcal rules
generate` writes from a CSV of partnerships): a few lines each over the WT2023 statutory
baseline, plus a quarterly LSP meeting; each has the 20 sample agencies and a seeded share
of the schools (75% to 125% of the mean) with their people, so 150 partnerships give the
national 3,000 agencies and 24,000 schools.

    .venv/bin/python -m bench.generate OUT [--partnerships 150] [--seed 2026]
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from govcal.rules.generate import rule_file_text

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "models" / "sample_directory" / "wfscp"
PHASES = ["nursery"] * 2 + ["primary"] * 122 + ["secondary"] * 20 + ["special"] * 3 + ["pru"]


def _rules(pid: str, number: int) -> str:
    row = {
        "id": pid,
        "name": f"Synthetic Partnership {number:03d}",
        "local_authority": f"Synthetic Council {number:03d}",
        "police_force": f"Synthetic Constabulary {number:03d}",
        "icbs": f"Synthetic ICB {number:03d}",
    }
    return rule_file_text(row, "bench/generate.py")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _directory(folder: Path, pid: str, schools: int) -> None:
    """The sample directory under new codes and addresses, with `schools` schools."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "agencies.csv", _rows(SAMPLE / "agencies.csv"))
    school_rows = [
        {
            "code": f"{pid}-s{i:04d}",
            "name": f"{pid.upper()} Sample School {i}",
            "phase": PHASES[i % len(PHASES)],
            "sample": "yes",
        }
        for i in range(schools)
    ]
    _write(folder / "schools.csv", school_rows)
    people = []
    for row in _rows(SAMPLE / "people.csv"):
        if row["school"]:
            continue  # school DSLs are made below, one per school
        people.append({**row, "email": f"{pid}-{row['email']}"})
    for school in school_rows:
        people.append(
            {
                "name": f"DSL {school['code']} (sample)",
                "email": f"dsl-{school['code']}@example.org",
                "role": "dsl",
                "agency": "",
                "school": school["code"],
                "acts_for": "",
                "sample": "yes",
            }
        )
    _write(folder / "people.csv", people)


def generate(
    out: Path, partnerships: int = 150, schools: int = 24_000, seed: int = 2026
) -> list[str]:
    """Write OUT/rules/*.yaml and OUT/directory/<id>/*.csv; returns the partnership ids."""
    rng = random.Random(seed)
    (out / "rules").mkdir(parents=True, exist_ok=True)
    weights = [rng.uniform(0.75, 1.25) for _ in range(partnerships)]
    shares = [int(schools * w / sum(weights)) for w in weights]
    shares[-1] += schools - sum(shares)  # the total is exact
    ids = []
    for n, share in enumerate(shares, start=1):
        pid = f"syn-{n:03d}"
        (out / "rules" / f"{pid}.yaml").write_text(_rules(pid, n), encoding="utf-8")
        _directory(out / "directory" / pid, pid, share)
        ids.append(pid)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--partnerships", type=int, default=150)
    parser.add_argument("--schools", type=int, default=24_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    ids = generate(args.out, args.partnerships, args.schools, args.seed)
    print(f"wrote {len(ids)} partnerships to {args.out}")


if __name__ == "__main__":
    main()
