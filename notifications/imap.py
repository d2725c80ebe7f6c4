"""govcal's mailbox over IMAP (RFC 3501, MOVE RFC 6851), with the standard library's
imaplib: every command govcal needs (UID SEARCH, FETCH, STORE, MOVE), a timeout and an
SSL context, and no dependency to keep up to date.

Bounded whatever the mailbox holds: messages are searched by UID window, sized before
they are fetched, and fetched in batches of at most BATCH_BYTES, so memory does not
grow with the mailbox. A message is never deleted: what govcal read is MOVED to the
processed folder; what it leaves for people gets a keyword (LEFT) so the next run
does not fetch it again.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from govcal.rules.errors import Unavailable

if TYPE_CHECKING:
    from govcal.models.settings import Settings

LEFT = "GovcalLeft"  # keyword on messages read and left for people
UID_WINDOW = 5000  # UIDs searched at once
BATCH_BYTES = 8 * 1024 * 1024  # bytes fetched at once
BATCH_COUNT = 200  # messages fetched at once
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # larger: not fetched, reported, left


class MailboxError(Unavailable):
    """The mailbox cannot be read now (unreachable, login refused, no such folder): one
    line, never the password."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int = 993
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    processed_folder: str = "govcal/processed"
    allow_plaintext_on_loopback: bool = False
    ca_file: Path | None = None
    timeout: float = 60.0

    @property
    def plaintext(self) -> bool:
        """Plain IMAP: only when allowed by its setting, and only to a loopback host."""
        return self.allow_plaintext_on_loopback and is_loopback(self.host)

    @classmethod
    def of(cls, settings: Settings, password: str | None) -> ImapSettings:
        if not settings.imap_host:
            raise MailboxError("GOVCAL_IMAP_HOST is not set: there is no mailbox to read")
        if settings.imap_allow_plaintext_on_loopback and not is_loopback(settings.imap_host):
            raise MailboxError(
                f"GOVCAL_IMAP_ALLOW_PLAINTEXT_ON_LOOPBACK allows plain IMAP to this machine "
                f"only, not to {settings.imap_host}; unset it (TLS is used)"
            )
        return cls(
            host=settings.imap_host,
            port=settings.imap_port,
            username=settings.imap_username or "",
            password=password or "",
            folder=settings.imap_folder,
            processed_folder=settings.imap_processed_folder,
            allow_plaintext_on_loopback=settings.imap_allow_plaintext_on_loopback,
            ca_file=settings.imap_ca_file,
            timeout=settings.imap_timeout,
        )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(u) for u in uids)


