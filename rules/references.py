"""Is a typed incident reference a case reference, or a child's name or date of birth?

An incident is recorded by its case-management reference only ("SI-2026-014",
"WF/LCSPR/26/003"); the reference then appears in emails, feeds and dashboards. People
under pressure type what they know: "J.S.", "john-smith-2015", "JS-01.02.2015". This
module refuses what reads as a name (words, initials with dots) or as a date of birth
(a day, month and year in any common order, with or without separators), whatever the
partnership's own pattern allows. Pure: no I/O. The refusal message never repeats the
value: it may identify a child.
"""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise

from govcal.rules.errors import Refused
from govcal.rules.sources import reference_matches

SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{1,39}$")
_LETTER_RUN = re.compile(r"[A-Za-z]+")
_DIGIT_RUN = re.compile(r"\d+")
_INITIAL = re.compile(r"[A-Za-z]\.")
_VOWELS = set("AEIOUY")
EXAMPLE = "SI-2026-014"
# Letter groups that are reference prefixes, not names. A partnership with another local
# prefix writes it literally in its `incident_reference` pattern (e.g. 'TOR-\d{4}-\d{3}').
KNOWN_PREFIXES = frozenset(
    {
        "SI",
        "LCSPR",
        "RR",
        "CSPR",
        "CDOP",
        "SCR",
        "SAR",
        "SUI",
        "LA",
        "WF",
        "CS",
        "CP",
        "CPR",
        "CSE",
        "LADO",
        "MASH",
        "ICPC",
        "RCPC",
        "DHR",
        "LSCP",
        "LSCB",
        "NSPCC",
        "CIN",
        "SILP",
    }
)
_PATTERN_NOISE = re.compile(r"\\.|\[[^\]]*\]|\{[^}]*\}|\(\?[A-Za-z]*")
_YEAR = re.compile(r"^(19|20)\d\d$")


class ReferenceRefused(Refused):
    """The reference reads as identifying detail; the message does not repeat it."""


def _is_day(day: int, month: int, year: int) -> bool:
    if year < 100:
        year += 2000 if year <= 50 else 1900
    if not 1900 <= year <= 2100:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _reads_as_date(numbers: list[str]) -> bool:
    """Day, month and year in any common order (d m y, m d y, y m d)."""
    if len(numbers) != 3:
        return False
    a, b, c = numbers
    day_first = len(a) <= 2 and len(b) <= 2 and len(c) in (2, 4)
    if day_first and (_is_day(int(a), int(b), int(c)) or _is_day(int(b), int(a), int(c))):
        return True
    return len(a) == 4 and len(b) <= 2 and len(c) <= 2 and _is_day(int(c), int(b), int(a))


def _split_run(run: str) -> list[list[str]]:
    """The ways a run of 6 or 8 digits splits into a day, month and year."""
    if len(run) == 6:
        return [[run[0:2], run[2:4], run[4:6]], [run[0:2], run[2:4], run[4:6]][::-1]]
    if len(run) == 8:
        return [[run[0:2], run[2:4], run[4:8]], [run[0:4], run[4:6], run[6:8]]]
    return []


def _year_beside_month_day(runs: list[str]) -> bool:
    """A year next to a four-digit group that reads as MMDD or DDMM ("2015-0304")."""
    for year, group in pairwise(runs):
        for y, g in ((year, group), (group, year)):
            if _YEAR.match(y) and len(g) == 4:
                first, second = int(g[:2]), int(g[2:])
                if _is_day(second, first, int(y)) or _is_day(first, second, int(y)):
                    return True
    return False


def looks_like_date_of_birth(reference: str) -> bool:
    """Whether any digits in the reference read as a full date."""
    runs = _DIGIT_RUN.findall(reference)
    for run in runs:
        if any(_reads_as_date(parts) for parts in _split_run(run)):
            return True
    if _year_beside_month_day(runs):
        return True
    return any(_reads_as_date(runs[i : i + 3]) for i in range(len(runs) - 2))


def local_prefixes(pattern: str | None) -> frozenset[str]:
    """Letter groups written literally in a partnership's `incident_reference` pattern."""
    if not pattern:
        return frozenset()
    literal = _PATTERN_NOISE.sub(" ", pattern)
    return frozenset(run.upper() for run in _LETTER_RUN.findall(literal))


def looks_like_a_name(reference: str, pattern: str | None = None) -> str | None:
    """What in the reference reads as a name, or None. Any group of three or more letters
    with a vowel may be a first name ("TOM", "ANN") unless it is a known reference prefix
    or one the partnership's own pattern names literally."""
    if _INITIAL.search(reference):
        return "initials with dots"
    allowed = KNOWN_PREFIXES | local_prefixes(pattern)
    for run in _LETTER_RUN.findall(reference):
        upper = run.upper()
        if len(run) >= 3 and _VOWELS & set(upper) and upper not in allowed:
            return "a word or name"
    if not any(ch.isdigit() for ch in reference):
        return "letters only"
    return None


def check_reference(reference: str, pattern: str | None = None) -> None:
    """Refuse a reference that is not a case reference, or that does not fit the
    partnership's own pattern (`incident_reference` in its rule file), if it has one."""
    value = reference or ""
    hint = (
        f"use the case-management reference only (e.g. {EXAMPLE}), never a child's name, "
        "initials or date of birth"
    )
    if not SHAPE.match(value):
        raise ReferenceRefused(
            "the incident reference given is not accepted (not shown here): letters, digits, "
            f"'-', '/', '_' and '.', 2 to 40 characters, no spaces; {hint}"
        )
    if (why := looks_like_a_name(value, pattern)) is not None:
        raise ReferenceRefused(
            f"the incident reference given is not accepted (not shown here): it contains "
            f"{why} (a local prefix is accepted when the partnership's incident_reference "
            f"pattern names it); {hint}"
        )
    if looks_like_date_of_birth(value):
        raise ReferenceRefused(
            "the incident reference given is not accepted (not shown here): its digits read "
            f"as a date, possibly a date of birth; {hint}"
        )
    if not reference_matches(value, pattern):
        raise ReferenceRefused(
            "the incident reference given is not accepted (not shown here): it does not "
            f"follow the partnership's reference format {pattern} (incident_reference in "
            "its rule file); use the case-management reference only"
        )


def form_pattern(partnership_patterns: list[str | None]) -> str:
    """A pattern for the Prefect form's JSON schema, so the UI and the server refuse a
    name before a run (and its stored parameters) exists: 2 to 40 characters, at least
    one digit, groups of digits after a known prefix (or the partnerships' own, or one or
    two letters) joined by - / _ . ; no spaces, no word that is not a prefix. Portable
    regex (JSON Schema and JavaScript read it alike). The heuristics still run after it."""
    prefixes = KNOWN_PREFIXES.union(*(local_prefixes(p) for p in partnership_patterns))
    word = "|".join(sorted(prefixes, key=lambda p: (-len(p), p)))
    letters = f"(?:{word}|[A-Za-z]{{1,2}})"
    group = f"(?:{letters}?[0-9]+|{letters})"
    return rf"^(?=.{{2,40}}$)(?=.*[0-9]){group}(?:[-/_.]{group})*$"
