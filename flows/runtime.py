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

from models.settings import Settings, SettingsError, get_settings
from models.types import utcnow
from notifications.render import Sender
from notifications.transport import Transport, from_settings
from rules.loader import RuleFileError, load_partnerships
from rules.model import DEFAULT_TIMEZONE, Partnership

DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # the rule files' default zone


class SecretUnavailable(SettingsError):
    """GOVCAL_SMTP_PASSWORD_BLOCK names a Prefect Secret block that cannot be read."""


def load_rules(settings: Settings, rules: Path | None = None) -> list[Partnership]:
    """The partnerships from `rules` (a file or folder), else the configured or shipped
    ones. Raises RuleFileError with every problem found."""
    return load_partnerships(settings.rule_paths(rules))


def rules_or_empty(settings: Settings | None = None) -> list[Partnership]:
    """For callers that must not fail on a bad rule file (the UI forms at import):
    `govcal rules check` is where the problems are reported."""
    try:
        return load_rules(settings or get_settings())
    except RuleFileError:
        return []


def smtp_password(settings: Settings) -> str | None:
    """The SMTP password: from the environment, else from the named Prefect Secret block.

    A block that is named but missing is an error, never an empty password."""
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
    name = settings.smtp_password_block
    if settings.transport != "smtp" or not name:
        return None
    from prefect.blocks.system import Secret  # only when a block is named

    try:
        secret = cast(Secret[Any], Secret.load(name)).get()  # a block, called from sync code
    except (ValueError, KeyError) as exc:
        raise SecretUnavailable(
            [
                f"GOVCAL_SMTP_PASSWORD_BLOCK='{name}': no Prefect Secret block of that name "
                f"can be read ({type(exc).__name__}); create it (UI: Blocks -> Secret) or "
                "unset the variable"
            ]
        ) from None
    if not str(secret):
        raise SecretUnavailable([f"GOVCAL_SMTP_PASSWORD_BLOCK='{name}' holds an empty secret"])
    return str(secret)


@dataclass
class Runtime:
    """Everything a run needs, built once from validated settings."""

    settings: Settings
    partnerships: list[Partnership]
    sender: Sender
    timezone: ZoneInfo
    clock: Callable[[], datetime] = utcnow
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
    """Assemble a run. Raises SettingsError (settings, secret) or RuleFileError (rules)."""
    settings = settings or get_settings()
    loaded = partnerships if partnerships is not None else load_rules(settings, rules)
    default = next((p for p in loaded if p.id == settings.default_partnership), None)
    chosen = default or (loaded[0] if loaded else None)
    return Runtime(
        settings=settings,
        partnerships=loaded,
        sender=Sender(settings.mail_from_name, settings.mail_from),
        timezone=chosen.tz if chosen else DEFAULT_ZONE,
        clock=clock or utcnow,
    )
