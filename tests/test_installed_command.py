"""govcal as an operator runs it: the installed console script, from a folder of their
own. The test process itself runs from the project root, where `models`, `flows` and
`rules` are importable as top-level packages; the installed command has only `govcal.*`,
so code that names a module by its top-level path works here and fails in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.snapshots import copy_data

GOVCAL = Path(sys.executable).with_name("govcal")


def test_the_installed_command_sends_a_days_invites_with_their_answer_links(sample_data, tmp_path):
    data = copy_data(sample_data, tmp_path / "data")
    env = {
        **os.environ,
        "GOVCAL_DATA_DIR": str(data),
        "GOVCAL_PUBLIC_URL": "http://127.0.0.1:9",
        "GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK": "true",
    }
    env.pop("PYTHONPATH", None)

    def govcal(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GOVCAL), *args, "--as-of", "2026-10-06"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    synced = govcal("sync")
    assert synced.returncode == 0, synced.stderr[-2000:]
    sent = govcal("notify")
    assert sent.returncode == 0, sent.stderr[-2000:]
    invites = sorted((data / "outbox").glob("*-invite-*.eml"))
    assert invites, sent.stdout[-3000:]
    for invite in invites:
        text = invite.read_text()
        assert "http://127.0.0.1:9/a/" in text, f"{invite.name} carries its answer link"
