"""The roles: who a partnership's duties are owned by, attended by and escalated to.

A role is written either as a title in words (`lsp: Lead Safeguarding Partners (...)`)
or as a mapping (`{name: ..., who: ...}`); both become one Role whose short name is
what emails address. Every other part of a rule file names roles by id, so the ids are
checked here once, before the ladder and the obligations refer to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from govcal.rules.model import Role
from govcal.rules.report import SLUG, Report
from govcal.rules.spec import RoleSpec
from govcal.rules.translate import shape_problems


def build_roles(written: dict[str, Any], report: Report) -> dict[str, Role]:
    """The roles declared under `roles:`, by id; problems go to `report`."""
    roles: dict[str, Role] = {}
    for key, value in written.items():
        if isinstance(value, str) and value.strip():
            roles[key] = Role(key, value, value.split(" (", 1)[0].strip())
            continue
        if isinstance(value, dict):
            try:
                spec = RoleSpec.model_validate(value)
            except ValidationError as exc:
                report.extend(shape_problems(exc, report.doc, report.label, prefix=("roles", key)))
                continue
            who = spec.who.strip()
            roles[key] = Role(key, f"{spec.name} ({who})" if who else spec.name, spec.name)
            continue
        report.add(
            ("roles", key),
            f"role '{key}' needs a title in words, e.g. 'lsp: Lead Safeguarding Partners' "
            "or 'lsp: {name: Lead Safeguarding Partners, who: ...}'",
        )
    for key in roles:
        if not SLUG.match(key):
            report.add(("roles", key), f"role id '{key}' must be lowercase with dashes")
    return roles
