"""Statutory baselines and local overlays: the duties written once, partnerships add to them.

A partnership file names its baseline (`partnership: {baseline: wt2023}`) and then only
says what differs: `overrides:` changes a duty's keys by id (a cadence, an owner, a
date), `opt_out:` leaves a duty out with a required reason, `obligations:` adds local
ones. The overlay merges the two files' data before validation and remembers, for each
value, the file and line it came from, so a problem is still reported where it was
written. Pure apart from reading the shipped baseline files (once each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from govcal.rules.files import display_path, read_rule_file
from govcal.rules.model import Partnership
from govcal.rules.problems import Problem
from govcal.rules.spec import BaselineFile, OptOutSpec
from govcal.rules.translate import shape_problems
from govcal.rules.yamlsource import Path as DataPath
from govcal.rules.yamlsource import YamlDocument, parse_yaml

STATUTORY_DIR = Path(__file__).resolve().parent / "statutory"


class Origin:
    """Where a partnership's rule comes from, as `govcal rules check` shows it."""

    INHERITED = "inherited"
    OVERRIDDEN = "overridden"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class OptOut:
    id: str
    title: str
    reason: str


@dataclass
class Overlay:
    doc: YamlDocument
    baseline_name: str = ""
    origins: dict[str, str] = field(default_factory=dict)
    opted_out: list[OptOut] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failed: bool = False  # the baseline itself could not be used: nothing else is checked


@dataclass(frozen=True)
class Baseline:
    id: str
    name: str
    label: str
    doc: YamlDocument


# A baseline duty cites the law or the guidance it comes from: an Act's section, or a
# guidance chapter ("WT2023 chapter 5"). A guidance paragraph, where one was read in a
# source, is written out in one form, `WT2023 paragraph 123` (or `paragraphs 12-14`), so a
# reader, a test and a search all find it; "para 12", "§12" or a bare "paragraph 12"
# without its edition are refused rather than guessed at.
_CITES = re.compile(r"\b(?:Children Act 2004|Education Act 2002) s\d+|\bWT20\d\d chapter \d+")
PARAGRAPH = re.compile(r"\bWT20\d\d(?: chapter \d+,?)? paragraphs? \d+[a-z]?(?:-\d+[a-z]?)?\b")
_ANY_PARAGRAPH = re.compile(r"(?:\bparas?\b\.?|\bparagraphs?\b|[§¶])\s*\d", re.IGNORECASE)


def citation_problem(source: object) -> str | None:
    """Why a baseline duty's `source` is not a usable citation, or None when it is."""
    if not isinstance(source, str) or not source.strip():
        return "cites nothing: name the Act's section or the guidance chapter (WT2023 chapter 5)"
    text = " ".join(source.split())
    if not (_CITES.search(text) or PARAGRAPH.search(text)):
        return (
            "names neither an Act's section (Children Act 2004 s16C) nor a guidance "
            "chapter (WT2023 chapter 5)"
        )
    written = {m.end() for m in PARAGRAPH.finditer(text)}
    for loose in _ANY_PARAGRAPH.finditer(text):
        number_end = re.match(r"\d+[a-z]?(?:-\d+[a-z]?)?", text[loose.end() - 1 :])
        end = loose.end() - 1 + (number_end.end() if number_end else 0)
        if end not in written:
            return (
                f"cites a paragraph as '{text[loose.start() : end]}': write it as "
                "'WT2023 paragraph 123', and only where it was read in a source"
            )
    return None


def comments_above(lines: list[str], line: int) -> str:
    """The comment lines right above 1-based `line` (where a rule's `# verified_from:` is)."""
    found = []
    for text in reversed(lines[: max(line - 1, 0)]):
        if not text.strip().startswith("#"):
            break
        found.append(text)
    return "\n".join(found)


def citation_problems(doc: YamlDocument, text: str, label: str) -> list[Problem]:
    """Each duty cites the law or the guidance; a paragraph only in the written form and
    with the page it was read on (`# verified_from: URL`) right above the duty."""
    items = doc.data.get("obligations") or []
    lines = text.splitlines()
    out = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        source = item.get("source")
        why = citation_problem(source)
        line = doc.line_of(("obligations", i, "source"))
        if why is None and PARAGRAPH.search(" ".join(str(source).split())):
            above = comments_above(lines, doc.line_of(("obligations", i)))
            if "# verified_from: http" not in above:
                why = "cites a paragraph without '# verified_from: URL' above the duty"
        if why:
            out.append(Problem(label, line, f"baseline duty '{item.get('id')}' {why}"))
    return out


def known_baselines() -> list[str]:
    return sorted(p.stem for p in STATUTORY_DIR.glob("*.yaml"))


