"""Settings are validated when they load: case-insensitive words, one line per unusable
value naming the variable and what it may be, and no SMTP login in clear text unless a
setting whose name says "plaintext" allows it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from govcal.models.settings import SettingsError, load_settings
from govcal.notifications.transport import SmtpTransport, from_settings

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
        result = subprocess.run(
            [*GOVCAL, *command], env=env, capture_output=True, text=True, check=False, timeout=120
        )
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
    probe = (
        "import sys, models.settings; light = 'sqlalchemy' not in sys.modules; "
        "import flows.runtime; print(light, 'prefect' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["True", "False"], done.stderr


def govcal(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command as a user runs it, with these settings on top."""
    return subprocess.run(
        [*GOVCAL, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr
    [line] = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("GOVCAL_MAIL_FROM", "notanemail", "GOVCAL_MAIL_FROM='notanemail' is not an email"),
        ("GOVCAL_MAIL_FROM", "a b@example.org", "GOVCAL_MAIL_FROM='a b@example.org' is not"),
        (
            "GOVCAL_MAIL_FROM_NAME",
            "govcal\r\nBcc: victim@evil.org",
            "GOVCAL_MAIL_FROM_NAME contains a line break or control character",
        ),
        (
            "GOVCAL_MAIL_FROM_NAME",
            "WFSCP =?utf-8?b?DQpCY2M6IHZAZXZpbC5vcmc=?=",
            "GOVCAL_MAIL_FROM_NAME contains an encoded word (=?charset?...?=)",
        ),
        ("GOVCAL_MAIL_FROM", "x@example.org\nBcc: v@evil.org", "GOVCAL_MAIL_FROM contains a"),
        ("GOVCAL_SMTP_HOST", "relay\x7f.example.org", "GOVCAL_SMTP_HOST contains a line"),
        ("GOVCAL_ACTOR", "Eve\x1b]0;pwn\x07", "GOVCAL_ACTOR contains a line break"),
        ("GOVCAL_UI_URL", "https://ui\r\n.example.org", "GOVCAL_UI_URL contains a line"),
        (
            "GOVCAL_SMTP_CA_FILE",
            "/nonexistent/ca.pem",
            "GOVCAL_SMTP_CA_FILE='/nonexistent/ca.pem' is not a readable file",
        ),
        ("GOVCAL_DATA_DIR", "/etc/passwd", "GOVCAL_DATA_DIR='/etc/passwd' is a file, not a"),
        ("GOVCAL_FEEDS_DIR", "/etc/passwd", "GOVCAL_FEEDS_DIR='/etc/passwd' is a file, not"),
    ],
)
def test_mail_and_path_settings_are_checked_before_anything_runs(tmp_path, variable, value, says):
    result = govcal("status", **{"GOVCAL_DATA_DIR": str(tmp_path / "data"), variable: value})
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"Error: {says}"), line
    assert "\x1b" not in line and "\x00" not in line  # the bad value is not echoed raw
    assert not (tmp_path / "data").exists()  # nothing was done


