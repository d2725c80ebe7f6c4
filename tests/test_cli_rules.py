"""The `govcal rules check` and `govcal plan` commands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.paths import GOVCAL
from tests.support.rules import VALID_HEADER, VALID_RULE


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GOVCAL, *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_rules_check_passes_on_every_shipped_file():
    result = run("rules", "check", "--as-of", "2026-11-24")
    assert result.returncode == 0, result.stderr
    for partnership in ("wfscp", "cscp-2019", "cscp-2023", "cumbria-lscb-2014"):
        assert partnership in result.stdout
    assert "Rule files OK" in result.stdout


def test_rules_check_fails_with_every_problem_listed(rule_file):
    path = rule_file(
        VALID_HEADER
        + VALID_RULE.replace("every: quarterly", "every: evry 2 months").replace(
            "kind: meeting", "kind: meting"
        )
    )
    result = run("rules", "check", str(path))
    assert result.returncode == 1
    assert "kind 'meting' is not one of" in result.stderr
    assert "schedule 'evry 2 months' is not understood" in result.stderr
    assert "2 problems found; nothing was loaded." in result.stderr
    assert f"{path.name}:" in result.stderr


def test_plan_json_has_the_documented_fields():
    result = run(
        "plan",
        "--partnership",
        "wfscp",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--as-of",
        "2026-11-24",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    for row in rows:
        assert {"partnership", "rule", "title", "kind", "due", "owner", "state", "source"} <= set(
            row
        )
    meetings = [r for r in rows if r["rule"] == "lsp-meeting"]
    assert [r["due"] for r in meetings] == [
        "2026-02-11T10:00:00+00:00",
        "2026-05-13T10:00:00+01:00",
        "2026-08-12T10:00:00+01:00",
        "2026-11-11T10:00:00+00:00",
    ]
    assert {r["state"] for r in meetings} == {"overdue"}  # no completion recorded yet
    review = [r for r in rows if r["rule"] == "safeguarding-accountability-meeting"][-1]
    assert review["due"].startswith("2026-12-08") and review["state"] == "due_soon"


def test_plan_without_arguments_shows_the_default_partnership_next_twelve_months():
    result = run("plan", "--as-of", "2026-11-24")
    assert result.returncode == 0, result.stderr
    assert "Westmorland and Furness" in result.stdout
    assert "2026-11-24 to 2027-11-24" in result.stdout
    assert "wfscp:arrangements-review:2027-12-31" not in result.stdout  # outside the window
    assert "wfscp:lsp-meeting:2027-02-10" in result.stdout


def test_plan_rejects_an_unknown_partnership_and_a_bad_date():
    unknown = run("plan", "--partnership", "nowhere")
    assert unknown.returncode == 2 and "No partnership 'nowhere'" in unknown.stderr
    bad = run("plan", "--from", "2026-02-30")
    assert bad.returncode == 1 and "is not a date" in bad.stderr  # bad input, README


def test_control_characters_and_encoded_words_in_rule_text_are_refused_by_line(rule_file):
    """A NUL in a title passed `rules check` and then killed `sync` on PostgreSQL; an ESC
    was printed raw to the terminal; an encoded word in the partnership's name would
    reach every From and Reply-To."""
    path = rule_file(
        VALID_HEADER.replace(
            "name: Test Safeguarding Children Partnership",
            "name: Test =?utf-8?b?DQpCY2M6IHhAZXZpbC5vcmc=?= Partnership",
        )
        + VALID_RULE.replace("title: LSP meeting", 'title: "LSP\\0 meeting"')
        + VALID_RULE.replace("id: lsp-meeting", "id: other").replace(
            "title: LSP meeting", 'title: "Other \\e]0;pwned\\a meeting"'
        )
    )
    result = run("rules", "check", str(path))
    assert result.returncode == 1
    assert "\x1b" not in result.stderr + result.stdout and "\x00" not in result.stderr
    assert f"{path.name}:3: this value contains an encoded word" in result.stderr
    assert f"{path.name}:14: this value contains a control character" in result.stderr
    assert f"{path.name}:24: this value contains a control character" in result.stderr
    assert "3 problems found; nothing was loaded." in result.stderr
