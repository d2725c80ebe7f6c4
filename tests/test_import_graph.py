"""The layers import one way, SQL stays in models/, and no dependency's private parts
are used.

rules <- models <- notifications <- flows <- govcal (the command line): a module may
import its own layer or a lower one, never a higher one. Checked from the source (every
import, including those inside functions), so a lazy import cannot hide a wrong way.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"rules": 0, "models": 1, "notifications": 2, "flows": 3, "govcal": 4}
# Settings and the error base are read by every layer (models/settings.py imports only
# rules/errors.py, which imports nothing of govcal).
BOTTOM = {"models.settings", "rules.errors"}


def _layer(module: str) -> int | None:
    head, _, rest = module.partition(".")
    if head == "govcal" and rest.split(".", 1)[0] in LAYERS:
        module = rest  # govcal.rules.x is the rules layer
    if any(module == b or module.startswith(b + ".") for b in BOTTOM):
        return -1
    return LAYERS.get(module.split(".", 1)[0])


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "govcal" and node.level == 0:
            found += [(node.lineno, f"govcal.{alias.name}") for alias in node.names]
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


def bare_layer_imports() -> list[str]:
    """Imports of a layer by its folder's name (`from rules import x`): installed, the
    layers are govcal.rules and the rest, and `rules` is somebody else's package."""
    found = []
    for folder in [*LAYERS, "tests", "bench", "scripts"]:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, imported in _imports(path):
                head = imported.split(".", 1)[0]
                if head in LAYERS and head != "govcal":
                    found.append(f"{path.relative_to(ROOT)}:{line}: imports {imported}")
    return found


def test_layers_are_imported_under_the_govcal_name():
    assert bare_layer_imports() == []


def test_the_name_check_sees_a_bare_import(tmp_path, monkeypatch):
    for folder in [*LAYERS, "tests", "bench", "scripts"]:
        (tmp_path / folder).mkdir()
    (tmp_path / "tests" / "t.py").write_text("import models.db\nfrom govcal.rules import x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert bare_layer_imports() == ["tests/t.py:1: imports models.db"]


# Only models/ writes SQL and decides when a transaction ends (models/db.py says how).
DATABASE_CALLS = {"commit", "rollback", "exec", "execute", "select"}
DATABASE_ALLOWED = {
    # `govcal notify --dry-run` reads as a real run would, then must change nothing.
    ("flows/preview.py", "rollback"),
    # IMAP's SELECT opens a mailbox folder (imaplib.IMAP4.select): no SQL.
    ("notifications/imap.py", "select"),
}


def _calls(path: Path) -> list[tuple[int, str]]:
    """Every call in a file, by the name called: `f(...)` and `x.f(...)` both give `f`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            found.append((node.lineno, called))
    return found


def database_calls_outside_models() -> list[str]:
    """`x.commit()`, `x.rollback()`, `x.exec(...)`, `x.execute(...)` and `select(...)`
    in every layer but models/, minus the allow-list."""
    found: list[tuple[str, int, str]] = []
    for package in LAYERS:
        if package == "models":
            continue
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            for line, called in _calls(path):
                if called in DATABASE_CALLS and (name, called) not in DATABASE_ALLOWED:
                    found.append((name, line, called))
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


# Every folder of ours whose code runs: the product, its tests, the bench and scripts.
OURS = [*LAYERS, "tests", "bench", "scripts"]


def private_uses() -> list[str]:
    """Uses of another library's private parts: an import of a `_private` module, a
    `_private=` keyword, an assignment to some object's `_private` attribute, or a module
    swapped into sys.modules. A dependency may change any of them in a patch release."""
    found: list[tuple[str, int, str]] = []
    for folder in OURS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                what = _private_use(node)
                if what:
                    found.append((name, getattr(node, "lineno", 0), what))
    return [f"{name}:{line}: {what}" for name, line, what in sorted(found)]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_use(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.ImportFrom)
        and node.module
        and node.level == 0
        and any(_private(part) for part in node.module.split("."))
    ):
        return f"imports {node.module}"
    if isinstance(node, ast.Import):
        for alias in node.names:
            if any(_private(part) for part in alias.name.split(".")):
                return f"imports {alias.name}"
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg and _private(keyword.arg):
                return f"passes {keyword.arg}="
    targets = node.targets if isinstance(node, ast.Assign) else []
    for target in targets:
        if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "sys.modules":
            return "replaces a module in sys.modules"
        if (
            isinstance(target, ast.Attribute)
            and _private(target.attr)
            and not (isinstance(target.value, ast.Name) and target.value.id in ("self", "cls"))
        ):
            return f"sets {ast.unparse(target)}"
    return None


def test_no_private_part_of_a_dependency_is_used():
    assert private_uses() == []


def test_the_private_check_sees_each_kind(tmp_path, monkeypatch):
    """The check itself can fail: each kind of private use is reported with its line."""
    for folder in OURS:
        (tmp_path / folder).mkdir()
    (tmp_path / "govcal" / "bad.py").write_text(
        "from typer._coercion import x\n"
        "import _pytest.nodeid\n"
        "a.format(_sync=True)\n"
        "item._id = 1\n"
        "sys.modules['holidays.countries'] = m\n"
        "self._kept = []\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert private_uses() == [
        "govcal/bad.py:1: imports typer._coercion",
        "govcal/bad.py:2: imports _pytest.nodeid",
        "govcal/bad.py:3: passes _sync=",
        "govcal/bad.py:4: sets item._id",
        "govcal/bad.py:5: replaces a module in sys.modules",
    ]


def test_no_test_imports_from_conftest():
    """conftest.py holds fixtures; shared constants and helpers live in tests/support."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for line, imported in _imports(path)
        if imported in ("tests.conftest", "conftest")
    ]
    assert offenders == []


