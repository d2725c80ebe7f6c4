"""All configuration in one typed object, read from the environment (prefix GOVCAL_).

It sits at the bottom of the import graph (models/, notifications/, flows/ and the
command line all read it) and is validated when it loads: a value nobody can use (an
unknown transport, `GOVCAL_SMTP_SECURITY=tls`, a port of 0, a `mysql://` database) is
refused with one line naming the variable and what it may be, instead of being silently
read as something else. Words are case-insensitive (`STARTTLS` is `starttls`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "GOVCAL_"

Transport = Literal["outbox", "smtp"]
Security = Literal["starttls", "ssl", "none"]

# Drivers govcal ships; every other scheme is refused at start, not at first query.
_DATABASE_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_HINTS = {
    "transport": "outbox, smtp",
    "smtp_security": "starttls (port 587), ssl (implicit TLS, port 465), none",
}
# Values that end up in a mail header, an SMTP command or a URL: a line break there would
# let a setting write its own headers, so every control character is refused at start.
_HEADER_BOUND = (
    "mail_from", "mail_from_name", "smtp_host", "smtp_username", "smtp_password_block",
    "default_partnership", "actor", "ui_url", "feeds_url",
)  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# local@domain.tld, no spaces or brackets: what an SMTP envelope sender can be
_EMAIL = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:.]+")


class SettingsError(ValueError):
    """A setting nobody can use. Each line names the variable and what it may be."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("; ".join(lines))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str | None = None  # default: a SQLite file in data_dir
    rules_path: Path | None = None  # a rule file or folder; default: the shipped partnerships
    default_partnership: str = "wfscp"
    actor: str | None = None  # who the CLI records as acting; default: the OS user
    sync_horizon_months: int = Field(default=18, ge=1, le=120)
    db_lock_timeout: float = Field(default=30.0, gt=0)  # seconds to wait for another writer
    # notifications
    transport: Transport = "outbox"  # outbox (files, the embedded default) or smtp
    outbox_dir: Path | None = None  # default: data_dir/outbox
    feeds_dir: Path | None = None  # default: data_dir/feeds
    mail_from: str = "govcal@example.org"
    mail_from_name: str = "govcal"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Security = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_block: str | None = None  # name of a Prefect Secret block, if not in env
    # the one way to log in over a connection without TLS: a name that says what it is
    smtp_allow_plaintext_auth: bool = False
    smtp_ca_file: Path | None = (
        None  # a private relay's CA certificate, trusted besides the system's
    )
    smtp_timeout: float = Field(default=30.0, gt=0)  # seconds to wait for each SMTP answer
    delivery_time_budget: float = Field(default=1200.0, gt=0)  # seconds one run may send for
    invite_window_days: int = Field(default=60, ge=0, le=366)
    ui_url: str | None = None  # the Prefect UI as people reach it: emails link its forms
    feeds_url: str | None = None  # where data/feeds is published: digests carry feed links
    # evidence files may only be named from this folder (default: data_dir/evidence-inbox)
    evidence_folder: Path | None = None

    @field_validator("transport", "smtp_security", mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _scheme(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return None if isinstance(value, str) else value
        scheme, sep, rest = value.strip().partition("://")
        canonical = _DATABASE_SCHEMES.get(scheme.lower()) if sep else None
        if canonical is None:
            raise ValueError("unknown scheme")
        return f"{canonical}://{rest}"

    @field_validator(*_HEADER_BOUND, mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("control character")
        return value

    @field_validator("mail_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value.strip()):
            raise ValueError("not an address")
        return value.strip()

    @field_validator("data_dir", "outbox_dir", "feeds_dir", "evidence_folder")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("not a folder")
        return value

    @field_validator("smtp_ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not (value.is_file() and os.access(value, os.R_OK)):
            raise ValueError("unreadable file")
        return value

    @field_validator("smtp_password_block", "smtp_username", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> Settings:
        clear = self.transport == "smtp" and self.smtp_security == "none"
        if clear and self.smtp_username and not self.smtp_allow_plaintext_auth:
            raise ValueError("plaintext auth")
        return self

    def rule_paths(self, override: Path | None = None) -> list[Path] | None:
        """Where the rules are: the given file or folder, else GOVCAL_RULES_PATH, else
        None (the shipped partnerships), as rules.loader.load_partnerships takes it."""
        chosen = override or self.rules_path
        return [chosen] if chosen else None

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def effective_feeds_dir(self) -> Path:
        return self.feeds_dir or self.data_dir / "feeds"

    @property
    def effective_evidence_folder(self) -> Path:
        return self.evidence_folder or self.data_dir / "evidence-inbox"

    @property
    def evidence_store_dir(self) -> Path:
        """govcal's own read-only copies of evidence files, by content."""
        return self.data_dir / "evidence"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'govcal.db'}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def _explain(error: dict[str, Any]) -> str:
    """One line per problem: the variable, what it was, what it may be."""
    field = str(error["loc"][0]) if error["loc"] else ""
    variable = f"{PREFIX}{field.upper()}"
    value = error.get("input")
    shown = "" if field in ("smtp_password",) else f"='{value}'"
    if error["msg"].endswith("plaintext auth"):
        return (
            f"{PREFIX}SMTP_SECURITY=none with {PREFIX}SMTP_USERNAME would send the SMTP "
            f"password in clear: use starttls or ssl, or set "
            f"{PREFIX}SMTP_ALLOW_PLAINTEXT_AUTH=true if the link is trusted"
        )
    if field == "database_url":
        return (
            f"{variable} has an unknown scheme; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB (postgresql:// is read as postgresql+psycopg)"
        )
    if error["msg"].endswith("control character"):
        return (
            f"{variable} contains a line break or control character; "
            "write it on one line of plain text"
        )
    if error["msg"].endswith("not an address"):
        return f"{variable}{shown} is not an email address; write it as name@example.org"
    if error["msg"].endswith("not a folder"):
        return f"{variable}{shown} is a file, not a folder; name a folder (it may not exist yet)"
    if error["msg"].endswith("unreadable file"):
        return (
            f"{variable}{shown} is not a readable file; "
            "name the relay's CA certificate (PEM) or unset it"
        )
    if field == "smtp_port":
        return f"{variable}{shown} is not a port number (1 to 65535)"
    if field in _HINTS:
        return f"{variable}{shown} is not one of: {_HINTS[field]}"
    return f"{variable}{shown}: {error['msg'].lower()}"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the environment; SettingsError lists every unusable value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError([_explain(e) for e in exc.errors()]) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def redact_url(url: str) -> str:
    """A database URL safe to print: the password is replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"