_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class Mailbox:
    """One IMAP session on one folder: `with Mailbox(settings) as box: ...`."""

    def __init__(self, settings: ImapSettings):
        self.settings = settings
        self._imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> Mailbox:
        s = self.settings
        try:
            if s.plaintext:
                self._imap = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
            else:
                context = ssl.create_default_context()
                if s.ca_file:
                    context.load_verify_locations(cafile=str(s.ca_file))
                self._imap = imaplib.IMAP4_SSL(
                    s.host, s.port, ssl_context=context, timeout=s.timeout
                )
            self._imap.login(s.username, s.password)
            self._check("SELECT", self._imap.select(_quoted(s.folder)))
            said = self._check("CAPABILITY", self._imap.capability())
            if b"MOVE" not in b" ".join(d for d in said if isinstance(d, bytes)).upper().split():
                raise MailboxError(f"the IMAP server at {s.host} cannot MOVE (RFC 6851)")
            kind, data = self._imap.create(_quoted(s.processed_folder))
            if kind != "OK" and b"ALREADYEXISTS" not in b" ".join(d or b"" for d in data):
                self._check("CREATE", (kind, data))
        except MailboxError:
            self.close()
            raise
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            self.close()
            raise MailboxError(
                f"cannot read the mailbox {s.folder} at {s.host}:{s.port}: {_reason(exc)}"
            ) from None
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._imap is None:
            return
        imap, self._imap = self._imap, None
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()

    @property
    def imap(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise MailboxError("the mailbox is not open")
        return self._imap

    def _check(self, what: str, answer: tuple[str, list]) -> list:
        kind, data = answer
        if kind != "OK":
            words = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise MailboxError(f"IMAP {what} refused: {' '.join(words.split())[:200]}")
        return data

    def _call(self, command: str, *args: str) -> list:
        try:
            return self._check(command, self.imap.uid(command, *args))
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            raise MailboxError(f"IMAP {command} failed: {_reason(exc)}") from None

    def highest_uid(self) -> int:
        try:
            data = self._check(
                "STATUS", self.imap.status(_quoted(self.settings.folder), "(UIDNEXT MESSAGES)")
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP STATUS failed: {_reason(exc)}") from None
        found = re.search(rb"UIDNEXT (\d+)", data[0] or b"")
        return int(found.group(1)) - 1 if found else 0

    def to_read(self) -> Iterator[list[int]]:
        """UIDs not yet left for people, a window at a time (memory stays bounded)."""
        top = self.highest_uid()
        for low in range(1, top + 1, UID_WINDOW):
            high = min(low + UID_WINDOW - 1, top)
            data = self._call("SEARCH", f"UID {low}:{high}", "NOT", "KEYWORD", LEFT)
            uids = sorted(int(u) for u in (data[0] or b"").split())
            if uids:
                yield uids

    def sizes(self, uids: list[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for line in self._call("FETCH", _uid_set(uids), "(RFC822.SIZE)"):
            text = line if isinstance(line, bytes) else b""
            uid, size = _UID.search(text), _SIZE.search(text)
            if uid and size:
                found[int(uid.group(1))] = int(size.group(1))
        return found

    def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """The messages' bytes, without marking them \\Seen (BODY.PEEK)."""
        found: list[tuple[int, bytes]] = []
        for item in self._call("FETCH", _uid_set(uids), "(BODY.PEEK[])"):
            if isinstance(item, tuple) and len(item) == 2:
                uid = _UID.search(item[0])
                if uid:
                    found.append((int(uid.group(1)), item[1]))
        return found

    def batches(self, uids: list[int]) -> Iterator[tuple[list[tuple[int, bytes]], list[int]]]:
        """(fetched messages, UIDs too large to fetch), batch by batch."""
        sizes = self.sizes(uids)
        batch: list[int] = []
        held = 0
        for uid in uids:
            size = sizes.get(uid)
            if size is None:  # gone meanwhile (another reader moved it)
                continue
            if size > MAX_MESSAGE_BYTES:
                yield [], [uid]
                continue
            if batch and (held + size > BATCH_BYTES or len(batch) >= BATCH_COUNT):
                yield self.fetch(batch), []
                batch, held = [], 0
            batch.append(uid)
            held += size
        if batch:
            yield self.fetch(batch), []

    def move(self, uids: list[int]) -> None:
        """To the processed folder. A UID another reader moved first is not an error:
        the server answers EXPUNGEISSUED (RFC 5530) when another session expunged
        messages meanwhile; this session then takes note (NOOP) and moves each one still
        here on its own."""
        if not uids:
            return
        target = _quoted(self.settings.processed_folder)
        try:
            self._call("MOVE", _uid_set(uids), target)
        except MailboxError as refused:
            if "EXPUNGEISSUED" not in str(refused):
                raise
            self.imap.noop()
            for uid in uids:
                try:
                    self._call("MOVE", str(uid), target)
                except MailboxError as again:
                    if "EXPUNGEISSUED" not in str(again):
                        raise

    def leave(self, uids: list[int]) -> None:
        """Left where it is for people; the keyword keeps the next run from fetching it."""
        if uids:
            self._call("STORE", _uid_set(uids), "+FLAGS.SILENT", f"({LEFT})")

    def append(self, data: bytes, folder: str | None = None) -> None:
        """Put a message in (tests feed the mailbox this way)."""
        target = _quoted(folder or self.settings.folder)
        self._check("APPEND", self.imap.append(target, None, None, data))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
