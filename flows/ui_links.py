"""Where an email sends a person in the Prefect UI to record what was done.

GOVCAL_UI_URL may be the record-completion form's own address (used as given) or just
the UI's address. A bare address used to lead to the Deployments page, a list the reader
had to search; now the record-completion deployment (prefect.yaml) is looked up by name
on that server's API and the link opens its run form. When the server cannot be asked,
or has no such deployment (the embedded mode has none), the link stays the Deployments
page: a reminder never waits on, or fails because of, the UI.
"""

from __future__ import annotations

import os

FORM = ("record-completion", "record-completion")  # flow name, deployment name
_FOUND: dict[str, str] = {}  # UI address -> form address, kept once found


def act_url(ui_url: str | None) -> str:
    """The address of the record-completion form, or "" without a UI (then people reply
    to the business team)."""
    if not ui_url:
        return ""
    if "/deployments/deployment/" in ui_url:
        return ui_url
    base = ui_url.rstrip("/")
    if base not in _FOUND:
        deployment = _deployment_id(base)
        if deployment is None:
            return f"{base}/deployments"
        _FOUND[base] = f"{base}/deployments/deployment/{deployment}/run"
    return _FOUND[base]


def _deployment_id(base: str) -> str | None:
    """The form's deployment id from the server's API (the UI's own /api, then
    PREFECT_API_URL), or None."""
    import httpx

    apis = [f"{base}/api", os.environ.get("PREFECT_API_URL", "").rstrip("/")]
    for api in dict.fromkeys(a for a in apis if a):
        try:
            answer = httpx.get(f"{api}/deployments/name/{FORM[0]}/{FORM[1]}", timeout=3)
        except httpx.HTTPError:
            continue
        if answer.status_code == 200:
            found = answer.json().get("id")
            if isinstance(found, str) and found:
                return found
    return None
