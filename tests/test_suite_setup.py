"""The suite's own machinery: what scripts/test relies on to run it on two workers."""

from __future__ import annotations

import subprocess
import sys


def test_an_xdist_group_runs_on_one_worker(tmp_path):
    """Tests marked with one xdist_group share a worker under `--dist loadgroup` (the
    Prefect tests then start one test API, not one per worker): pytest-xdist marks their
    ids with the group's name, which its scheduler reads."""
    for name in "abcd":
        (tmp_path / f"test_{name}.py").write_text(
            "import pytest\n"
            "pytestmark = pytest.mark.xdist_group('together')\n"
            f"def test_{name}(): pass\n"
        )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line for line in done.stdout.splitlines() if "PASSED" in line]
    assert len(ran) == 4, done.stdout
    workers = {line.split("]")[0].split("[")[-1] for line in ran}
    assert all("@together" in line for line in ran), done.stdout
    assert len(workers) == 1, ran
