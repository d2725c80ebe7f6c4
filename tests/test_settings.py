"""Settings are validated when they load: case-insensitive words, one line per unusable
value naming the variable and what it may be, and no SMTP login in clear text unless a
setting whose name says "plaintext" allows it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from models.settings import SettingsError, load_settings
from notifications.transport import SmtpTransport, from_settings

GOVCAL = [sys.executable, "-m", "govcal.cli"]


@pytest.mark.parametrize("written", ["STARTTLS", "starttls", "Starttls", " StartTLS "])
def test_tls_modes_are_read_whatever_their_case(monkeypatch, written):
    monkeypatch.setenv("GOVCAL_SMTP_SECURITY", written)
    monkeypatch.setenv("GOVCAL_TRANSPORT", "SMTP")
    settings = load_settings()
    assert (settings.smtp_security, settings.transport) == ("starttls", "smtp")
    transport = from_settings(settings, password=None)
    assert isinstance(transport, SmtpTransport) and transport.settings.security == "starttls"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("GOVCAL_SMTP_SECURITY", "tls", "GOVCAL_SMTP_SECURITY='tls' is not one of: starttls"),
        ("GOVCAL_SMTP_SECURITY", "yes", "GOVCAL_SMTP_SECURITY='yes' is not one of: starttls"),
        ("GOVCAL_TRANSPORT", "sendmail", "GOVCAL_TRANSPORT='sendmail' is not one of: outbox, smtp"),
        ("GOVCAL_SMTP_PORT", "0", "GOVCAL_SMTP_PORT='0' is not a port number (1 to 65535)"),
        ("GOVCAL_SMTP_PORT", "smtp", "GOVCAL_SMTP_PORT='smtp' is not a port number"),
        ("GOVCAL_DATABASE_URL", "mysql://u:secret@h/db", "GOVCAL_DATABASE_URL has an unknown"),
        ("GOVCAL_DATABASE_URL", "govcal.db", "GOVCAL_DATABASE_URL has an unknown scheme; use"),
    ],
)
def test_an_unusable_value_is_one_line_naming_the_variable(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    [line] = refused.value.lines
    assert line.startswith(says)
    assert "secret" not in line  # a database password is never repeated


def test_database_schemes_are_read_case_insensitively(monkeypatch):
    monkeypatch.setenv("GOVCAL_DATABASE_URL", "PostgreSQL://govcal@db.internal/govcal")
    assert load_settings().database_url == "postgresql+psycopg://govcal@db.internal/govcal"
    monkeypatch.setenv("GOVCAL_DATABASE_URL", "SQLITE:////tmp/x.db")
    assert load_settings().database_url == "sqlite:////tmp/x.db"


def test_no_login_without_tls_unless_the_insecure_setting_says_so(monkeypatch):
    monkeypatch.setenv("GOVCAL_TRANSPORT", "smtp")
    monkeypatch.setenv("GOVCAL_SMTP_SECURITY", "none")
    monkeypatch.setenv("GOVCAL_SMTP_USERNAME", "govcal")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH=true" in refused.value.lines[0]
    monkeypatch.setenv("GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH", "true")
    assert load_settings().smtp_allow_plaintext_auth is True
    monkeypatch.delenv("GOVCAL_SMTP_USERNAME")
    monkeypatch.delenv("GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH")
    assert load_settings().smtp_security == "none"  # no login: nothing to protect


def test_every_command_refuses_bad_settings_before_doing_anything(tmp_path):
    env = {
        **os.environ,
        "GOVCAL_DATA_DIR": str(tmp_path / "data"),
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_SECURITY": "Tls",
        "GOVCAL_SMTP_PORT": "99999",
    }
    for command in (["notify"], ["sync"], ["status"]):
        result = subprocess.run([*GOVCAL, *command], env=env, capture_output=True, text=True,
                                check=False, timeout=120)  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == [
            "Error: GOVCAL_SMTP_PORT='99999' is not a port number (1 to 65535)",
            "Error: GOVCAL_SMTP_SECURITY='tls' is not one of: starttls (port 587), ssl "
            "(implicit TLS, port 465), none",
        ]
    assert not (tmp_path / "data" / "govcal.db").exists()  # nothing was done


def test_the_runtime_builder_and_settings_import_no_prefect():
    """flows/runtime.py is used by the CLI before Prefect is configured: it must not
    import Prefect (nor models.settings the database stack) when imported."""
    probe = ("import sys, models.settings; light = 'sqlalchemy' not in sys.modules; "
             "import flows.runtime; print(light, 'prefect' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    assert done.stdout.split() == ["True", "False"], done.stderr
