"""The one place a run is assembled: settings -> partnerships, transport, sender, clock.

The command line, the Prefect flows, the UI forms and `govcal serve` all build what they
need here, so they cannot drift apart (an SMTP transport built elsewhere could miss the
Prefect Secret block and log in with an empty password). Prefect is imported only when a
Secret block is actually named, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from govcal.models import rule_cache
from govcal.models.rule_cache import Broken
from govcal.models.settings import Settings, SettingsError, get_settings
from govcal.models.types import utcnow
from govcal.notifications.dkim import DkimKey
from govcal.notifications.imap import ImapSettings, Mailbox
from govcal.notifications.render import Sender
from govcal.notifications.transport import Transport, from_settings
from govcal.rules.loader import RuleFileError
from govcal.rules.model import DEFAULT_TIMEZONE, Partnership

DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # the rule files' default zone


class SecretUnavailable(SettingsError):
    """GOVCAL_SMTP_PASSWORD_BLOCK names a Prefect Secret block that cannot be read."""


def running_rules(settings: Settings, rules: Path | None = None) -> rule_cache.Running:
    """The partnerships a run works on: a broken rule file's partnership on its last good
    version (models/rule_cache.py), so one partnership's typo stops nobody else. Raises
    RuleFileError only when nothing at all can run."""
    found = rule_cache.running(settings.rule_paths(rules), settings.data_dir / "cache")
    if not found.partnerships:
        raise RuleFileError([p for b in found.broken for p in b.problems])
    return found


def rules_or_empty(settings: Settings | None = None) -> list[Partnership]:
    """For callers that must not fail on a bad rule file (the forms' drop-downs):
    `govcal rules check` is where the problems are reported."""
    settings = settings or get_settings()
    try:
        return rule_cache.load_partnerships(settings.rule_paths(), settings.data_dir / "cache")
    except RuleFileError:
        return []


def smtp_password(settings: Settings) -> str | None:
    """The SMTP password: from the environment, else from a file only the worker reads
    (GOVCAL_SMTP_PASSWORD_FILE), else from the named Prefect Secret block (which anyone
    logged in to the Prefect UI can read).

    A file or block that is named but empty or missing is an error, never an empty
    password."""
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
    if settings.smtp_password_file is not None:
        try:
            text = settings.smtp_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretUnavailable(
                [
                    f"GOVCAL_SMTP_PASSWORD_FILE='{settings.smtp_password_file}' cannot be read "
                    f"({type(exc).__name__}); make it readable by govcal's user only"
                ]
            ) from None
        if not text:
            raise SecretUnavailable(
                [f"GOVCAL_SMTP_PASSWORD_FILE='{settings.smtp_password_file}' is empty"]
            )
        return text
    name = settings.smtp_password_block
    if settings.transport != "smtp" or not name:
        return None
    return _secret_block("GOVCAL_SMTP_PASSWORD_BLOCK", name)


def imap_password(settings: Settings) -> str | None:
    """The mailbox's password, as the SMTP one: the environment, else a Secret block."""
    if settings.imap_password is not None:
        return settings.imap_password.get_secret_value()
    name = settings.imap_password_block
    return _secret_block("GOVCAL_IMAP_PASSWORD_BLOCK", name) if name else None


def _secret_block(variable: str, name: str) -> str:
    from prefect.blocks.system import Secret  # only when a block is named

    try:
        secret = cast(Secret[Any], Secret.load(name)).get()  # a block, called from sync code
    except (ValueError, KeyError) as exc:
        raise SecretUnavailable(
            [
                f"{variable}='{name}': no Prefect Secret block of that name "
                f"can be read ({type(exc).__name__}); create it (UI: Blocks -> Secret) or "
                "unset the variable"
            ]
        ) from None
    if not str(secret):
        raise SecretUnavailable([f"{variable}='{name}' holds an empty secret"])
    return str(secret)


WEB_SECRET_FILE = "web-secret"  # in the data folder, 0600: the embedded mode's own key


def web_secret(settings: Settings) -> str | None:
    """The key that signs action links: GOVCAL_WEB_SECRET, else the Prefect Secret block
    GOVCAL_WEB_SECRET_BLOCK names, else (the embedded database only) one generated once
    and kept private in the data folder. None: a configured database with no key, where
    messages carry no links (two machines minting their own keys would not agree)."""
    if settings.web_secret is not None:
        return settings.web_secret.get_secret_value()
    if settings.web_secret_block:
        from prefect.blocks.system import Secret  # only when a block is named

        name = settings.web_secret_block
        try:
            value = str(cast(Secret[Any], Secret.load(name)).get())
        except (ValueError, KeyError) as exc:
            raise SecretUnavailable(
                [
                    f"GOVCAL_WEB_SECRET_BLOCK='{name}': no Prefect Secret block of that name can "
                    f"be read ({type(exc).__name__}); create it or unset the variable"
                ]
            ) from None
        if len(value) < 32:
            raise SecretUnavailable([f"GOVCAL_WEB_SECRET_BLOCK='{name}' holds under 32 characters"])
        return value
    if not settings.uses_embedded_database:
        return None
    return _kept_secret(settings.data_dir / WEB_SECRET_FILE)


def _kept_secret(path: Path) -> str:
    """Read the key, or create it with mode 0600 from the start (never world-readable,
    even for an instant); two processes starting at once agree on the first one written."""
    import os
    import secrets

    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(handle, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


@dataclass
class Runtime:
    """Everything a run needs, built once from validated settings."""

    settings: Settings
    partnerships: list[Partnership]
    sender: Sender
    timezone: ZoneInfo
    clock: Callable[[], datetime] = utcnow
    broken: list[Broken] = field(default_factory=list)  # rule files run on their last good
    _password: tuple[str | None] | None = field(default=None, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in the partnership's time zone (not UTC: 00:30 BST is still yesterday in UTC)."""
        return self.now().astimezone(self.timezone).date()

    def partnership(self, partnership_id: str | None = None) -> Partnership:
        wanted = partnership_id or self.settings.default_partnership
        for p in self.partnerships:
            if p.id == wanted:
                return p
        known = ", ".join(sorted(p.id for p in self.partnerships))
        raise SettingsError([f"no partnership '{wanted}'; known: {known}"])

    def transport(self) -> Transport:
        """A fresh transport for one batch (the password is looked up once per runtime)."""
        if self._password is None:
            self._password = (smtp_password(self.settings),)
        return from_settings(self.settings, password=self._password[0])

    def rule_warnings(self) -> list[str]:
        """Every broken rule file's problems and what the run does instead (operator)."""
        return [line for b in self.broken for line in b.lines()]

    def rule_problems_of(self, partnership_id: str) -> list[str]:
        """The problems of the partnership's own rule file (its business team)."""
        return [
            line
            for b in self.broken
            if b.fallback and b.fallback.id == partnership_id
            for line in b.lines()
        ]

    def mailbox(self) -> Mailbox:
        """The mailbox read back (`govcal mailbox`); MailboxError when none is set."""
        return Mailbox(ImapSettings.of(self.settings, imap_password(self.settings)))

    def where(self) -> str:
        """Where mail goes, for a summary line."""
        if self.settings.transport == "outbox":
            return str(self.settings.effective_outbox_dir)
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"


def build_runtime(
    settings: Settings | None = None,
    *,
    rules: Path | None = None,
    partnerships: list[Partnership] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Runtime:
    """Assemble a run. Raises SettingsError (settings, secret) or RuleFileError (no rule
    file can run at all; one broken file runs on its last good version, in `broken`)."""
    settings = settings or get_settings()
    broken: list[Broken] = []
    if partnerships is not None:
        loaded = partnerships
    else:
        found = running_rules(settings, rules)
        loaded, broken = found.partnerships, found.broken
    default = next((p for p in loaded if p.id == settings.default_partnership), None)
    chosen = default or (loaded[0] if loaded else None)
    return Runtime(
        settings=settings,
        partnerships=loaded,
        sender=Sender(settings.mail_from_name, settings.mail_from, DkimKey.of(settings)),
        timezone=chosen.tz if chosen else DEFAULT_ZONE,
        clock=clock or utcnow,
        broken=broken,
    )
