"""A national rule set from a CSV of partnerships: every one carries the statutory duties
from the baseline, in a file of a few lines, and local overrides still apply."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from govcal.rules.baseline import Origin
from govcal.rules.expand import expand_rule
from govcal.rules.generate import COLUMNS, partnership_files
from govcal.rules.loader import load_partnerships
from tests.test_baseline import STATUTORY_IDS

D = date.fromisoformat
ROOT = Path(__file__).resolve().parents[1]


def national_csv(count: int = 150) -> str:
    rows = [",".join(COLUMNS)]
    for n in range(1, count + 1):
        icbs = f"ICB {n} North;ICB {n} South" if n % 3 == 0 else f"ICB {n}"
        rows.append(f'scp-{n:03d},"Partnership {n:03d}, England",Council {n},Police {n},{icbs}')
    return "\n".join(rows) + "\n"


def test_150_generated_partnerships_each_carry_the_statutory_duties(tmp_path):
    files, problems = partnership_files(national_csv(), "partnerships.csv")
    assert not problems and len(files) == 150
    assert max(len(text.splitlines()) for text in files.values()) <= 25  # a few lines each
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    override = tmp_path / "scp-042.yaml"
    override.write_text(
        override.read_text(encoding="utf-8") + "overrides:\n  - id: section-11-audit\n"
        "    schedule: {every: every 2 years, start: 2026-05-31}\n"
        "    notes: Two-year cycle agreed by the partners\n",
        encoding="utf-8",
    )
    partnerships = load_partnerships([tmp_path])
    assert len(partnerships) == 150
    for p in partnerships:
        origins = {r.id: r.origin for r in p.rules}
        assert set(origins) >= STATUTORY_IDS, p.id
        changed = {i for i in STATUTORY_IDS if origins[i] != Origin.INHERITED}
        assert changed == ({"section-11-audit"} if p.id == "scp-042" else set()), p.id
        s11 = p.rule("section-11-audit")
        dues = [o.due for o in expand_rule(p, s11, D("2026-01-01"), D("2028-12-31"))]
        expected = (
            [D("2026-05-31"), D("2028-05-31")]
            if p.id == "scp-042"
            else [D("2026-10-31"), D("2027-10-31"), D("2028-10-31")]
        )
        assert dues == expected, p.id
    by_id = {p.id: p for p in partnerships}
    assert "ICB 3 South" in by_id["scp-003"].roles["lsp"].title
    assert by_id["scp-007"].name == "Partnership 007, England"


def test_bad_rows_are_named_by_line_and_nothing_is_generated():
    text = national_csv(3) + "scp-002,Again,C,P,I\nBad Id,x,y,z,w\nscp-009,,C,P,I\n"
    files, problems = partnership_files(text, "p.csv")
    assert files == {}
    assert [(p.line, p.message.split(";")[0]) for p in problems] == [
        (5, "id 'scp-002' is already used on line 3"),
        (6, "id 'Bad Id' must be lowercase letters, digits and dashes"),
        (7, "name empty or longer than 200 characters"),
    ]
    files, problems = partnership_files("id,name\nx,y\n", "p.csv")
    assert [str(p) for p in problems] == [
        "p.csv:1: missing column(s) local_authority, police_force, icbs; the header must be: "
        "id,name,local_authority,police_force,icbs"
    ]


def test_the_generate_command_writes_files_that_rules_check_accepts(tmp_path):
    source = tmp_path / "partnerships.csv"
    source.write_text(national_csv(4), encoding="utf-8")

    def govcal(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "govcal.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )

    made = govcal("rules", "generate", str(source), str(tmp_path / "rules"))
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in (tmp_path / "rules").iterdir()) == [
        "scp-001.yaml",
        "scp-002.yaml",
        "scp-003.yaml",
        "scp-004.yaml",
    ]
    again = govcal("rules", "generate", str(source), str(tmp_path / "rules"))
    assert again.returncode == 1 and "nothing was overwritten" in again.stderr
    checked = govcal("rules", "check", str(tmp_path / "rules"), "--as-of", "2026-11-24")
    assert checked.returncode == 0, checked.stderr
    assert "scp-004" in checked.stdout and "wt2023" in checked.stdout


def test_generate_given_a_folder_says_folder_and_csv_not_rule_file(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "govcal.cli",
            "rules",
            "generate",
            str(tmp_path),
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.endswith("is a folder, not a CSV file; give the CSV of partnerships (id,name,...)")
    assert "rule file" not in result.stderr and not (tmp_path / "out").exists()
