"""The partnerships as the rule files last loaded, kept between commands.

Loading the rule files (YAML with line numbers, pydantic shapes, rrule checks, the
statutory baseline) costs about 0.15 s, half of what `govcal plan` may take. Its result
depends only on what is read here, so a command that finds a copy made from exactly the
same inputs uses that instead: the rule files' names and text (every entry of a rules
folder), the statutory baselines, the source of rules/, the installed packages (each
site-packages folder's modification time), the Python version and the working folder
(files are named relative to it). Anything else loads the files again and replaces the
copy. The bank holidays of every supported year (rules/workdays.py) are kept with the
partnerships, from the same installed packages: a command that reads the copy need not
import the holidays package (0.03 s). Only a load without problems is kept: a file with
problems is read and reported on every run. The copy lives in the data folder
(`cache/`), written atomically; one that cannot be read or written is ignored, never an
error. A copy is private to whoever runs
govcal (folder 0700, file 0600) and one that someone else owns or could have written is
not read (unpickling runs code), but loaded again from the files. The caller names the
rule files and the data folder (flows/runtime.py, govcal/cli/common.py): nothing here
reads the settings.

A run (`running`) does not stop for one broken file: each file's last good version is
kept too (`last-good-*.pickle`), and a partnership whose file has problems runs on it,
with the problems said; the other partnerships run as normal.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import govcal.rules
from govcal.rules import workdays
from govcal.rules.problems import RuleFileError

if TYPE_CHECKING:
    from govcal.rules.model import Partnership
    from govcal.rules.problems import Problem

RULES_SOURCE = Path(govcal.rules.__file__).resolve().parent
SHIPPED = RULES_SOURCE / "partnerships"  # what rules.loader reads when given no paths
FORMAT = b"govcal-rules-2"  # 2: the bank holidays are kept too
_KEEP = 8
_KEEP_GOOD = 1000  # one a rule file: a national run has about 160
_LARGEST = 16 * 1024 * 1024  # bigger than any rule file the loader accepts: not read here
_loaded: dict[str, list[Partnership]] = {}  # by key: one read per process


def load_partnerships(paths: Iterable[Path] | None, cache_dir: Path | None) -> list[Partnership]:
    """As rules.loader.load_partnerships (which raises RuleFileError), from the copy in
    `cache_dir` when one was made from the same inputs."""
    given = list(paths) if paths is not None else None
    key = _key(given)
    if key in _loaded:
        return list(_loaded[key])
    found = _read(cache_dir, key) if cache_dir else None
    if found is None:
        from govcal.rules.loader import load_partnerships as parse

        found = parse(given)
        if cache_dir:
            _write(cache_dir, key, found)
            for p in found:  # parsed without problems: each file's last good version
                _keep_good(cache_dir, p)
    _loaded[key] = found
    return list(found)


@dataclass
class Broken:
    """A rule file with problems, and the partnership that runs on its last good version
    instead (None: no good version was ever loaded here, so nothing of it runs)."""

    label: str
    problems: list[Problem]
    fallback: Partnership | None

    def lines(self) -> list[str]:
        """What the operator and the business team are told: each problem, then what
        govcal does about it."""
        if self.fallback is not None:
            then = (
                f"{self.fallback.id} keeps running on the last good version of {self.label} "
                "until the file is fixed (`govcal rules check` shows every problem)"
            )
        else:
            then = (
                f"nothing in {self.label} runs until it is fixed (no good version of it was "
                "ever loaded here); `govcal rules check` shows every problem"
            )
        return [str(p) for p in self.problems] + [then]


@dataclass
class Running:
    """The partnerships a run works on, and the rule files it could not read."""

    partnerships: list[Partnership]
    broken: list[Broken] = field(default_factory=list)


def running(paths: Iterable[Path] | None, cache_dir: Path | None) -> Running:
    """The partnerships for a run: every good file as it is, a broken file's partnership
    as it last loaded without problems. Never raises for a rule file's problems."""
    given = list(paths) if paths is not None else None
    try:
        found = load_partnerships(given, cache_dir)
    except RuleFileError:
        pass
    else:
        return Running(found)
    from govcal.rules.loader import load_each

    out, broken = [], []
    for loaded in load_each(given):
        if loaded.partnership is not None:
            out.append(loaded.partnership)
            if cache_dir:
                _keep_good(cache_dir, loaded.partnership)
            continue
        fallback = _last_good(cache_dir, loaded.label) if cache_dir else None
        if fallback is not None and any(p.id == fallback.id for p in out):
            fallback = None  # another file now holds that partnership
        if fallback is not None:
            out.append(fallback)
        broken.append(Broken(loaded.label, list(loaded.problems), fallback))
    return Running(out, broken)