def test_a_good_sender_and_a_readable_ca_file_are_kept(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    monkeypatch.setenv("GOVCAL_MAIL_FROM", " governance@wfscp.example.org ")
    monkeypatch.setenv("GOVCAL_MAIL_FROM_NAME", "WFSCP Business Unit")
    monkeypatch.setenv("GOVCAL_SMTP_CA_FILE", str(ca))
    settings = load_settings()
    assert settings.mail_from == "governance@wfscp.example.org"
    assert (settings.mail_from_name, settings.smtp_ca_file) == ("WFSCP Business Unit", ca)


@pytest.mark.parametrize("command", [["status"], ["plan"], ["notify", "--dry-run"]])
def test_an_unknown_default_partnership_stops_every_command_with_exit_2(tmp_path, command):
    """status used to list every partnership for GOVCAL_DEFAULT_PARTNERSHIP=nope."""
    result = govcal(*command, GOVCAL_DATA_DIR=str(tmp_path), GOVCAL_DEFAULT_PARTNERSHIP="nope")
    assert result.returncode == 2
    assert one_line(result) == (
        "Error: GOVCAL_DEFAULT_PARTNERSHIP='nope' is not a loaded partnership; use one of: "
        "cscp-2019, cscp-2023, cumbria-lscb-2014, wfscp"
    )
    assert result.stdout == ""


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    result = govcal("status", GOVCAL_DATABASE_URL="sqlite:////etc/passwd")
    assert result.returncode == 1
    assert one_line(result) == (
        "Error: sqlite:////etc/passwd is not a govcal database (the file holds something "
        "else); correct GOVCAL_DATABASE_URL"
    )


def test_a_configured_sqlite_file_in_a_missing_folder_is_never_created(tmp_path):
    far = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{far / 'x.db'}"
    says = (
        f"Error: the folder {far} of the database {url} does not exist; create it, or "
        "correct GOVCAL_DATABASE_URL"
    )
    for command in (["status"], ["db", "upgrade"]):
        result = govcal(*command, GOVCAL_DATABASE_URL=url)
        assert result.returncode == 1
        assert one_line(result) == says
    assert not (tmp_path / "nonexistent").exists()
    # the embedded default is still created on first use, data folder and all
    data = tmp_path / "fresh" / "data"
    assert govcal("db", "upgrade", GOVCAL_DATA_DIR=str(data)).returncode == 0
    assert (data / "govcal.db").is_file()


def test_a_feeds_folder_that_cannot_be_made_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from govcal.cli import app

    data = str(tmp_path / "data")  # this process's data folder too (isolated_settings)
    assert CliRunner().invoke(app, ["sync"]).exit_code == 0  # set up in-process
    result = govcal("feeds", GOVCAL_DATA_DIR=data, GOVCAL_FEEDS_DIR="/proc/x")
    assert result.returncode == 1
    assert one_line(result).startswith("Error: cannot use /proc/x: No such file or directory")


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (
            "GOVCAL_SYNC_HORIZON_MONTHS",
            "0",
            "GOVCAL_SYNC_HORIZON_MONTHS='0': input should be greater than or equal to 1",
        ),
        (
            "GOVCAL_INVITE_WINDOW_DAYS",
            "400",
            "GOVCAL_INVITE_WINDOW_DAYS='400': input should be less than or equal to 366",
        ),
        ("GOVCAL_SMTP_TIMEOUT", "-1", "GOVCAL_SMTP_TIMEOUT='-1': input should be greater than 0"),
        ("GOVCAL_DB_LOCK_TIMEOUT", "soon", "GOVCAL_DB_LOCK_TIMEOUT='soon': input should be a"),
        (
            "GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH",
            "maybe",
            "GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH='maybe': input should be a valid boolean",
        ),
        # finite but past what a clock can add: a later run would overflow
        ("GOVCAL_SMTP_TIMEOUT", "1e10", "GOVCAL_SMTP_TIMEOUT='1e10': input should be at most 3600"),
        (
            "GOVCAL_DELIVERY_TIME_BUDGET",
            "1e308",
            "GOVCAL_DELIVERY_TIME_BUDGET='1e308': input should be at most 86400 seconds",
        ),
        ("GOVCAL_DB_LOCK_TIMEOUT", "1e308", "GOVCAL_DB_LOCK_TIMEOUT='1e308': input should be at"),
        ("GOVCAL_SMTP_HOST", "relay internal", "GOVCAL_SMTP_HOST='relay internal' is not a host"),
        ("GOVCAL_SMTP_HOST", "", "GOVCAL_SMTP_HOST='' is not a host name"),
        (
            "GOVCAL_DATABASE_URL",
            "postgresql://u:hunter2@[::1:1/db",
            "GOVCAL_DATABASE_URL cannot be read as a URL",
        ),
    ],
)
def test_numbers_and_switches_out_of_range_are_one_line(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert refused.value.lines == [says] or refused.value.lines[0].startswith(says)


def test_names_are_case_insensitive_and_a_blank_optional_value_is_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("govcal_smtp_port", " 2525 ")
    monkeypatch.setenv("GOVCAL_FEEDS_DIR", "  ")
    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GOVCAL_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.smtp_port == 2525
    assert settings.effective_feeds_dir == tmp_path / "feeds"
    assert settings.smtp_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_one_setting_spelled_twice_with_different_values_is_refused(monkeypatch):
    """Names are case-insensitive: which of two spellings won would depend on their order."""
    monkeypatch.setenv("GOVCAL_TRANSPORT", "bogus")
    monkeypatch.setenv("govcal_transport", "outbox")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert refused.value.lines == [
        "GOVCAL_TRANSPORT and govcal_transport are one setting given twice with different "
        "values; unset all but one"
    ]
    monkeypatch.setenv("govcal_transport", "bogus")  # the same value twice is one setting
    with pytest.raises(SettingsError, match="GOVCAL_TRANSPORT='bogus'"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@127.0.0.1:1/db?password=hunter2",
        "postgresql:///db?host=127.0.0.1&port=1&user=u&password=hunter2",
        "postgresql://u:hunter2@127.0.0.1:1/db",
    ],
)
def test_a_database_password_is_never_printed_however_the_url_carries_it(tmp_path, url):
    result = govcal("status", GOVCAL_DATA_DIR=str(tmp_path / "data"), GOVCAL_DATABASE_URL=url)
    assert result.returncode != 0
    assert "hunter2" not in result.stdout + result.stderr
    assert "***" in result.stderr and "cannot use the database" in result.stderr
