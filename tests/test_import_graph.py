"""The layers import one way, and the read-only commands stay light.

rules <- models <- notifications <- flows <- govcal (the command line): a module may
import its own layer or a lower one, never a higher one. Checked from the source (every
import, including those inside functions), so a lazy import cannot hide a wrong way.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"rules": 0, "models": 1, "notifications": 2, "flows": 3, "govcal": 4}
# Settings are read by every layer (models/settings.py imports nothing of govcal).
BOTTOM = {"models.settings"}


def _layer(module: str) -> int | None:
    if any(module == b or module.startswith(b + ".") for b in BOTTOM):
        return -1
    return LAYERS.get(module.split(".", 1)[0])


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def wrong_way_imports() -> list[str]:
    problems = []
    for package, level in LAYERS.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            own = _layer(module)
            own = level if own is None else own
            for line, imported in _imports(path):
                target = _layer(imported)
                if target is not None and target > own:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {imported}")
    return problems


def test_layers_import_one_way():
    assert wrong_way_imports() == []


def test_the_check_sees_a_wrong_way_import(tmp_path, monkeypatch):
    """The check itself can fail: a rules module importing models is reported."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.py").write_text("def f():\n    from models import ledger\n")
    for package in LAYERS:
        (tmp_path / package).mkdir(exist_ok=True)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert wrong_way_imports() == ["rules/bad.py:2: rules.bad imports models"]


# Only models/ writes SQL and decides when a transaction ends (models/db.py says how).
DATABASE_CALLS = {"commit", "rollback", "exec", "execute", "select"}
DATABASE_ALLOWED = {
    # `govcal notify --dry-run` reads as a real run would, then must change nothing.
    ("flows/preview.py", "rollback"),
    # IMAP's SELECT opens a mailbox folder (imaplib.IMAP4.select): no SQL.
    ("notifications/imap.py", "select"),
}


def database_calls_outside_models() -> list[str]:
    """`x.commit()`, `x.rollback()`, `x.exec(...)`, `x.execute(...)` and `select(...)`
    in every layer but models/, minus the allow-list."""
    found: list[tuple[str, int, str]] = []
    for package in LAYERS:
        if package == "models":
            continue
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = (
                    func.attr if isinstance(func, ast.Attribute)
                    else func.id if isinstance(func, ast.Name) else ""
                )  # fmt: skip
                if called in DATABASE_CALLS and (name, called) not in DATABASE_ALLOWED:
                    found.append((name, node.lineno, called))
    return [f"{name}:{line}: {called}(" for name, line, called in sorted(found)]


def test_only_models_writes_sql_or_commits():
    assert database_calls_outside_models() == []


def test_the_sql_check_sees_a_commit_in_a_flow(tmp_path, monkeypatch):
    """The check itself can fail: a flow that selects and commits is reported."""
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "flows" / "bad.py").write_text(
        "def f(session):\n    session.exec(select(1))\n    session.commit()\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert database_calls_outside_models() == [
        "flows/bad.py:2: exec(",
        "flows/bad.py:2: select(",
        "flows/bad.py:3: commit(",
    ]


PROBE = """
import json, sys
from govcal.cli import app
try:
    app(sys.argv[1:], prog_name="govcal")
except SystemExit:
    pass
print("MODULES " + json.dumps(sorted(sys.modules)))
"""
DATABASE = {"sqlalchemy", "sqlmodel"}
MIGRATIONS = {"alembic", "mako"}
MAIL = {"notifications", "emails", "jinja2", "icalendar", "dkim", "dns"}
ORCHESTRATION = {"prefect", "flows", "apscheduler"}


def _modules_after(*args: str) -> set[str]:
    """The top-level packages imported by one command, run as a user runs it."""
    return {name.split(".")[0] for name in _every_module_after(*args)}


def _every_module_after(*args: str) -> set[str]:
    """Every module imported by one command, run as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True, text=True, check=False, cwd=ROOT, env=os.environ.copy(),
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("MODULES ")]
    assert lines, done.stderr
    return set(json.loads(lines[-1].removeprefix("MODULES ")))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["plan", "--as-of", "2026-11-24"], ["rules", "check"], ["plan", "--help"]],
)
def test_commands_without_a_database_import_no_database_mail_or_prefect(args):
    loaded = _modules_after(*args)
    assert loaded & (DATABASE | MIGRATIONS | MAIL | ORCHESTRATION) == set()
    assert "typer" in loaded  # the probe really ran the command line


def in_process(*args: str) -> str:
    """A command run in this process, for the state around a probe (the probe itself is
    a fresh interpreter: only there are the imports the command's own)."""
    from typer.testing import CliRunner

    from govcal.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("args", [["plan", "--as-of", "2026-11-24"], ["rules", "check"]])
def test_commands_on_cached_rules_import_no_pydantic_or_holidays(args):
    """Once the rules are cached (the first command parses them with pydantic), an
    everyday command needs no pydantic: typer's option checks would use it
    (govcal/cli/coercion.py). Nor the holidays package: the bank holidays are cached
    with the rules (models/rule_cache.py)."""
    _modules_after(*args)  # the rule cache is written
    assert _modules_after(*args) & {"pydantic", "holidays"} == set()


def test_status_reads_the_database_without_alembic_mail_or_prefect(migrated_data):
    every = _every_module_after("status", "--as-of", "2026-11-24")
    loaded = {name.split(".")[0] for name in every}
    assert "sqlalchemy" in loaded
    assert loaded & (MIGRATIONS | MAIL | ORCHESTRATION) == set()
    # tables built only by the commands that use them
    assert every & {"models.audits", "models.people"} == set()


def test_plan_and_the_write_commands_on_a_database_import_no_alembic_mail_or_prefect(
    migrated_data,
):
    """Recording what was done is a short transaction: the schema is checked with one
    query, not by alembic, and nothing is sent (the next notify run sends)."""
    in_process("sync", "--as-of", "2026-11-24")
    item = "wfscp:lsp-meeting:2026-11-11"

    def state() -> str:
        rows = json.loads(in_process("status", "--json", "--as-of", "2026-11-24"))
        return next(r["state"] for r in rows if r["id"] == item)

    for args, after in (
        (["plan", "--as-of", "2026-11-24"], "overdue"),
        (["complete", item, "--evidence", "https://example.org/m", "--on", "2026-11-11"],
         "completed_on_time"),
        (["reopen", item], "overdue"),
    ):  # fmt: skip
        every = _every_module_after(*args)
        loaded = {name.split(".")[0] for name in every}
        assert state() == after, args  # the command did its work
        assert "sqlalchemy" in loaded, args
        assert loaded & (MIGRATIONS | MAIL | ORCHESTRATION) == set(), args
        assert "models.people" not in every, args  # the directory's people: not needed here


def test_no_test_imports_from_conftest():
    """conftest.py holds fixtures; shared constants and helpers live in tests/support."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for line, imported in _imports(path)
        if imported in ("tests.conftest", "conftest")
    ]
    assert offenders == []
