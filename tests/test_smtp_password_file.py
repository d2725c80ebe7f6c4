"""The relay password from a file only govcal's user reads (GOVCAL_SMTP_PASSWORD_FILE),
rather than a Prefect Secret block that anyone logged in to the Prefect UI can read."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fault_relay import PASSWORD, USER
from tests.test_delivery_faults import DAY, certificate, database, relay, template  # noqa: F401


def notify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govcal.cli", "notify", "--as-of", str(DAY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_relay_password_is_read_from_a_file_and_never_shown(database, relay, tmp_path):  # noqa: F811
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    env = {
        **os.environ,
        "GOVCAL_DATABASE_URL": database,
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_PORT": str(relay.port),
        "GOVCAL_SMTP_USERNAME": USER,
        "GOVCAL_SMTP_PASSWORD_FILE": str(secret),
        "GOVCAL_SMTP_CA_FILE": str(relay.cert),
        "GOVCAL_SMTP_TIMEOUT": "5",
    }
    env.pop("GOVCAL_SMTP_PASSWORD", None)
    env.pop("GOVCAL_SMTP_PASSWORD_BLOCK", None)
    sent = notify(env)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert relay.relay.messages_seen > 0 and "0 to retry, 0 refused." in sent.stdout
    assert PASSWORD not in sent.stdout + sent.stderr

    secret.write_text("")
    empty = notify(env)
    assert empty.returncode == 2, empty.stdout + empty.stderr
    assert empty.stderr.strip() == f"Error: GOVCAL_SMTP_PASSWORD_FILE='{secret}' is empty"
