"""Sources and references in words: pure helpers over a partnership's declared texts.

A rule cites its source tersely (`004 "Joint Lead Safeguarding Partners Meeting"`);
messages and the dashboard quote it in words, using the titles the partnership file
gives its documents once under `documents:`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

# an incident reference is typed by a person: anything longer is refused before matching,
# so a pattern can never be made to backtrack over a long string
MAX_REFERENCE_LENGTH = 64


@lru_cache(maxsize=256)
def _keys_pattern(keys: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keys:
        return None
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w.])")


def source_in_words(source: str, documents: Mapping[str, str]) -> str:
    """`source` with each document key replaced by its title, e.g.
    `004 "Independent Scrutiny"` -> `Westmorland and Furness Safeguarding Children
    Partnership arrangements, 2025, "Independent Scrutiny"`. Unknown keys stay as written.
    """
    text = " ".join(source.split())
    pattern = _keys_pattern(tuple(documents))
    if pattern is None:
        return text

    def title(match: re.Match[str]) -> str:
        rest = text[match.end() :]
        sep = "," if rest[:1] == " " and rest[1:2] in ('"', "(") else ""
        return documents[match.group(0)] + sep

    return pattern.sub(title, text)


def compile_reference_pattern(pattern: str) -> re.Pattern[str]:
    """The pattern an incident reference must match in full; raises re.error if invalid."""
    return re.compile(pattern)


def reference_matches(reference: str, pattern: str | None) -> bool:
    """Whether `reference` fits `pattern` (whole string); no pattern accepts any reference."""
    if len(reference) > MAX_REFERENCE_LENGTH:
        return False
    if pattern is None:
        return True
    return compile_reference_pattern(pattern).fullmatch(reference) is not None
