"""A wrong option is one line naming it (exit 2, README's table), without click's Usage
banner; a typed day that is not usable is bad input (exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from govcal import exit_codes

GOVCAL = [sys.executable, "-m", "govcal.cli"]


def govcal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOVCAL, *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["waive", "wfscp:lsp-meeting:2026-11-11"],
            "Error: Missing option '--reason'. (see govcal waive --help)",
        ),
        (
            ["plan", "--from", "2027-01-01", "--to", "2026-01-01"],
            "Error: Invalid value for --to: --to 2026-01-01 is before --from 2027-01-01",
        ),
        (
            ["pack", "--year", "1999"],
            "Error: Invalid value for '--year': Input should be "
            "greater than or equal to 2000 (see govcal pack --help)",
        ),
        (
            ["pack", "--year", "2025", "--start-month", "13"],
            "Error: Invalid value for '--start-month': Input should be less than or equal to 12",
        ),
        (["status", "--bogus"], "Error: No such option: --bogus (see govcal status --help)"),
        (["nope"], "Error: No such command 'nope'. (see govcal --help)"),
    ],
)
def test_a_wrong_option_is_one_line_without_the_usage_banner(args, says):
    result = govcal(*args)
    assert result.returncode == exit_codes.SETTINGS
    [line] = result.stderr.splitlines()
    assert line.startswith(says), line
    assert result.stdout == ""


def test_a_bad_date_is_bad_input_and_exits_1():
    result = govcal("plan", "--from", "2026-02-30")
    assert result.returncode == exit_codes.ERROR
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: --from ") and "is not a date" in line


def test_govcal_alone_still_lists_the_commands():
    result = govcal()
    assert result.returncode == exit_codes.SETTINGS
    assert "status" in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_run_exit_codes_put_a_refusal_first_then_the_cockpit_then_a_retry():
    code = exit_codes.delivery_exit_code
    assert code(0, 0) == exit_codes.OK
    assert code(2, 0) == exit_codes.LEFT_TO_RETRY
    assert code(2, 0, "the API is down") == exit_codes.COCKPIT
    assert code(2, 1, "the API is down") == exit_codes.FAILED


def test_the_list_of_commands_says_what_each_command_says_of_itself():
    """`govcal --help` lists each command with the summary kept beside it (so the list
    imports none of them); each summary is the start of the command's own help, so the
    list cannot drift from what `govcal NAME --help` says."""
    from govcal.cli import COMMANDS

    listing = govcal("--help")
    assert listing.returncode == 0, listing.stderr
    for name in COMMANDS:
        assert f"  {name} " in listing.stdout, name
        own = govcal(name, "--help")
        assert own.returncode == 0, own.stderr
        said = " ".join(own.stdout.split())
        first = " ".join(COMMANDS[name][2].split()[:3])
        assert first in said, (name, first)
