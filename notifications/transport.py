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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from govcal.models.private import private_folder

if TYPE_CHECKING:
    from govcal.models.settings import Settings


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
    """What happened to each recipient of one message (RFC 5321 4.2: 2xx done, 4xx try
    again later, 5xx never). `uncertain`: the end of DATA was sent and no answer came, so
    the relay may hold the message: not resent in this run, resent later with the same
    Message-ID."""

    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # permanent (5xx), per address
    response: str = ""
    deferred: dict[str, str] = field(default_factory=dict)  # temporary (4xx, no answer)
    uncertain: dict[str, str] = field(default_factory=dict)  # sent, never acknowledged


class Transport(Protocol):
    name: str

    def open(self) -> None: ...
    def send(self, message: Outgoing) -> SendResult: ...
    def close(self) -> None: ...


class FileOutbox:
    """One .eml file per message. Writing is atomic and keyed, so a rerun is a no-op.

    `stage` writes a batch's files under temporary names and `flush` makes the whole batch
    durable at once: every file's data synced, then renamed to its key, then one sync of
    the folder. The ledger marks a batch sent only after its flush, so a crash before it
    leaves no visible file and the rows are claimed again; a crash after it leaves the
    files, which the rerun finds by key ("already in outbox") instead of writing a copy."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder
        self._staged: list[tuple[Path, Path]] = []  # (temporary file, its final name)

    def open(self) -> None:
        private_folder(self.folder)  # messages carry names and addresses; 0600 (mkstemp)

    def send(self, message: Outgoing) -> SendResult:
        """One message, durable on return."""
        result = self.stage(message)
        self.flush()
        return result

    def stage(self, message: Outgoing) -> SendResult:
        """Write the message under a temporary name: neither durable nor visible until
        `flush`. The result is what the batch's flush will make true."""
        target = self.folder / f"{message.key}.eml"
        if target.exists():
            return SendResult(message.recipients, response=f"already in outbox: {target.name}")
        handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(message.data)
        except BaseException:  # a full disk: no half-written file is left to pile up
            Path(temp).unlink(missing_ok=True)
            raise
        self._staged.append((Path(temp), target))
        return SendResult(message.recipients, response=f"written to {target.name}")

    def flush(self) -> None:
        """Make every staged file durable under its name: the files' syncs go together
        (the journal commits them at once, not one wait per message), then the renames,
        then one sync of the folder so the names survive a crash too."""
        staged, self._staged = self._staged, []
        if not staged:
            return
        try:
            with ThreadPoolExecutor(max_workers=min(8, len(staged))) as pool:
                list(pool.map(_sync_file, [temp for temp, _ in staged]))
            for temp, target in staged:
                os.replace(temp, target)
        except BaseException:  # the batch is not reported sent: its temporary files go
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            raise
        _sync_folder(self.folder)

    def close(self) -> None:
        """Staged files never flushed were never reported sent: remove them."""
        staged, self._staged = self._staged, []
        for temp, _ in staged:
            temp.unlink(missing_ok=True)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """A rename is durable once its folder is synced (POSIX; Windows has no such call)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls, ssl or none
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    # the wait for the answer to the end of DATA, while the relay takes the message in:
    # RFC 5321 4.5.3.2.6 suggests 10 minutes; an answer missed here means a second copy
    data_timeout: float = 600.0
    allow_plaintext_auth: bool = False  # GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH: AUTH without TLS
    ca_file: str | None = None  # trust this CA (a private relay's) besides the system's

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP security '{self.security}' is not one of: starttls, ssl, none")
        if self.username and self.security == "none" and not self.allow_plaintext_auth:
            raise ValueError(
                "refusing to log in without TLS: use starttls or ssl "
                "(or GOVCAL_SMTP_ALLOW_PLAINTEXT_AUTH=true)"
            )

    def tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"[:300]


class _Refused(Exception):
    """A command of one message's transaction was answered 4xx or 5xx."""

    def __init__(self, stage: str, code: int, text: bytes | str):
        self.permanent = code >= 500
        super().__init__(f"{stage}: {_answer(code, text)}")


class _StaleSession(Exception):
    """A reused session was found closed at MAIL: reconnect once and try again."""


