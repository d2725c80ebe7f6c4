"""DKIM signatures (RFC 6376) on every outgoing message, with the `emails` package's
signer (dkimpy underneath): the government's email security standard asks public-sector
senders for DKIM, SPF and DMARC.

Configured by GOVCAL_DKIM_KEY_FILE (the private key, PEM) and GOVCAL_DKIM_SELECTOR;
the signing domain is the sender's (the From address's domain), so DMARC aligns. With
neither set, messages go unsigned (the relay may sign them instead). Relaxed
canonicalisation of headers and body: a relay that re-folds a header or rewrites line
ends does not break the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govcal.models.settings import Settings, SettingsError

CANONICALIZE = (b"relaxed", b"relaxed")


class DkimKeyUnusable(SettingsError):
    """GOVCAL_DKIM_KEY_FILE cannot be read as a private key."""


@dataclass(frozen=True, slots=True)
class DkimKey:
    """The private key and its DNS selector, as the settings name them."""

    key_file: Path
    selector: str

    @classmethod
    def of(cls, settings: Settings) -> DkimKey | None:
        """The key the settings configure, or None: messages go unsigned."""
        if settings.dkim_key_file and settings.dkim_selector:
            return cls(settings.dkim_key_file, settings.dkim_selector)
        return None


def sign(data: bytes, sender_email: str, key: DkimKey | None) -> bytes:
    """The message with a DKIM-Signature header first, when a key is given."""
    if key is None:
        return data
    domain = sender_email.rpartition("@")[2].lower()
    return _signer(key.key_file, key.selector, domain).sign_message_bytes(data)


@lru_cache(maxsize=8)
def _signer(key_file: Path, selector: str, domain: str):
    from emails.signers import DKIMSigner

    try:
        key = key_file.read_bytes()
        return DKIMSigner(selector=selector, domain=domain, key=key, canonicalize=CANONICALIZE)
    except Exception as exc:  # dkimpy's DKIMException, or an unreadable file
        raise DkimKeyUnusable(
            [
                f"GOVCAL_DKIM_KEY_FILE='{key_file}' is not a usable private key "
                f"({type(exc).__name__}); name a PEM RSA or Ed25519 key, or unset it"
            ]
        ) from None
