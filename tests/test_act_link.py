"""The "Record what was done" link of a digest opens the record-completion form itself
when GOVCAL_UI_URL is only the Prefect UI's address (it used to open the Deployments
page, a list to search), and still opens that page when the form cannot be found; an
escalation also links the form a Lead Partner acknowledges it with."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy

import pytest

from tests.smtp_server import free_port

pytestmark = pytest.mark.xdist_group("prefect")
DAY = date(2026, 10, 6)  # the sample has escalations to the Lead Partners on this day


def _deploy(name: str, function: str) -> str:
    """A form's deployment, as `prefect deploy` makes it from prefect.yaml (named for
    people: "Record a completion")."""
    from prefect.client.orchestration import get_client

    from govcal.flows.form_names import deployment_of

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name(name)
        deployment = client.create_deployment(
            flow_id, deployment_of(name), entrypoint=f"flows/jobs.py:{function}"
        )
    return str(deployment)


def _digests(tmp_path, wfscp) -> list[email.message.EmailMessage]:
    from govcal.flows.steps import notify
    from govcal.models.db import session_scope, upgrade
    from govcal.models.directory_import import import_directory
    from govcal.models.settings import get_settings
    from govcal.models.sync import sync_partnership
    from govcal.notifications.render import Sender
    from govcal.notifications.transport import FileOutbox
    from tests.support.paths import SAMPLE_DIRECTORY

    url = f"sqlite:///{tmp_path / 'act.db'}"
    upgrade(url)
    with session_scope(url) as session:
        import_directory(session, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(session, wfscp, DAY)
    with session_scope(url) as session:
        notify(
            session,
            [wfscp],
            DAY,
            FileOutbox(tmp_path / "outbox"),
            Sender("g", "g@example.org"),
            now=datetime(2026, 10, 6, 12, tzinfo=UTC),
            settings=get_settings(),
        )
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted((tmp_path / "outbox").glob("*.eml"))
    ]
    return [m for m in messages if not m["Subject"].startswith(("Invitation", "Updated"))]


def test_a_bare_ui_address_links_escalations_to_the_form(tmp_path, monkeypatch, wfscp, prefect_api):
    from govcal.models.settings import get_settings

    base = prefect_api.removesuffix("/api")
    form = f"{base}/deployments/deployment/{_deploy('record-completion', 'record_completion')}/run"
    ack = _deploy("acknowledge-escalation", "acknowledge_escalation")
    acknowledge = f"{base}/deployments/deployment/{ack}/run"
    monkeypatch.setenv("GOVCAL_UI_URL", base + "/")
    get_settings.cache_clear()
    everyone = _digests(tmp_path, wfscp)
    digests = [m for m in everyone if m["Subject"].startswith("Escalation:")]
    assert digests
    reminders = [m for m in everyone if m["Subject"].startswith("Reminder:")]
    assert reminders
    for message in reminders:  # nothing to acknowledge: the one link is to record
        text = message.get_body(("plain",)).get_content()
        assert "Acknowledge" not in text and f"(paste the id): {form}" in text
    for message in digests:
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"Record what was done (paste the id): {form}" in text
        assert f'<a href="{form}"' in html
        assert f"{base}/deployments\n" not in text
        assert f"Acknowledge an escalation (paste its id): {acknowledge}" in text
        assert f'<a href="{acknowledge}">Acknowledge an escalation</a>' in html


def test_without_the_form_the_link_opens_the_deployments_page():
    from govcal.flows.ui_links import acknowledge_url, act_url

    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: the link cannot be found
    assert act_url(nobody) == f"{nobody}/deployments"
    assert acknowledge_url(nobody) == ""  # no link rather than a list to search
    given = "https://ui.example.org/deployments/deployment/abc/run"
    assert act_url(given) == given  # a form's own address is used as given
    assert act_url(None) == act_url("") == acknowledge_url(None) == ""