def _good_key(label: str) -> str:
    """A file's last good version, by its name and the code that reads it (a copy made
    by other code is not used)."""
    digest = hashlib.sha256(_code_digest().encode())
    for part in (os.getcwd(), label):
        digest.update(part.encode("utf-8", "replace") + b"\n")
    return digest.hexdigest()


@cache
def _code_digest() -> str:
    digest = hashlib.sha256(FORMAT + b"last-good\n" + sys.version.encode())
    for name in sorted(os.listdir(RULES_SOURCE)):
        if name.endswith(".py"):
            digest.update(name.encode() + (RULES_SOURCE / name).read_bytes())
    return digest.hexdigest()


def _keep_good(cache_dir: Path, partnership: Partnership) -> None:
    _write(cache_dir, _good_key(partnership.source_file), [partnership], "last-good")


def _last_good(cache_dir: Path, label: str) -> Partnership | None:
    found = _read(cache_dir, _good_key(label), "last-good")
    return found[0] if found else None


def _key(paths: list[Path] | None) -> str:
    digest = hashlib.sha256(FORMAT)

    def add(*parts: object) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode("utf-8", "replace")
            digest.update(len(data).to_bytes(8, "little") + data)

    def add_file(path: Path) -> None:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _LARGEST:
            add("not read", info.st_mode, info.st_size, info.st_mtime_ns)  # a pipe, a 2 GB file
        else:
            add(path.read_bytes())

    def add_entry(path: Path) -> None:
        add(path)
        try:
            if path.is_dir():
                names = sorted(os.listdir(path))
                add("dir", *names)
                for name in names:
                    if name.endswith((".yaml", ".yml", ".py")):
                        add(name)
                        add_file(path / name)
            else:
                add_file(path)
        except OSError as exc:  # the loader reports it; the key just differs
            add("unreadable", type(exc).__name__)

    add(sys.version, os.getcwd())
    for folder in sys.path:
        if folder.endswith(("site-packages", "dist-packages")):
            try:
                add(folder, os.stat(folder).st_mtime_ns)
            except OSError:
                add(folder, "missing")
    add_entry(RULES_SOURCE)
    add_entry(RULES_SOURCE / "statutory")
    for path in paths if paths is not None else [SHIPPED]:
        add_entry(Path(path))
    return digest.hexdigest()


def _file(cache_dir: Path, key: str, kind: str = "rules") -> Path:
    return cache_dir / f"{kind}-{key[:32]}.pickle"


def _private(info: os.stat_result) -> bool:
    """Owned by whoever runs govcal and writable by nobody else: a copy someone else
    could have written is never unpickled (unpickling can run code)."""
    getuid = getattr(os, "getuid", None)
    mine = getuid is None or info.st_uid == getuid()
    return mine and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(cache_dir: Path, key: str, kind: str = "rules") -> list[Partnership] | None:
    try:
        if not _private(cache_dir.stat()):
            return None
        fd = os.open(_file(cache_dir, key, kind), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or not _private(info):
                return None
            data = handle.read()
    except OSError:
        return None
    head, _, body = data.partition(b"\n")
    if head != key.encode():
        return None
    try:
        found, holidays = pickle.loads(body)  # written by govcal, in its own data folder
    except Exception:  # a copy from other code (a class since renamed): load again
        return None
    if not (isinstance(found, list) and isinstance(holidays, dict)):
        return None
    workdays.remember(holidays)
    return found


def _write(cache_dir: Path, key: str, partnerships: list[Partnership], kind: str = "rules") -> None:
    target = _file(cache_dir, key, kind)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        stored = (partnerships, workdays.bank_holidays())
        body = key.encode() + b"\n" + pickle.dumps(stored, protocol=5)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(partial, target)
        kept = sorted(cache_dir.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime_ns)
        keep = _KEEP if kind == "rules" else _KEEP_GOOD  # commands run from several folders
        for old in kept[:-keep]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        with suppress(OSError):  # a read-only or full data folder: load again next time
            partial.unlink(missing_ok=True)
