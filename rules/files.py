"""Finding and reading rule files: the only part of rules/ that touches the disk.

Whatever sits in a rules folder (a folder named x.yaml, a pipe, a 2 GB file, a binary)
becomes one `file:line:` problem, never a traceback, a hang or a memory spike.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from govcal.rules.problems import Problem
from govcal.rules.yamlsource import MAX_CHARS

# UTF-8 takes at most 4 bytes a character: anything bigger cannot be a valid rule file
MAX_BYTES = 4 * MAX_CHARS


def display_path(path: Path) -> str:
    """A path as a user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their *.yaml files, in a stable order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir() and path.suffix not in (".yaml", ".yml"):
            out.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            out.append(path)
    return out


def read_rule_file(path: Path, label: str) -> tuple[str | None, Problem | None]:
    """The file's text, or the one problem that stops it being read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None, Problem(label, 0, "file not found; check the path")
    except OSError as exc:
        return None, Problem(label, 0, f"cannot be read ({exc.strerror}); check the path")
    if stat.S_ISDIR(info.st_mode):
        return None, Problem(
            label, 0, "is a folder, not a rule file; rename it or move it out of the rules folder"
        )
    if not stat.S_ISREG(info.st_mode):
        return None, Problem(label, 0, "is not a regular file (a pipe or device?); remove it")
    if info.st_size > MAX_BYTES:
        return None, Problem(
            label,
            0,
            f"is {info.st_size:,} bytes; a rule file is at most {MAX_BYTES:,}: check it is "
            "the right file",
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return None, Problem(label, 0, f"cannot be read ({exc.strerror}); check permissions")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, Problem(label, 0, f"not UTF-8 text ({exc.reason}); save as UTF-8")
