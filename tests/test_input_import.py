"""A directory CSV that cannot be read as one is refused in one line naming the file
(and line), with "Nothing was imported", and nothing changes (findings 2a and 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

runner = CliRunner()
GOOD = "Ann Lee,ann@example.org,business-team\n"


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def people() -> list[str]:
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.people import Person
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return sorted(p.email for p in session.exec(select(Person)))


def refused(path: Path, says: str) -> None:
    before = people()
    result = govcal("import", str(path), "-p", "wfscp")
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert errors[-1] == "Nothing was imported. Fix the file and import it again."
    assert says in errors[0] and len(errors) == 2, result.stderr
    assert "the other rows were imported" not in result.stderr
    assert people() == before


def test_a_missing_file(tmp_path):
    refused(tmp_path / "people.csv", f"{tmp_path / 'people.csv'}:0: no such file or folder")


def test_a_wrong_header(tmp_path):
    wrong = tmp_path / "list.csv"
    wrong.write_text("who,where\nAnn,Kendal\n", encoding="utf-8")
    refused(wrong, f"{wrong}:1: cannot tell what this file holds")


def test_a_link_to_a_system_file(tmp_path):
    link = tmp_path / "people.csv"
    link.symlink_to("/etc/passwd")
    refused(link, f"{link}:0: is a system file or a link to one")


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    pipe = tmp_path / "people.csv"
    os.mkfifo(pipe)
    refused(pipe, f"{pipe}:0: is a device or pipe")


def test_an_empty_folder(tmp_path):
    refused(tmp_path, "holds no .csv file")


@pytest.mark.parametrize("size", [131_073, 300_000])
def test_a_field_over_128_kb_names_its_line(tmp_path, size):
    big = tmp_path / "people.csv"
    big.write_text(f"name,email,role\n{GOOD}{'x' * size},b@example.org,business-team\n")
    refused(big, f"{big}:3: a value is longer than 131,072 characters")
