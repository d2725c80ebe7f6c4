"""Where an email sends a person in the Prefect UI: the form for what they have to do.

GOVCAL_UI_URL may be the "Record a completion" form's own address (used as given) or
just the UI's address. For a bare address the form's deployment (prefect.yaml, names in
flows/form_names.py) is looked up by name on that server's API, so the link opens its run
form rather than the Deployments page, a list the reader would have to search: "Record a
completion" for what was done, and "Acknowledge an escalation" for a Lead Partner told
of an escalation. When the server cannot be asked, or has no such deployment (the
embedded mode has none), the link stays the Deployments page (or, for acknowledging, is
left out): a reminder never waits on, or fails because of, the UI.
"""

from __future__ import annotations

import os

from govcal.flows.form_names import deployment_of

RECORD = ("record-completion", deployment_of("record-completion"))  # flow, deployment
ACKNOWLEDGE = ("acknowledge-escalation", deployment_of("acknowledge-escalation"))
_FOUND: dict[tuple[str, tuple[str, str]], str] = {}  # (UI, form) -> its address, once found


def act_url(ui_url: str | None) -> str:
    """The address of the record-completion form, or "" without a UI (then people reply
    to the business team)."""
    if not ui_url:
        return ""
    if "/deployments/deployment/" in ui_url:
        return ui_url
    return form_url(ui_url, RECORD) or f"{ui_url.rstrip('/')}/deployments"


def acknowledge_url(ui_url: str | None) -> str:
    """The address of the acknowledge-escalation form, or "" when it cannot be found."""
    if not ui_url or "/deployments/deployment/" in ui_url:
        return ""  # a form's own address names one form only: record-completion's
    return form_url(ui_url, ACKNOWLEDGE)


def form_url(ui_url: str, form: tuple[str, str]) -> str:
    """The run form of the deployment `form` on the UI at `ui_url`, or ""."""
    base = ui_url.rstrip("/")
    if (base, form) not in _FOUND:
        deployment = _deployment_id(base, form)
        if deployment is None:
            return ""
        _FOUND[(base, form)] = f"{base}/deployments/deployment/{deployment}/run"
    return _FOUND[(base, form)]


def _deployment_id(base: str, form: tuple[str, str]) -> str | None:
    """The deployment's id from the server's API (the UI's own /api, then
    PREFECT_API_URL), or None."""
    import httpx

    apis = [f"{base}/api", os.environ.get("PREFECT_API_URL", "").rstrip("/")]
    for api in dict.fromkeys(a for a in apis if a):
        try:
            answer = httpx.get(
                f"{api}/deployments/name/{form[0]}/{form[1]}", timeout=3, headers=_login()
            )
        except httpx.HTTPError:
            continue
        if answer.status_code == 200:
            found = answer.json().get("id")
            if isinstance(found, str) and found:
                return found
    return None


def _login() -> dict[str, str]:
    """The login Prefect's own client sends (HTTP Basic with the API's auth string), when
    one is set (the environment, or Prefect's profile): every Prefect server govcal
    starts asks for it."""
    import base64

    from prefect.settings import get_current_settings

    secret = get_current_settings().api.auth_string
    # the environment first: govcal sets it while it starts a server, after Prefect's
    # settings may have been read
    value = os.environ.get("PREFECT_API_AUTH_STRING") or (
        secret.get_secret_value() if secret is not None else ""
    )
    if not value:
        return {}
    login = base64.b64encode(value.encode()).decode()
    return {"Authorization": f"Basic {login}"}
