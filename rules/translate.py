"""Translate validation errors (pydantic's) into problems a person can act on.

The shape of a file is checked by rules/spec.py; this module only words the result:
unknown keys list the allowed ones, a missing source says why it matters, and every
problem names the file and line the value came from (a baseline's or the partnership's).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from govcal.rules.problems import Problem
from govcal.rules.spec import (
    ActiveSpec,
    EscalationSpec,
    ObligationSpec,
    OptOutSpec,
    PartnershipFile,
    PartnershipHeader,
    RoleSpec,
    ScheduleSpec,
)
from govcal.rules.yamlsource import Path, YamlDocument


def shape_problems(
    exc: ValidationError, doc: YamlDocument, label: str, prefix: Path = ()
) -> list[Problem]:
    """Pydantic's errors as `file:line:` problems that say what to write instead."""
    out = []
    for error in exc.errors():
        loc: Path = (*prefix, *error["loc"])
        where = _describe(loc, doc.data)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            allowed = _allowed_keys(loc[:-1])
            message = f"unknown key '{key}'{where}; expected one of: {allowed}"
        elif kind == "missing":
            field = loc[-1]
            extra = (
                ": every rule must cite where it comes from (a seed file and section, or a "
                "statute and paragraph)"
                if field == "source"
                else ""
            )
            message = f"'{field}' is missing{where}{extra}"
            loc = loc[:-1]
        else:
            field = ".".join(str(p) for p in loc)
            message = f"'{field}'{where}: {error['msg'].lower()} (got {error.get('input')!r})"
        out.append(Problem(doc.file_of(loc) or label, doc.line_of(loc), message))
    return out


def _describe(loc: Path, data: Any) -> str:
    """' in obligation lsp-meeting' when the path is inside a named obligation."""
    if len(loc) >= 2 and loc[0] == "obligations" and isinstance(loc[1], int):
        try:
            ident = data["obligations"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            ident = None
        return f" in obligation '{ident}'" if ident else f" in obligation #{loc[1] + 1}"
    return ""


def _allowed_keys(parent: Path) -> str:
    nested: dict[str, type[BaseModel]] = {
        "partnership": PartnershipHeader,
        "obligations": ObligationSpec,
        "schedule": ScheduleSpec,
        "escalation": EscalationSpec,
        "active": ActiveSpec,
        "roles": RoleSpec,
        "opt_out": OptOutSpec,
        "overrides": ObligationSpec,
    }
    model: type[BaseModel] = PartnershipFile
    for name in parent:
        if isinstance(name, str) and name in nested:
            model = nested[name]
    keys = [f.alias or n for n, f in model.model_fields.items()]
    return ", ".join(sorted(keys))
