"""Problems of meaning, placed where the user wrote the value.

The header, the roles, the ladder and each obligation are built by separate modules,
and all of them find problems against a path in the YAML data (`("obligations", 3,
"owner")`). This one collector turns such a path into the `file:line:` the user must
open (a value grafted from a statutory baseline names the baseline's file), so no
builder needs to know about files, lines or overlays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from govcal.rules.problems import Problem
from govcal.rules.yamlsource import Path as DataPath
from govcal.rules.yamlsource import YamlDocument

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # partnership, role and rule ids


class Report:
    """Every problem found while building one rule file, in the order found."""

    def __init__(self, label: str, doc: YamlDocument):
        self.label = label
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: DataPath, message: str) -> None:
        """A problem with the value at `path`, reported at its file and line."""
        file = self.doc.file_of(path) or self.label
        self.problems.append(Problem(file, self.doc.line_of(path), message))

    def extend(self, problems: Iterable[Problem]) -> None:
        """Problems already placed (the wording of a shape error, for instance)."""
        self.problems.extend(problems)

    def where(self, path: DataPath) -> str:
        """`file:line` of `path` for a message that points elsewhere ("first on ...")."""
        file = self.doc.file_of(path)
        line = self.doc.line_of(path)
        return f"{file}:{line}" if file else f"line {line}"

    def __len__(self) -> int:
        return len(self.problems)
