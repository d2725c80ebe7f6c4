"""Read YAML into plain data while remembering the line of every value.

Error messages must name the line a problem is on, so we build the data ourselves from
the parser's events instead of letting a loader build objects. Scalars stay strings
unless YAML says int, float, bool or null: dates are validated later, so that
"2025-02-30" becomes one clear error among others rather than a crash of the whole load.

A rule file can never hurt the service: the build is iterative (no recursion, so deep
nesting cannot overflow a stack), aliases are refused (an 858-byte "billion laughs"
file would otherwise expand to gigabytes), and depth and size are bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from govcal.rules.problems import Problem
from govcal.rules.text import file_text_problem

Path = tuple[str | int, ...]

MAX_CHARS = 1_000_000  # the largest shipped file is about 25 kB
MAX_DEPTH = 32  # a rule file nests five levels deep
MAX_VALUES = 200_000


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)  # values grafted from another file

    def file_of(self, path: Path) -> str:
        """The file the deepest known node on `path` came from ("" for this document)."""
        path = tuple(path)
        while path:
            if path in self.files:
                return self.files[path]
            if path in self.lines:
                return ""
            path = path[:-1]
        return ""

    def line_of(self, path: Path) -> int:
        """The line of the deepest known node on `path` (1-based)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


_TAG = "tag:yaml.org,2002:"
_RESOLVER = yaml.resolver.Resolver()


def _scalar(event: yaml.ScalarEvent) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        # untyped in PyYAML's stubs
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    tag = tag.removeprefix(_TAG)
    value = event.value
    if tag == "null":
        return None
    if tag == "bool":
        return value.lower() in ("true", "yes", "on")
    if tag == "int":
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return value
    if tag == "float":
        try:
            return float(value.replace("_", ""))
        except ValueError:
            return value
    return value


class _Skip:
    """Marks a mapping whose next value is dropped (its key was a duplicate)."""


_SKIP = _Skip()


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any] | None  # None: a dropped value's contents
    path: Path
    key: str | _Skip | None = None  # mappings: the key awaiting its value


class _StopBuild(Exception):
    """The file cannot be read safely; the problem is already recorded."""


class _Builder:
    def __init__(self, doc: YamlDocument):
        self.doc = doc
        self.stack: list[_Frame] = []
        self.root: Any = _SKIP
        self.values = 0

    def stop(self, line: int, message: str) -> None:
        self.doc.problems.append(Problem("", line, message))
        raise _StopBuild

    def place(self, value: Any, line: int) -> tuple[Path, bool]:
        """Put `value` where the parser is; returns its path and whether it was kept."""
        self.values += 1
        if self.values > MAX_VALUES:
            self.stop(line, f"the file holds more than {MAX_VALUES} values; split it")
        if not self.stack:
            self.root = value
            self.doc.lines[()] = line
            return (), True
        frame = self.stack[-1]
        if frame.container is None:
            return frame.path, False
        if isinstance(frame.container, list):
            path = (*frame.path, len(frame.container))
            frame.container.append(value)
            self.doc.lines[path] = line
            return path, True
        if frame.key is None:
            return self.key(frame, value, line)
        if isinstance(frame.key, _Skip):
            frame.key = None
            return frame.path, False
        path = (*frame.path, frame.key)
        frame.container[frame.key] = value
        frame.key = None
        return path, True

    def key(self, frame: _Frame, value: Any, line: int) -> tuple[Path, bool]:
        if isinstance(value, dict | list):
            self.stop(line, "a key must be a plain word")
        key = str(value)
        path = (*frame.path, key)
        assert isinstance(frame.container, dict)
        if key in frame.container:
            self.doc.problems.append(
                Problem(
                    "",
                    line,
                    f"key '{key}' appears twice in the same block (first on line "
                    f"{self.doc.lines[path]}); keep one",
                )
            )
            frame.key = _SKIP
        else:
            self.doc.lines[path] = line
            frame.key = key
        return path, False

    def open(self, container: dict[str, Any] | list[Any], line: int) -> None:
        if len(self.stack) >= MAX_DEPTH:
            self.stop(line, f"values nest more than {MAX_DEPTH} levels deep; a rule file needs 5")
        path, kept = self.place(container, line)
        self.stack.append(_Frame(container if kept else None, path))

    def feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 0  # the parser sets it
        if isinstance(event, yaml.ScalarEvent):
            value = _scalar(event)
            problem = file_text_problem(value) if isinstance(value, str) else None
            if problem:
                self.doc.problems.append(Problem("", line, problem))
            self.place(value, line)
        elif isinstance(event, yaml.MappingStartEvent):
            self.open({}, line)
        elif isinstance(event, yaml.SequenceStartEvent):
            self.open([], line)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self.stack.pop()
        elif isinstance(event, yaml.AliasEvent):
            self.stop(
                line,
                f"alias '*{event.anchor}' is not allowed in a rule file; write the value out",
            )
        elif isinstance(event, yaml.DocumentStartEvent) and self.root is not _SKIP:
            self.stop(line, "a rule file holds one YAML document; remove the second '---'")


# libyaml when installed (PyYAML's wheels carry it): ten times faster on 150 files, and
# its events carry the same line marks
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and unsafe shapes become problems."""
    doc = YamlDocument(data=None)
    if len(text) > MAX_CHARS:
        doc.problems.append(
            Problem(
                "",
                1,
                f"the file is {len(text):,} characters; a rule file is at most "
                f"{MAX_CHARS:,}: split it or check it is the right file",
            )
        )
        return doc
    builder = _Builder(doc)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            builder.feed(event)
    except _StopBuild:
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        doc.problems.append(
            Problem("", line, f"YAML syntax error: {exc.problem}; check indentation and quotes")
        )
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(Problem("", 1, f"YAML error: {exc}"))
        return doc
    if builder.root is _SKIP:
        doc.problems.append(Problem("", 1, "the file is empty; expected a partnership"))
        return doc
    doc.data = builder.root
    return doc