@lru_cache(maxsize=16)
def load_baseline(baseline_id: str) -> tuple[Baseline | None, tuple[Problem, ...]]:
    """A shipped baseline, parsed and shape-checked once per process."""
    if baseline_id not in known_baselines():
        return None, ()
    path = STATUTORY_DIR / f"{baseline_id}.yaml"
    label = display_path(path)
    text, unreadable = read_rule_file(path, label)
    if text is None:
        return None, (unreadable,) if unreadable else ()
    doc = parse_yaml(text)
    problems = [p.in_file(label) for p in doc.problems]
    if doc.data is None:
        return None, tuple(problems)
    try:
        spec = BaselineFile.model_validate(doc.data)
    except ValidationError as exc:
        return None, (*problems, *shape_problems(exc, doc, label))
    problems.extend(citation_problems(doc, text, label))
    return Baseline(baseline_id, spec.baseline.name, label, doc), tuple(problems)


def _index(doc: YamlDocument) -> dict[tuple[Any, ...], list[tuple[DataPath, int]]]:
    """The document's line marks grouped by their first two path steps."""
    out: dict[tuple[Any, ...], list[tuple[DataPath, int]]] = {}
    for path, line in doc.lines.items():
        out.setdefault(path[:2], []).append((path, line))
    return out


class _Merger:
    def __init__(self, local: YamlDocument, label: str, base: Baseline):
        self.local, self.label, self.base = local, label, base
        self.local_index = _index(local)
        self.base_index = _index(base.doc)
        self.merged = YamlDocument(data=None)
        self.overlay = Overlay(self.merged, baseline_name=base.name)

    def problem(self, path: DataPath, message: str) -> None:
        self.overlay.problems.append(Problem(self.label, self.local.line_of(path), message))

    def graft(self, src: DataPath, dst: DataPath, from_base: bool) -> None:
        """Copy the line marks under `src` (two steps long) to `dst`, naming their file."""
        index = self.base_index if from_base else self.local_index
        for path, line in index.get(src, ()):
            target = (*dst, *path[2:])
            self.merged.lines[target] = line
            self.merged.files[target] = self.base.label if from_base else ""

    def mapping(self, key: str) -> dict[str, Any]:
        """roles: or events:, the partnership's entries winning over the baseline's."""
        out: dict[str, Any] = {}
        for from_base, data in ((True, self.base.doc.data), (False, self.local.data)):
            entries = data.get(key)
            if not isinstance(entries, dict):
                continue
            for name, value in entries.items():
                out[name] = value
                self.graft((key, name), (key, name), from_base)
        return out

    def changes(self) -> tuple[dict[str, tuple[int, dict[str, Any]]], dict[str, OptOutSpec]]:
        overrides: dict[str, tuple[int, dict[str, Any]]] = {}
        raw = self.local.data.get("overrides") or []
        for j, item in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                self.problem(("overrides", j), "an override needs the id of the baseline duty")
                continue
            overrides[item["id"]] = (j, item)
        opt_outs: dict[str, OptOutSpec] = {}
        raw = self.local.data.get("opt_out") or []
        for j, item in enumerate(raw if isinstance(raw, list) else []):
            try:
                spec = OptOutSpec.model_validate(item)
            except ValidationError as exc:
                self.overlay.problems.extend(
                    shape_problems(exc, self.local, self.label, prefix=("opt_out", j))
                )
                continue
            if not spec.reason.strip():
                self.problem(
                    ("opt_out", j, "reason"),
                    f"opting out of '{spec.id}' needs a reason in words (who decided, and why)",
                )
            opt_outs[spec.id] = spec
            if spec.id in overrides:
                self.problem(
                    ("opt_out", j, "id"),
                    f"'{spec.id}' is both overridden and opted out of; keep one",
                )
        return overrides, opt_outs

    def obligations(self) -> list[Any]:
        overrides, opt_outs = self.changes()
        base_items = self.base.doc.data.get("obligations") or []
        base_ids = {item.get("id"): i for i, item in enumerate(base_items)}
        merged: list[Any] = []
        for i, item in enumerate(base_items):
            rule_id = item.get("id")
            if rule_id in opt_outs:
                title = str(item.get("title", rule_id))
                reason = opt_outs[rule_id].reason
                self.overlay.opted_out.append(OptOut(rule_id, title, reason))
                continue
            k = len(merged)
            self.graft(("obligations", i), ("obligations", k), from_base=True)
            if rule_id in overrides:
                j, change = overrides[rule_id]
                item = {**item, **{key: v for key, v in change.items() if key != "id"}}
                self.graft(("overrides", j), ("obligations", k), from_base=False)
                for key in change:  # a replaced key's old sub-keys must not linger
                    if key != "id":
                        self._drop_base_marks(("obligations", k, key), change[key])
                self.overlay.origins[rule_id] = Origin.OVERRIDDEN
            else:
                self.overlay.origins[rule_id] = Origin.INHERITED
            merged.append(item)
        for name, (j, _) in overrides.items():
            if name not in base_ids:
                self.problem(
                    ("overrides", j, "id"),
                    f"override '{name}' is not a duty of baseline {self.base.id}; add it "
                    "under obligations: instead",
                )
        for name, spec in opt_outs.items():
            if name not in base_ids:
                j = next(i for i, o in enumerate(self.local.data["opt_out"]) if o.get("id") == name)
                self.problem(
                    ("opt_out", j, "id"),
                    f"opt_out '{spec.id}' is not a duty of baseline {self.base.id}",
                )
        raw = self.local.data.get("obligations") or []
        for j, item in enumerate(raw if isinstance(raw, list) else []):
            rule_id = item.get("id") if isinstance(item, dict) else None
            if rule_id in base_ids:
                line = self.base.doc.line_of(("obligations", base_ids[rule_id]))
                self.problem(
                    ("obligations", j, "id"),
                    f"rule '{rule_id}' is a duty of baseline {self.base.id} "
                    f"({self.base.label}:{line}); change it under overrides:, or leave it out "
                    "under opt_out: with a reason",
                )
                continue
            k = len(merged)
            self.graft(("obligations", j), ("obligations", k), from_base=False)
            if rule_id:
                self.overlay.origins[str(rule_id)] = Origin.LOCAL
            merged.append(item)
        return merged

    def _drop_base_marks(self, prefix: DataPath, value: Any) -> None:
        for path in [p for p in self.merged.lines if p[: len(prefix)] == prefix]:
            if self.merged.files.get(path) == self.base.label:
                del self.merged.lines[path]
                del self.merged.files[path]

    def run(self) -> Overlay:
        data = self.local.data
        self.merged.lines[()] = 1
        for path, line in self.local.lines.items():
            if path[:1] == ("partnership",):
                self.merged.lines[path] = line
        roles = self.mapping("roles")
        events = self.mapping("events")
        obligations = self.obligations()
        self.merged.lines[("obligations",)] = self.local.lines.get(("obligations",), 1)
        self.merged.data = {
            key: value
            for key, value in data.items()
            if key not in ("roles", "events", "obligations", "overrides", "opt_out")
        }
        self.merged.data.update(roles=roles, events=events, obligations=obligations)
        self._documents()
        return self.overlay

    def _documents(self) -> None:
        """The baseline's document titles (WT2023 -> Working Together ... 2023) under the
        partnership's own `documents:`, which win on the same key."""
        base = self.base.doc.data.get("documents")
        header = self.merged.data.get("partnership")
        if not isinstance(base, dict) or not isinstance(header, dict):
            return
        own = header.get("documents")
        header = {**header, "documents": {**base, **(own if isinstance(own, dict) else {})}}
        self.merged.data["partnership"] = header


