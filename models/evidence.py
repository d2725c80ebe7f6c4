"""govcal's own evidence store: files named as evidence are copied in, by content.

Evidence paths end up in the audit trail, the dashboard and the evidence pack, so a
person may only name a file that lies under one configured folder (the evidence inbox,
`GOVCAL_EVIDENCE_FOLDER`, default `data/evidence-inbox`). The file is then copied into
`data/evidence/<sha256[:2]>/<sha256>/<name>` and made read-only for govcal's user alone
(0400 in 0700 folders): what was recorded cannot change afterwards, and a later edit or
deletion of the original does not alter the record. Where several workers run on separate
machines, `GOVCAL_EVIDENCE_STORE_URL` names one store they all reach (any fsspec URL:
`s3://bucket/evidence` with s3fs installed, or a folder every machine mounts); the record
then holds the copy's URL, and every worker reads the same bytes back, checked against the
digest in their name. System files, hidden files, links
leading out of the inbox, hard links (another name of a file that may lie anywhere, such
as /etc/shadow), devices, folders and oversized files are refused, each with one line;
nothing else on the machine can be named as evidence.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcal.models.private import READ_ONLY, private_folder
from govcal.rules.errors import Refused

MAX_BYTES = 50 * 1024 * 1024  # a large PDF of minutes or an audit return
_SYSTEM = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/run",
)


class EvidenceRefused(Refused):
    """The file cannot be taken as evidence; the message says why and what to do."""


def is_system_path(path: Path) -> bool:
    text = str(path)
    return any(text == root or text.startswith(root + "/") for root in _SYSTEM)


def _hard_link(text: str) -> str:
    return (
        f"evidence '{text}' is a hard link (the file has other names, perhaps outside the "
        "evidence folder); copy the document into the folder instead"
    )


@dataclass(frozen=True)
class EvidenceStore:
    """Where evidence files may come from (`inbox`) and where copies are kept (`root`)."""

    root: Path
    inbox: Path
    max_bytes: int = MAX_BYTES
    url: str | None = None  # an fsspec URL every worker reaches; None: the folder `root`

    @classmethod
    def configured(cls, settings: Any) -> EvidenceStore:
        """The store the settings describe (GOVCAL_DATA_DIR, GOVCAL_EVIDENCE_FOLDER,
        GOVCAL_EVIDENCE_STORE_URL)."""
        return cls(
            root=settings.evidence_store_dir,
            inbox=settings.effective_evidence_folder,
            url=settings.evidence_store_url,
        )

    @property
    def base(self) -> str:
        """What every recorded copy of this store starts with (a path or a URL)."""
        return (self.url or str(self.root)).rstrip("/")

    def _local(self, location: str) -> Path | None:
        """The file on this machine a location names, when the store is a folder here."""
        if self.url is None:
            return Path(location)
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(location)
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
        return Path(path) if "file" in protocols else None

    def source(self, text: str) -> Path:
        """The checked, resolved file a person named; relative names are read from the
        inbox. Refuses anything outside the inbox, so no other file can be named."""
        named = Path(text).expanduser()
        inbox = self.inbox.resolve()
        if inbox == Path(inbox.anchor) or is_system_path(inbox) or inbox == Path.home():
            raise EvidenceRefused(
                f"the evidence folder {inbox} would expose the whole machine or a home folder; "
                "set GOVCAL_EVIDENCE_FOLDER to a folder kept for evidence"
            )
        candidate = named if named.is_absolute() else inbox / named
        if ".." in named.parts:
            raise EvidenceRefused(
                f"evidence path '{text}' may not contain '..'; give a direct path"
            )
        if is_system_path(Path(os.path.abspath(candidate))) or is_system_path(candidate.resolve()):
            raise EvidenceRefused(
                f"evidence '{text}' is a system file; copy the document into {inbox} or give "
                "an https:// link"
            )
        where = f"evidence files must lie under {inbox} (GOVCAL_EVIDENCE_FOLDER)"
        if not Path(os.path.abspath(candidate)).is_relative_to(inbox):
            raise EvidenceRefused(f"evidence '{text}' is outside the evidence folder: {where}")
        real = candidate.resolve()
        if not real.is_relative_to(inbox):
            raise EvidenceRefused(
                f"evidence '{text}' is a link to a file outside the evidence folder; {where}"
            )
        if any(part.startswith(".") for part in real.relative_to(inbox).parts):
            raise EvidenceRefused(f"evidence '{text}' is a hidden file; give the document itself")
        try:
            info = real.stat()
        except OSError:
            raise EvidenceRefused(
                f"evidence '{text}' is neither an http(s) link nor an existing file; {where}"
            ) from None
        if stat.S_ISDIR(info.st_mode):
            raise EvidenceRefused(f"evidence '{text}' is a folder; name one file in it")
        if not stat.S_ISREG(info.st_mode):
            raise EvidenceRefused(f"evidence '{text}' is a device or pipe, not a document")
        if info.st_nlink > 1:
            raise EvidenceRefused(_hard_link(text))
        if info.st_size > self.max_bytes:
            raise EvidenceRefused(
                f"evidence '{text}' is {info.st_size // (1024 * 1024)} MB; the limit is "
                f"{self.max_bytes // (1024 * 1024)} MB: link to it instead"
            )
        return real

    def add(self, text: str) -> tuple[str, bool]:
        """Copy a named file into the store (once per content); where the copy is (a path
        or a URL), and whether this call created it."""
        real = self.source(text)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise EvidenceRefused(f"evidence '{text}' cannot be read: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())  # the file opened is the file checked
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_bytes:
                raise EvidenceRefused(f"evidence '{text}' changed while being read; try again")
            if info.st_nlink > 1:
                raise EvidenceRefused(_hard_link(text))
            data = handle.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise EvidenceRefused(f"evidence '{text}' grew beyond the limit while being read")
        digest = hashlib.sha256(data).hexdigest()
        location = f"{self.base}/{digest[:2]}/{digest}/{real.name}"
        local = self._local(location)
        if local is None:
            return self._put(location, data)
        copy = local
        folder = copy.parent
        if copy.exists():
            return location, False
        for level in (folder.parent.parent, folder.parent, folder):
            private_folder(level)
        partial = folder / f".{real.name}.{os.getpid()}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, READ_ONLY)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        partial.replace(copy)
        return location, True

    def _put(self, location: str, data: bytes) -> tuple[str, bool]:
        """One object per content in a remote store: a put is whole or absent."""
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(location)
        if fs.exists(path):
            return location, False
        fs.pipe_file(path, data)
        return location, True

    def read(self, location: str) -> bytes:
        """The bytes of a recorded copy, from whichever worker asks; refused when the
        location lies outside this store or the bytes no longer match their digest."""
        if not location.startswith(self.base + "/"):
            raise EvidenceRefused(
                f"evidence '{location}' was kept in another store than {self.base}; set "
                "GOVCAL_EVIDENCE_STORE_URL to the store every worker shares"
            )
        parts = location[len(self.base) + 1 :].split("/")
        if len(parts) != 3 or ".." in parts or parts[1][:2] != parts[0]:
            raise EvidenceRefused(f"evidence '{location}' is not a copy govcal made")
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(location)
        try:
            data = bytes(fs.cat_file(path))
        except FileNotFoundError:
            raise EvidenceRefused(
                f"evidence '{location}' is missing from the store; restore the store from its "
                "backup"
            ) from None
        if hashlib.sha256(data).hexdigest() != parts[1]:
            raise EvidenceRefused(
                f"evidence '{location}' no longer matches what was recorded; restore it from "
                "the store's backup"
            )
        return data

    def discard(self, location: str) -> None:
        """Remove a copy this process just added for a record that was then refused."""
        if not location.startswith(self.base + "/"):
            return
        copy = self._local(location)
        if copy is None:
            from fsspec.core import url_to_fs

            fs, path = url_to_fs(location)
            fs.rm_file(path)
            return
        copy.unlink(missing_ok=True)
        for folder in (copy.parent, copy.parent.parent):
            try:
                folder.rmdir()
            except OSError:
                break
