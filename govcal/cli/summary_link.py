"""The line `govcal run` and `govcal serve` print for each partnership: the fixed
address of its summary on the web app, always the latest (models/cockpit_links.py)."""

from __future__ import annotations

from datetime import date

from govcal.flows.runtime import Runtime, web_secret
from govcal.models.cockpit_links import cockpit_url
from govcal.rules.model import active_partnerships

DEFAULT_WEB = "http://127.0.0.1:8080"  # `govcal serve` and `govcal web` by default


def summary_lines(runtime: Runtime, day: date, base: str | None = None) -> list[str]:
    """One line per partnership in force; the web app at `base`, else at
    GOVCAL_PUBLIC_URL, else on its default port. None without a signing key."""
    secret = web_secret(runtime.settings)
    if not secret:
        return ["The summary's fixed address needs GOVCAL_WEB_SECRET (the web app's key)."]
    where = base or runtime.settings.public_url or DEFAULT_WEB
    note = "" if base or runtime.settings.public_url else " (while `govcal serve` runs)"
    return [
        f"Summary of {p.id}, always the latest (business team only){note}: "
        f"{cockpit_url(where, secret, p.id)}"
        for p in active_partnerships(runtime.partnerships, day)
    ]