def _ascii_address(address: str) -> tuple[str, bool]:
    """The address as SMTP can carry it: an internationalised domain as IDNA (xn--),
    and whether the local part still needs SMTPUTF8."""
    local, _, domain = address.rpartition("@")
    try:
        domain.encode("ascii")
    except UnicodeEncodeError:
        import idna

        domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local}@{domain}", not local.isascii()


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." gets another; then the end of DATA."""
    data = re.sub(rb"(?m)^\.", b"..", _crlf(data))
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpTransport:
    """An SMTP client that behaves like a mail transfer agent (RFC 5321 4.2).

    Each message is its own transaction, classified per recipient and per stage: 2xx
    delivered, 4xx deferred (retried on a later run), 5xx refused for good. Any failure
    inside a transaction ends with RSET, or a fresh session if the link is in doubt, so
    the next message never meets a half-finished one ("503 nested MAIL"). A failure to
    open a session (connect, EHLO, STARTTLS, AUTH) is the relay's, not a message's: it
    raises TemporaryFailure and the caller defers what is left."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._client: smtplib.SMTP | None = None
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        client: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=s.tls())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            client.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                client.starttls(context=s.tls())  # refuses if the relay does not offer it
                client.ehlo()
            if s.username:
                client.login(s.username, s.password or "")
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            raise TemporaryFailure(f"cannot open a session with {s.host}:{s.port}: {exc}") from None
        self.connections_opened += 1
        return client

    def open(self) -> None:
        if self._client is None:
            self._client = self._connect()

    def _drop(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None

    def _reset(self) -> None:
        """After any error inside a transaction: RSET, or a fresh session next time."""
        if self._client is None:
            return
        try:
            code, _ = self._client.rset()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code != 250:
            self._drop()

    def send(self, message: Outgoing) -> SendResult:
        reused = self._client is not None
        if self._client is None:
            self._client = self._connect()  # TemporaryFailure: the relay, not the message
        try:
            return self._transaction(self._client, message, retried=not reused)
        except _StaleSession:  # the relay closed the idle link: nothing was sent yet
            self._client = self._connect()
            return self._transaction(self._client, message, retried=True)

    def _transaction(
        self, client: smtplib.SMTP, message: Outgoing, *, retried: bool = False
    ) -> SendResult:
        result = SendResult(accepted=[])
        envelope: list[tuple[str, str]] = []  # (as given, as sent)
        needs_utf8 = False
        for address in message.recipients:
            try:
                wire, utf8 = _ascii_address(address)
            except Exception as exc:  # an address no IDNA can encode: this one alone
                result.refused[address] = f"553 5.1.3 cannot encode the domain: {exc}"
                continue
            if utf8 and not client.has_extn("smtputf8"):
                result.refused[address] = (
                    "553 5.6.7 non-ASCII mailbox name and the relay does not offer SMTPUTF8"
                )
                continue
            needs_utf8 = needs_utf8 or utf8
            envelope.append((address, wire))
        if not envelope:
            return result
        stage = "MAIL"
        try:
            options = ["SMTPUTF8"] if needs_utf8 else []
            if client.has_extn("8bitmime") and not message.data.isascii():
                options.append("BODY=8BITMIME")
            code, text = client.mail(message.sender, options)
            if code != 250:
                raise _Refused("MAIL", code, text)
            stage = "RCPT"
            for address, wire in envelope:
                code, text = client.rcpt(wire)
                if code in (250, 251):
                    result.accepted.append(address)
                elif code >= 500:
                    result.refused[address] = _answer(code, text)
                else:
                    result.deferred[address] = _answer(code, text)
            if not result.accepted:
                self._reset()
                return result
            stage = "DATA"
            code, text = client.docmd("DATA")
            if code != 354:
                raise _Refused("DATA", code, text)
            stage = "end of DATA"
            client.send(_dot_stuffed(message.data))
            stage = "after DATA"  # from here, the relay may hold the message
            code, text = self._final_reply(client)
        except _Refused as exc:
            bucket = result.refused if exc.permanent else result.deferred
            for address in result.accepted or [a for a, _ in envelope]:
                bucket.setdefault(address, str(exc))
            result.accepted = []
            self._reset()
            return result
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if stage == "MAIL" and not retried and isinstance(exc, smtplib.SMTPServerDisconnected):
                raise _StaleSession from None
            reason = f"{stage}: no answer ({type(exc).__name__}: {exc})"[:300]
            if stage == "after DATA":
                for address in result.accepted:
                    result.uncertain[address] = reason
            else:
                for address, _wire in envelope:
                    if address not in result.refused:
                        result.deferred.setdefault(address, reason)
            result.accepted = []
            return result
        if code == 250:
            result.response = _answer(code, text)
            return result
        bucket = result.refused if code >= 500 else result.deferred
        for address in result.accepted:
            bucket[address] = f"after DATA: {_answer(code, text)}"
        result.accepted = []
        self._reset()
        return result

    def _final_reply(self, client: smtplib.SMTP) -> tuple[int, bytes]:
        """The answer to the end of DATA, waited for `data_timeout` (not `timeout`):
        the relay may be scanning or queueing the message, and giving up early is what
        makes it "uncertain" and sent twice."""
        wait = max(self.settings.data_timeout, self.settings.timeout)
        if client.sock is not None:
            client.sock.settimeout(wait)
        try:
            return client.getreply()
        finally:
            if client.sock is not None:
                client.sock.settimeout(self.settings.timeout)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._drop()


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
                data_timeout=settings.smtp_data_timeout,
                allow_plaintext_auth=settings.smtp_allow_plaintext_auth,
                ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            )
        )
    return FileOutbox(settings.effective_outbox_dir)
