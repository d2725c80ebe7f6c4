"""Read YAML into plain data while remembering the line of every value.

Error messages must name the line a problem is on, so we compose the YAML node tree
ourselves instead of letting a loader build objects. Scalars stay strings unless YAML
says int, float, bool or null: dates are validated later, so that "2025-02-30" becomes
one clear error among others rather than a crash of the whole load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class SourceProblem:
    line: int
    message: str


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """The line of the deepest known node on `path` (1-based)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


_TAG = "tag:yaml.org,2002:"


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag.removeprefix(_TAG)
    value = node.value
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


def _build(node: yaml.Node, path: Path, doc: YamlDocument) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*path, i), doc) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node)) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                doc.problems.append(
                    SourceProblem(key_node.start_mark.line + 1, "a key must be a plain word")
                )
                continue
            if key in out:
                doc.problems.append(
                    SourceProblem(
                        key_node.start_mark.line + 1,
                        f"key '{key}' appears twice in the same block (first on line "
                        f"{doc.lines[(*path, key)]}); keep one",
                    )
                )
                continue
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), doc)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    return None  # pragma: no cover - aliases are resolved by compose


# libyaml when installed (PyYAML's wheels carry it): ten times faster on 150 files, and
# its nodes carry the same line marks
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; syntax errors become problems with their line."""
    doc = YamlDocument(data=None)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        doc.problems.append(
            SourceProblem(line, f"YAML syntax error: {exc.problem}; check indentation and quotes")
        )
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(SourceProblem(1, f"YAML error: {exc}"))
        return doc
    if node is None:
        doc.problems.append(SourceProblem(1, "the file is empty; expected a partnership"))
        return doc
    doc.data = _build(node, (), doc)
    return doc
