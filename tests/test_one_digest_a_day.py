"""One digest per recipient per day (finding 5): an incident started after the day's
digest went out waits for the next day's, unless its statutory clock is due within two
working days. Through the CLI, as the duty service meets it."""

from __future__ import annotations

import email
import os
import subprocess
from email import policy
from pathlib import Path

import pytest

from tests.support.paths import GOVCAL

DUTY = "la-notifications@example.org"


def govcal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOVCAL, *args], capture_output=True, text=True, check=False, env=dict(os.environ)
    )


def cli(*args: str) -> str:
    """A command run in this process (typer's CliRunner), on the same data folder: the
    steps after the first run, whose exit codes and entry point are tested elsewhere
    (test_cli_records, test_incident_records). Its standard output."""
    from typer.testing import CliRunner

    from govcal.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def digests_to(outbox: Path, day: str, recipient: str) -> list[str]:
    found = []
    for path in sorted(outbox.glob(f"{day}-digest-*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"].addresses[0].addr_spec == recipient:
            found.append(" ".join(message.get_body(("plain",)).get_content().split()))
    return found


@pytest.mark.slow  # a real Prefect server
@pytest.mark.xdist_group("prefect-server")
def test_an_incident_started_after_the_digest_waits_for_the_next_days_digest(
    tmp_path, prefect_server_url, monkeypatch
):
    """The first `govcal run` against the real server the group shares (its own
    ephemeral start is tested in test_cli_records, test_privacy and test_local_api)."""
    monkeypatch.setenv("PREFECT_API_URL", f"{prefect_server_url}/api")
    assert govcal("run", "--as-of", "2026-11-24").returncode == 0
    outbox = tmp_path / "data" / "outbox"
    [first] = digests_to(outbox, "20261124", DUTY)
    # due Friday 27 November (3 working days): its reminder is planned today, after the digest
    cli("incident", "SI-2026-077", "--aware", "2026-11-20", "-p", "wfscp")
    dry = cli("notify", "--as-of", "2026-11-24", "--dry-run")  # lists what a run sends
    assert "the next run would send 0 message(s)" in dry, dry
    cli("notify", "--as-of", "2026-11-24")
    assert digests_to(outbox, "20261124", DUTY) == [first]  # no second digest today
    assert "SI-2026-077" not in first

    # the exception: a statutory clock due within 2 working days (Thursday 26th) goes today
    cli("incident", "SI-2026-078", "--aware", "2026-11-19", "-p", "wfscp")
    cli("notify", "--as-of", "2026-11-24")
    today = digests_to(outbox, "20261124", DUTY)
    [second] = [d for d in today if d != first]
    assert "SI-2026-078" in second and "SI-2026-077" not in second

    # the next day's one digest carries what waited
    cli("notify", "--as-of", "2026-11-25")
    [tomorrow] = digests_to(outbox, "20261125", DUTY)
    assert "Id: wfscp:serious-incident-notification:SI-2026-077" in tomorrow, tomorrow
