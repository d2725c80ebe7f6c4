"""The garbage collector govcal pauses while a command starts is back on while the
command works, so a long `govcal run` or `govcal serve` frees its garbage as before; a
program that calls the typer app itself (as these tests do) keeps its collector as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import gc, sys
from govcal import cli
{run}
print("COLLECTING", gc.isenabled(), gc.get_freeze_count() > 0)
"""
MAIN = """
sys.argv = ["govcal", "plan", "--as-of", "2026-11-24"]
try:
    cli.main()
except SystemExit:
    pass
"""
APP = 'cli.app(["plan", "--as-of", "2026-11-24"], standalone_mode=False)'


def _after(run: str, tmp_path) -> str:
    env = {**os.environ, "GOVCAL_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", PROBE.format(run=run)], env=env,
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    assert "occurrences" in done.stdout  # the command did its work
    return done.stdout.splitlines()[-1]


def test_a_command_started_by_govcal_collects_garbage_once_it_runs(tmp_path):
    assert _after(MAIN, tmp_path) == "COLLECTING True True"


def test_calling_the_app_directly_leaves_the_collector_alone(tmp_path):
    assert _after(APP, tmp_path) == "COLLECTING True False"
