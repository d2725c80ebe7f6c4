"""The summary's fixed address: one link per partnership that always shows its latest
summary, served by govcal's web app (/cockpit/<partnership>.<signature>).

Prefect's UI has no page for "the latest artifact under this key", and the summary names
people and what is late, so the page is not for anyone on the internet: the address
carries an HMAC of the partnership under the installation's web secret (the key that
signs the links in emails). Only the business team is given it (`govcal run`, `govcal
serve` and the top of the business team's digest); a forged or altered address reads
as no page at all, and changing the web secret withdraws every address given out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_PARTNERSHIP = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _mac(secret: str, partnership_id: str) -> str:
    digest = hmac.new(secret.encode(), f"cockpit|{partnership_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")[:32]


def cockpit_token(secret: str, partnership_id: str) -> str:
    return f"{partnership_id}.{_mac(secret, partnership_id)}"


def cockpit_url(base: str, secret: str, partnership_id: str) -> str:
    """The address to give the business team; `base` is the web app as people reach it."""
    return f"{base.rstrip('/')}/cockpit/{cockpit_token(secret, partnership_id)}"


def checked_partnership(secret: str, token: str) -> str | None:
    """The partnership if `token` carries our signature, else None."""
    partnership_id, dot, mac = token.rpartition(".")
    if not dot or not _PARTNERSHIP.fullmatch(partnership_id) or len(token) > 120:
        return None
    return partnership_id if hmac.compare_digest(mac, _mac(secret, partnership_id)) else None