def overlay(local: YamlDocument, label: str, baseline_id: str) -> Overlay:
    """The partnership's data with its baseline's duties merged in (see module doc)."""
    base, problems = load_baseline(baseline_id)
    if base is None:
        known = ", ".join(known_baselines()) or "none"
        result = Overlay(local, problems=list(problems), failed=True)
        if not problems:
            result.problems.append(
                Problem(
                    label,
                    local.line_of(("partnership", "baseline")),
                    f"baseline '{baseline_id}' is unknown; known baselines: {known}",
                )
            )
        return result
    result = _Merger(local, label, base).run()
    result.problems[:0] = problems
    return result


def overlay_file(doc: YamlDocument, label: str) -> Overlay:
    """The file merged over the baseline it names, or the file alone if it names none
    (then `overrides:` and `opt_out:` have nothing to change, and say so)."""
    header = doc.data.get("partnership")
    baseline = header.get("baseline") if isinstance(header, dict) else None
    if isinstance(baseline, str) and baseline.strip():
        return overlay(doc, label, baseline.strip())
    result = Overlay(doc)
    for key in ("overrides", "opt_out"):
        if doc.data.get(key):
            result.problems.append(
                Problem(
                    label,
                    doc.line_of((key,)),
                    f"{key}: changes a statutory baseline; name it first, e.g. "
                    "partnership: {baseline: wt2023}",
                )
            )
    return result


@dataclass(frozen=True)
class Layers:
    """What a partnership takes from its baseline, changes, adds and leaves out."""

    baseline: str
    inherited: tuple[str, ...]
    overridden: tuple[str, ...]
    local: tuple[str, ...]
    opted_out: tuple[tuple[str, str, str], ...]  # (rule id, title, reason)


def layers_of(partnership: Partnership) -> Layers:
    def ids(origin: str) -> tuple[str, ...]:
        return tuple(r.id for r in partnership.rules if r.origin == origin)

    return Layers(
        baseline=partnership.baseline or "",
        inherited=ids(Origin.INHERITED),
        overridden=ids(Origin.OVERRIDDEN),
        local=ids(Origin.LOCAL),
        opted_out=partnership.opted_out,
    )
