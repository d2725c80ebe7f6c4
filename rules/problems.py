"""One problem type for every file a user writes (rule files, directory CSVs).

Like a compiler's: file, line, what is wrong and what to do, printed as
`file:line: message`, and all of them reported at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from govcal.rules.errors import GovcalError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file: where (`file`, 1-based `line`, 0 for the whole file)
    and what, in a message that says what to do."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def in_file(self, file: str) -> Problem:
        """The same problem, named against `file` (parsers know lines, not file names)."""
        return replace(self, file=file)


class RuleFileError(GovcalError):
    """One or more rule files are invalid; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the rule files; nothing was loaded"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))