# Below flows/ nothing finds its own settings or rules: the runtime (flows/runtime.py, or
# the command line's and the web app's own) passes them down. Where loading is defined,
# from paths the caller names, it may call itself.
SETTINGS_READERS = {"get_settings", "load_settings"}
RULE_LOADERS = {"load_partnerships", "load_partnership", "load_each", "running"}
LOADING_DEFINED = {"models/settings.py", "rules/loader.py", "models/rule_cache.py"}
BELOW_FLOWS = ["rules", "models", "notifications"]


def settings_or_rules_read_below_flows() -> list[str]:
    """Calls, under rules/, models/ and notifications/, of the settings' readers or the
    rule files' loaders (by name, or as an attribute: `rule_cache.running(...)`)."""
    found: list[tuple[str, int, str]] = []
    for package in BELOW_FLOWS:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name in LOADING_DEFINED:
                continue
            for line, called in _calls(path):
                if called in SETTINGS_READERS | RULE_LOADERS:
                    found.append((name, line, called))
    return [f"{name}:{line}: {called}(" for name, line, called in sorted(found)]


def test_nothing_below_flows_reads_settings_or_loads_rules_itself():
    assert settings_or_rules_read_below_flows() == []


def test_the_runtime_check_sees_a_model_reading_settings(tmp_path, monkeypatch):
    """The check itself can fail: a use case that reads the settings or the rule files."""
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "models" / "bad.py").write_text(
        "def f():\n"
        "    lease = get_settings().claim_lease\n"
        "    return rule_cache.load_partnerships(None, None), lease\n"
    )
    (tmp_path / "notifications" / "worse.py").write_text("x = settings.load_settings()\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert settings_or_rules_read_below_flows() == [
        "models/bad.py:2: get_settings(",
        "models/bad.py:3: load_partnerships(",
        "notifications/worse.py:1: load_settings(",
    ]


# In flows/ the settings are read in one place: build_runtime (flows/runtime.py), which
# each flow and task calls once; every step and helper is handed the runtime's settings.
SETTINGS_READ_IN_FLOWS = {"flows/runtime.py"}


def settings_read_in_flows() -> list[str]:
    """Calls of the settings' readers in flows/ outside flows/runtime.py."""
    found: list[tuple[str, int, str]] = []
    for path in sorted((ROOT / "flows").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in SETTINGS_READ_IN_FLOWS:
            continue
        found += [
            (name, line, called) for line, called in _calls(path) if called in SETTINGS_READERS
        ]
    return [f"{name}:{line}: {called}(" for name, line, called in sorted(found)]


def test_flows_steps_are_handed_the_runs_settings():
    assert settings_read_in_flows() == []


def test_the_flows_settings_check_sees_a_helper_reading_them(tmp_path, monkeypatch):
    """The check itself can fail: a message helper that reads the settings on its own."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "runtime.py").write_text("s = get_settings()\n")
    (tmp_path / "flows" / "helper.py").write_text("def f():\n    return get_settings().ui_url\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert settings_read_in_flows() == ["flows/helper.py:2: get_settings("]


IMPORT_TIME_LOADERS = (
    SETTINGS_READERS
    | RULE_LOADERS
    | {
        "rules_or_empty",
        "load_rules",
        "running_rules",
        "build_runtime",
        "partnerships",
    }
)


def _import_time_calls(tree: ast.Module) -> list[tuple[int, str]]:
    """Calls that run when the module is imported: at module level or in a class body,
    not inside a function or a lambda."""
    found = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in IMPORT_TIME_LOADERS:
                found.append((node.lineno, name))
        pending.extend(ast.iter_child_nodes(node))
    return found


def rules_loaded_at_import() -> list[str]:
    """Every module, in every layer, that reads settings or rule files when imported."""
    found: list[str] = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, name in sorted(_import_time_calls(tree)):
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}(")
    return found


def test_no_module_loads_rules_or_settings_when_imported():
    assert rules_loaded_at_import() == []


def test_the_import_time_check_sees_a_module_level_load(tmp_path, monkeypatch):
    """The check itself can fail: a form module that loads the rules as it is imported
    (not inside a function, where it waits for a caller)."""
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "flows" / "bad.py").write_text(
        "PARTNERSHIPS = rules_or_empty()\n"
        "def later():\n    return rules_or_empty()\n"
        "class Form:\n    ids = [p.id for p in build_runtime().partnerships]\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert rules_loaded_at_import() == [
        "flows/bad.py:1: rules_or_empty(",
        "flows/bad.py:5: build_runtime(",
    ]
