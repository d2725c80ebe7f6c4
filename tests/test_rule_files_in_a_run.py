"""A run and its rule files: the file or folder it was given is the one every task uses,
and one partnership's broken file stops nobody else (issue 20)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from govcal.prefect_env import configure_prefect

configure_prefect()

from govcal.flows import jobs  # noqa: E402
from tests.support.markdown import as_shown  # noqa: E402
from tests.support.paths import GOVCAL, ROOT  # noqa: E402
from tests.support.rules import VALID_HEADER, VALID_RULE  # noqa: E402
from tests.support.snapshots import copy_data  # noqa: E402
from tests.test_flows import artifacts  # noqa: E402

pytestmark = pytest.mark.xdist_group("prefect")
DAY = date(2026, 10, 5)
SHIPPED = ROOT / "rules" / "partnerships"


@pytest.fixture
def embedded(prefect_api, sample_data, tmp_path):
    return copy_data(sample_data, tmp_path / "data")


def subjects(outbox: Path) -> list[str]:
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]
        for p in outbox.glob("*.eml")
    ]


def test_the_rule_file_a_run_is_given_is_the_one_its_tasks_sync_notify_and_publish(
    embedded, tmp_path
):
    """`govcal run --rules FILE` loaded the sample for FILE's partnerships, then every
    task of the flow synced, mailed and published the configured ones instead."""
    text = (SHIPPED / "westmorland-furness.yaml").read_text(encoding="utf-8")
    title = "title: Safeguarding Accountability Meeting\n"
    assert title in text
    edited = tmp_path / "wfscp-edited.yaml"
    edited.write_text(text.replace(title, "title: Accountability Meeting (edited)\n"))

    jobs.daily_compliance(as_of=DAY, rules=str(edited))

    sent = subjects(embedded / "outbox")
    assert any("Accountability Meeting (edited)" in s for s in sent)
    assert not any("Safeguarding Accountability Meeting" in s for s in sent)
    summary = as_shown(artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data)
    assert "Accountability Meeting (edited)" in summary
    feed = (embedded / "feeds" / "wfscp.ics").read_text(encoding="utf-8")
    assert "Accountability Meeting (edited)" in feed


def test_a_broken_rule_file_runs_on_its_last_good_version_and_the_others_run(embedded, tmp_path):
    """A typo in one file's time zone made the run load nothing: at national scale one
    partnership's edit would stop reminders for all of England."""
    folder = tmp_path / "rules"
    shutil.copytree(SHIPPED, folder)
    env = {**os.environ, "GOVCAL_RULES_PATH": str(folder)}
    good = subprocess.run([*GOVCAL, "plan"], env=env, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr  # each file read without problems is kept

    wfscp = folder / "westmorland-furness.yaml"
    wfscp.write_text(wfscp.read_text().replace("timezone: Europe/London", "timezone: Europe/Londn"))
    (folder / "test.yaml").write_text(VALID_HEADER + VALID_RULE)  # a new partnership, fine

    result = jobs.daily_compliance(as_of=DAY, rules=str(folder))
    synced = {s["partnership"]: s for s in result["synced"]}
    assert synced["testscp"]["created"] > 0  # the others run as normal, new ones too
    assert "wfscp" in synced  # on its last good version
    assert len(subjects(embedded / "outbox")) > 20  # WFSCP's reminders still went

    summary = artifacts("compliance-summary-wfscp")["compliance-summary-wfscp"].data
    assert "The rule file has problems: running on its last good version" in summary
    assert f"{wfscp}:15:" in summary and "Europe/Londn" in summary
    assert "wfscp keeps running on the last good version of" in summary

    # the operator is told by each command that runs, in words, and it still works
    notify = subprocess.run(
        [*GOVCAL, "notify", "--as-of", "2026-10-06"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert notify.returncode == 0, notify.stderr
    assert f"Warning: {wfscp}:15:" in notify.stderr and "Traceback" not in notify.stderr
    # and the check that guards an edit still fails on any problem
    check = subprocess.run(
        [*GOVCAL, "rules", "check", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1 and "Europe/Londn" in check.stderr
