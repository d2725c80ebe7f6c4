"""prefect.yaml's forms as the business team finds them: named for what a person does
(flows/form_names.py, which the emails' links look up), tagged `form`, ten at most so
that filtering the Deployments list by the tag shows them all on its first page; the
scheduled jobs tagged apart; each form's fields typed for people."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import yaml

from govcal.flows.form_names import FORM_TAG, FORM_TITLES, JOB_TAG

ROOT = Path(__file__).resolve().parent.parent
PAGE = 10  # deployments a page of the Prefect UI's list shows
REPORT_TAG, PACK = "report", FORM_TITLES["evidence-pack"]  # a report, not an action
# the national day and its shares: operators' jobs without a schedule of their own
STARTED_BY_A_JOB = {"national-day", "daily-share"}


def deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


def flow_of(deployment: dict):
    path, name = deployment["entrypoint"].split(":")
    return getattr(import_module("govcal." + path.removesuffix(".py").replace("/", ".")), name)


def test_every_form_is_named_for_people_and_tagged_to_be_found():
    forms = [d for d in deployments() if FORM_TAG in d.get("tags", [])]
    assert 0 < len(forms) <= PAGE
    for d in deployments():
        assert d.get("description", "").strip(), d["name"]
        if "schedules" in d or d["name"] in STARTED_BY_A_JOB:
            assert d["tags"] == [JOB_TAG], d["name"]
            continue
        assert d["name"] == FORM_TITLES[flow_of(d).name]
        assert d["tags"] == ([REPORT_TAG] if d["name"] == PACK else [FORM_TAG]), d["name"]
    assert {d["name"] for d in deployments()} >= set(FORM_TITLES.values())


def test_no_form_field_is_a_none_switch():
    """The UI draws `x | None` as a switch between a field and "None": every form's
    parameters are plain fields with defaults, drop-downs or text."""
    for d in deployments():
        if "schedules" in d or d["name"] in STARTED_BY_A_JOB:
            continue
        schema = flow_of(d).parameters.model_dump()
        for name, field in schema["properties"].items():
            assert "anyOf" not in field, (d["name"], name)
        for model in schema.get("definitions", {}).values():
            for name, field in model.get("properties", {}).items():
                options = [o.get("type") for o in field.get("anyOf", [])]
                assert "null" not in options, (d["name"], name)
