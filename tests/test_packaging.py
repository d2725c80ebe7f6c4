"""Installing govcal installs one name: its layers live under `govcal.`, so the PyPI
packages called `rules`, `models`, `flows` and `notifications` keep theirs."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"
TAKEN = {"rules", "models", "flows", "notifications"}

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment from PyPI


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(UV), "build", "--quiet", "--out-dir", str(out), str(ROOT)],  # by way of the sdist
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("govcal-*.whl")
    return built


def test_the_wheel_holds_no_top_level_package_but_govcal(wheel):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"govcal"}
    # the layers' data travels with them
    assert any(n.startswith("govcal/rules/partnerships/") and n.endswith(".yaml") for n in names)
    assert "govcal/notifications/templates/digest.html.j2" in names
    assert "govcal/web/templates" in {n.rsplit("/", 1)[0] for n in names}
    assert any(n.startswith("govcal/models/migrations/versions/0001") for n in names)


def test_installed_beside_the_pypi_rules_package_both_import(wheel, tmp_path):
    """`pip install .` next to django-rules' `rules`: each import finds its own package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "--no-deps",
            str(wheel),
            "rules==3.5",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # govcal's own dependencies come from the test environment's site-packages, put after
    # the new environment's (a PYTHONPATH entry runs no .pth file, so this checkout's
    # editable govcal stays out of sight)
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    probe = (
        "import rules, rules.predicates, govcal.rules.loader, govcal.flows.jobs\n"
        "from govcal.rules.loader import load_partnerships\n"
        "print(rules.__file__)\n"
        "print(govcal.rules.loader.__file__)\n"
        "print(len(load_partnerships()))\n"
    )
    shown = subprocess.run(
        [str(python), "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    pypi_rules, our_loader, count = shown.stdout.split()
    assert pypi_rules.startswith(str(venv)) and "govcal" not in pypi_rules
    assert our_loader.startswith(str(venv)) and "/govcal/rules/" in our_loader
    assert int(count) >= 1  # the shipped partnerships load from the installed package


def test_installed_it_keeps_its_data_in_the_working_directory(wheel, tmp_path):
    """The data folder is ./data where govcal runs, not inside site-packages; the sample
    directory and the migrations travel in the wheel."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work = tmp_path / "office"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCAL_")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    for command in ("sync", "status"):
        shown = subprocess.run(
            [str(python), "-m", "govcal.cli", command, "--as-of", "2026-11-24"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert shown.returncode == 0, shown.stderr[-2000:]
    assert (work / "data" / "govcal.db").is_file()
    assert "Safeguarding Accountability Meeting" in shown.stdout  # the shipped rules' items
    assert not list(venv.rglob("govcal.db"))
