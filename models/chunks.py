"""One way to split long id lists for `IN (...)` queries and bulk writes.

SQLite limits bound parameters per statement and PostgreSQL plans long IN lists badly,
so every query over an unbounded set of ids goes through `chunks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

IN_LIST = 500  # ids per IN (...) list: well under SQLite's parameter limit


def chunks(items: Iterable[T], size: int = IN_LIST) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items (none for an empty input)."""
    seq = items if isinstance(items, Sequence) else list(items)
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
