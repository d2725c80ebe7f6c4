"""One problem type for every file a user writes (rule files, directory CSVs).

Like a compiler's: file, line, what is wrong and what to do, printed as
`file:line: message`, and all of them reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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
