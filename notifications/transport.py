"""Where messages go: a file outbox (the embedded default) or an SMTP server.

One connection serves a whole batch. Failures are classified so the ledger knows what
to do: a temporary failure is retried on a later run, a permanent refusal of one
address is reported and that address skipped, and the rest of the batch still goes out.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from models.settings import Settings


def _crlf(data: bytes) -> bytes:
    """SMTP lines end in CRLF; smtplib sends bytes as they are, so normalise bare LFs."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


class TemporaryFailure(Exception):
    """The server could not take the message now (down, busy, 4xx): retry later."""


@dataclass
class Outgoing:
    key: str  # stable: names the outbox file and the Message-ID
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SendResult:
    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # permanent, per address
    response: str = ""


class Transport(Protocol):
    name: str

    def open(self) -> None: ...
    def send(self, message: Outgoing) -> SendResult: ...
    def close(self) -> None: ...


class FileOutbox:
    """One .eml file per message. Writing is atomic and keyed, so a rerun is a no-op."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: Outgoing) -> SendResult:
        target = self.folder / f"{message.key}.eml"
        if target.exists():
            return SendResult(message.recipients, response=f"already in outbox: {target.name}")
        handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        with os.fdopen(handle, "wb") as out:
            out.write(message.data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        return SendResult(message.recipients, response=f"written to {target.name}")

    def close(self) -> None:
        return None


@dataclass
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls, ssl or none
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    allow_plaintext_auth: bool = False  # GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH: AUTH without TLS

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP security '{self.security}' is not one of: starttls, ssl, none")
        if self.username and self.security == "none" and not self.allow_plaintext_auth:
            raise ValueError(
                "refusing to log in without TLS: use starttls or ssl "
                "(or GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH=true)"
            )


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._client: smtplib.SMTP | None = None
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        self.connections_opened += 1
        return client

    def open(self) -> None:
        if self._client is None:
            self._client = self._connect()

    def send(self, message: Outgoing) -> SendResult:
        for attempt in (1, 2):  # a dropped connection is reopened once
            if self._client is None:
                self._client = self._connect()
            try:
                refused = self._client.sendmail(
                    message.sender, message.recipients, _crlf(message.data)
                )
                accepted = [r for r in message.recipients if r not in refused]
                return SendResult(
                    accepted,
                    {
                        r: f"{code} {text.decode(errors='replace')}"
                        for r, (code, text) in refused.items()
                    },
                    "250 accepted",
                )
            except smtplib.SMTPRecipientsRefused as exc:
                permanent = {
                    r: f"{code} {text.decode(errors='replace')}"
                    for r, (code, text) in exc.recipients.items()
                    if code >= 500
                }
                if len(permanent) == len(exc.recipients):
                    return SendResult([], permanent, "all recipients refused")
                raise TemporaryFailure(
                    f"recipients temporarily refused: {exc.recipients}"
                ) from None
            except smtplib.SMTPServerDisconnected as exc:
                self._client = None
                if attempt == 2:
                    raise TemporaryFailure(f"connection lost: {exc}") from None
            except smtplib.SMTPResponseException as exc:
                raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from None
            except OSError as exc:
                self._client = None
                if attempt == 2:
                    raise TemporaryFailure(f"network error: {exc}") from None
        raise TemporaryFailure("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._client = None


def from_settings(settings: Settings, *, password: str | None = None) -> Transport:
    """The transport validated settings ask for. The password is passed in, resolved by
    flows.runtime (environment or Prefect Secret block), so this layer knows no Prefect."""
    if settings.transport == "smtp":
        return SmtpTransport(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=password,
                timeout=settings.smtp_timeout,
                allow_plaintext_auth=settings.smtp_allow_plaintext_auth,
            )
        )
    return FileOutbox(settings.effective_outbox_dir)
