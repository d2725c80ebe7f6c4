"""Checks across rules: ids unique, every `rule:` reference found, no circular chains,
and which rules hang on which (dependents follow what happened to the item they count
from).

Pure: each check returns (path, message) findings; the loader turns them into
`file:line:` problems, so a check never needs to know about files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from govcal.rules.model import DerivedDeadline, Rule

if TYPE_CHECKING:  # the YAML reader's types only: sync uses dependents_of, not the reader
    from govcal.rules.yamlsource import Path

    Finding = tuple[Path, str]


def duplicate_ids(ids: Sequence[str | None], where: Callable[[Path], str]) -> list[Finding]:
    """Rule ids used twice; `ids[i]` is obligation i's id (None if it did not validate)."""
    first: dict[str, str] = {}
    found: list[Finding] = []
    for i, rule_id in enumerate(ids):
        if rule_id is None:
            continue
        path: Path = ("obligations", i, "id")
        if rule_id in first:
            found.append(
                (
                    path,
                    f"rule id '{rule_id}' is used twice (first on {first[rule_id]}); "
                    "rule ids must be unique within a partnership",
                )
            )
        else:
            first[rule_id] = where(path)
    return found


def broken_references(rules: Sequence[Rule], index: dict[str, int]) -> list[Finding]:
    """`rule:` references to missing rules, and circular chains (each reported once)."""
    by_id = {r.id: r for r in rules}
    found: list[Finding] = []
    for rule in rules:
        schedule = rule.schedule
        if isinstance(schedule, DerivedDeadline) and schedule.rule not in by_id:
            found.append(
                (
                    ("obligations", index[rule.id], "schedule", "rule"),
                    f"rule '{rule.id}' counts from rule '{schedule.rule}', which does not exist "
                    "in this partnership (or has its own problems)",
                )
            )
    for rule in rules:
        seen: list[str] = [rule.id]
        current = rule.schedule
        while isinstance(current, DerivedDeadline) and current.rule in by_id:
            if current.rule in seen:
                cycle = " -> ".join([*seen[seen.index(current.rule) :], current.rule])
                if seen[0] == current.rule:
                    found.append(
                        (
                            ("obligations", index[rule.id], "schedule", "rule"),
                            f"circular reference: {cycle}; one of these must have its own dates",
                        )
                    )
                break
            seen.append(current.rule)
            current = by_id[current.rule].schedule
    return found


def dependents_of(rules: Sequence[Rule], rule_id: str) -> set[str]:
    """Every rule whose dates hang on `rule_id`, directly or through other rules."""
    children: dict[str, list[str]] = {}
    for rule in rules:
        if isinstance(rule.schedule, DerivedDeadline):
            children.setdefault(rule.schedule.rule, []).append(rule.id)
    found: set[str] = set()
    todo = [rule_id]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
