"""Load partnership rule files, validate everything, and report every problem at once.

Loading is all or nothing: if any file has any problem, `load_partnerships` raises
`RuleFileError` listing each problem as `file:line: what is wrong; what to do`, and no
partnership is returned. A compiler-style report beats fixing one error per run.
`load_each` gives each file's result on its own, for a run that keeps the good files
going while one is broken (models/rule_cache.py runs that one on its last good version).

This module is the entry point and the order of the steps; each step is its own module:
finding and reading files (rules/files.py), YAML with line marks (rules/yamlsource.py),
the baseline overlay (rules/baseline.py), the shape (rules/spec.py, worded by
rules/translate.py), the header (rules/header.py), the roles (rules/roles.py), the
ladder (rules/ladder.py), each obligation (rules/obligation.py, its schedule by
rules/compile.py) and the checks across rules (rules/dependencies.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from govcal.rules import header as headers
from govcal.rules.baseline import Overlay, overlay_file
from govcal.rules.compile import parse_local
from govcal.rules.dependencies import broken_references, duplicate_ids
from govcal.rules.files import display_path, read_rule_file, rule_files
from govcal.rules.ladder import build_ladder
from govcal.rules.model import DEFAULT_LADDER, Partnership
from govcal.rules.obligation import build_rule
from govcal.rules.problems import Problem, RuleFileError
from govcal.rules.report import Report
from govcal.rules.roles import build_roles
from govcal.rules.spec import ObligationSpec, PartnershipFile
from govcal.rules.translate import shape_problems
from govcal.rules.yamlsource import parse_yaml

__all__ = [  # the names callers import from here
    "DEFAULT_PARTNERSHIP",
    "PARTNERSHIPS_DIR",
    "FileLoad",
    "RuleFileError",
    "RuleProblem",
    "display_path",
    "load_each",
    "load_partnership",
    "load_partnerships",
    "parse_local",
    "parse_partnership",
    "rule_files",
]

RuleProblem = Problem  # the name callers have used

PARTNERSHIPS_DIR = Path(__file__).resolve().parent / "partnerships"
DEFAULT_PARTNERSHIP = "wfscp"


@dataclass(frozen=True)
class FileLoad:
    """One rule file read on its own: its partnership, or the problems that stop it."""

    label: str
    partnership: Partnership | None
    problems: tuple[Problem, ...] = ()


def load_partnerships(paths: Iterable[Path] | None = None) -> list[Partnership]:
    """Load and validate rule files (default: the shipped partnerships); all or nothing."""
    each = load_each(paths)
    problems = [p for f in each for p in f.problems]
    if problems:
        raise RuleFileError(problems)
    return [f.partnership for f in each if f.partnership is not None]


def load_each(paths: Iterable[Path] | None = None) -> list[FileLoad]:
    """Each rule file on its own, in order, so a run can keep the good ones going while
    one is broken (`load_partnerships` refuses them all). No files at all is a problem."""
    files = rule_files(paths if paths is not None else [PARTNERSHIPS_DIR])
    if not files:
        return [FileLoad("(rules)", None, (Problem("(rules)", 0, "no *.yaml rule files found"),))]
    out: list[FileLoad] = []
    seen: dict[str, str] = {}
    for path in files:
        label = display_path(path)
        text, unreadable = read_rule_file(path, label)
        if text is None:
            out.append(FileLoad(label, None, (unreadable,)))  # type: ignore[arg-type]
            continue
        partnership, problems = _parse_once(text, label)
        if partnership is not None and partnership.id in seen:
            taken = (
                f"partnership id '{partnership.id}' is already used by "
                f"{seen[partnership.id]}; give each partnership its own id"
            )
            partnership, problems = None, (*problems, Problem(label, 1, taken))
        if partnership is not None:
            seen[partnership.id] = label
        out.append(FileLoad(label, partnership, tuple(sorted(problems, key=lambda p: p.line))))
    return out


def load_partnership(partnership_id: str, paths: Iterable[Path] | None = None) -> Partnership:
    for partnership in load_partnerships(paths):
        if partnership.id == partnership_id:
            return partnership
    known = ", ".join(p.id for p in load_partnerships(paths))
    raise KeyError(f"no partnership '{partnership_id}'; known partnerships: {known}")


@lru_cache(maxsize=512)
def _parse_once(text: str, label: str) -> tuple[Partnership | None, tuple[Problem, ...]]:
    """parse_partnership, remembered per process by the file's text: a flow reads the
    rule files in several tasks, and parsing (rrule validation) is most of their cost.
    Keyed by content, so an edited file is parsed again; the results are frozen."""
    partnership, problems = parse_partnership(text, label)
    return partnership, tuple(problems)


def parse_partnership(text: str, label: str) -> tuple[Partnership | None, list[Problem]]:
    """Parse one rule file's text. Returns the partnership, or None with its problems."""
    doc = parse_yaml(text)
    problems = [p.in_file(label) for p in doc.problems]
    if doc.data is None:
        return None, problems
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(label, 1, "expected a mapping with partnership:, roles: and obligations:")
        )
        return None, problems
    layers = overlay_file(doc, label)
    problems.extend(layers.problems)
    if layers.failed:
        return None, problems
    doc = layers.doc
    try:
        spec = PartnershipFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(shape_problems(exc, doc, label))
        spec = None
    obligations: list[ObligationSpec | None] = []
    raw = doc.data.get("obligations")
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            obligations.append(ObligationSpec.model_validate(item))
        except ValidationError as exc:
            problems.extend(shape_problems(exc, doc, label, prefix=("obligations", index)))
            obligations.append(None)
    if spec is None:
        return None, problems
    report = Report(label, doc)
    partnership = _build(spec, obligations, layers, report)
    problems.extend(report.problems)
    return (None if problems else partnership), problems


def _build(
    spec: PartnershipFile,
    obligations: list[ObligationSpec | None],
    layers: Overlay,
    report: Report,
) -> Partnership:
    """A shape-valid file as a Partnership; its problems of meaning go to `report`."""
    header = spec.partnership
    headers.check_identity(header, report)
    roles = build_roles(spec.roles, report)
    ladder = build_ladder(
        header.reminders, header.escalation, ("partnership",), roles, DEFAULT_LADDER, report
    )
    headers.check_contacts(header, report)
    active_from, active_until = headers.active_bounds(header, report)
    built = []
    for i, item in enumerate(obligations):
        if item is None:
            continue
        origin = layers.origins.get(item.id, "local")
        rule = build_rule(i, item, roles, ladder, spec.events, origin, report)
        if rule is not None:
            built.append(rule)
    ids = [item.id if item is not None else None for item in obligations]
    index = {rule_id: i for i, rule_id in enumerate(ids) if rule_id is not None}
    for path, message in [*duplicate_ids(ids, report.where), *broken_references(built, index)]:
        report.add(path, message)
    return Partnership(
        id=header.id,
        name=header.name,
        timezone=header.timezone,
        roles=roles,
        events=dict(spec.events),
        rules=tuple(built),
        ladder=ladder,
        due_soon_days=header.due_soon_days,
        source_file=report.label,
        notes=header.notes,
        business_team_mailbox=header.business_team_mailbox,
        documents=dict(header.documents),
        active_from=active_from,
        active_until=active_until,
        incident_reference=header.incident_reference,
        baseline=header.baseline,
        baseline_name=layers.baseline_name,
        opted_out=tuple((o.id, o.title, o.reason) for o in layers.opted_out),
    )
