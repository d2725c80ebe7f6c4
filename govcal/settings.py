"""All configuration in one typed object, read from the environment (prefix GOVCAL_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVCAL_", extra="ignore")

    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str | None = None  # default: a SQLite file in data_dir
    rules_path: Path | None = None  # a rule file or folder; default: the shipped partnerships
    default_partnership: str = "wfscp"
    actor: str | None = None  # who the CLI records as acting; default: the OS user
    sync_horizon_months: int = 18
    db_lock_timeout: float = 30.0  # seconds to wait for another process's write (SQLite)
    # notifications
    transport: str = "outbox"  # outbox (files, the embedded default) or smtp
    outbox_dir: Path | None = None  # default: data_dir/outbox
    feeds_dir: Path | None = None  # default: data_dir/feeds
    mail_from: str = "govcal@example.org"
    mail_from_name: str = "govcal"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, ssl or none
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_block: str | None = None  # name of a Prefect Secret block, if not in env
    invite_window_days: int = 60
    ui_url: str | None = None  # the Prefect UI as people reach it: emails link its forms
    feeds_url: str | None = None  # where data/feeds is published: digests carry feed links
    # evidence files may only be named from this folder (default: data_dir/evidence-inbox)
    evidence_folder: Path | None = None

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def redact_url(url: str) -> str:
    """A database URL safe to print: the password is replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"
