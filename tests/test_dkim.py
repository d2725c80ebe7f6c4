"""Every outgoing message is DKIM-signed for the sender's domain (notifications/dkim.py,
through the `emails` package's signer), and the signature holds as the receiving side
checks it: dkimpy verifies a digest and an invite against the public key, as written to
the file outbox and as received by a real SMTP server."""

from __future__ import annotations

import base64
import email
from datetime import UTC, date, datetime

import dkim
import pytest

from govcal.flows.steps import notify
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Sender
from govcal.notifications.transport import FileOutbox, SmtpSettings, SmtpTransport
from tests.support.paths import SAMPLE_DIRECTORY

DAY = date(2026, 10, 1)
NOW = datetime(2026, 10, 1, 7, tzinfo=UTC)
SENDER = Sender("govcal", "govcal@wfscp.example.org")
SELECTOR = "govcal2026"


@pytest.fixture
def key(tmp_path, monkeypatch):
    """A fresh RSA key: the private half in GOVCAL_DKIM_KEY_FILE, the public half as the
    TXT record a verifier looks up at SELECTOR._domainkey.DOMAIN."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from govcal.models.settings import get_settings

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv("GOVCAL_DKIM_KEY_FILE", str(path))
    monkeypatch.setenv("GOVCAL_DKIM_SELECTOR", SELECTOR)
    monkeypatch.setenv("GOVCAL_MAIL_FROM", SENDER.email)
    monkeypatch.setenv("GOVCAL_MAIL_FROM_NAME", "govcal")
    get_settings.cache_clear()
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def configured_sender(wfscp) -> Sender:
    """The sender a run builds from the settings (flows/runtime.py): it carries the key."""
    from govcal.flows.runtime import build_runtime

    return build_runtime(partnerships=[wfscp]).sender


@pytest.fixture
def sample(tmp_path, wfscp, migrated_copy):
    url = migrated_copy(tmp_path / "govcal.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, DAY)
    return url


def verified(data: bytes, record: bytes) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.wfscp.example.org.".encode()
        return record

    return dkim.verify(data, dnsfunc=dns)


def kinds(messages: list[bytes]) -> dict[str, bytes]:
    """One message of each kind: an invite (a calendar part) and a digest (none)."""
    found = {}
    for data in messages:
        parts = {p.get_content_type() for p in email.message_from_bytes(data).walk()}
        found.setdefault("invite" if "text/calendar" in parts else "digest", data)
    return found


def test_a_digest_and_an_invite_in_the_file_outbox_carry_a_valid_signature(
    tmp_path, sample, wfscp, key
):
    with session_scope(sample) as s:
        sender = configured_sender(wfscp)
        notify(
            s,
            [wfscp],
            DAY,
            FileOutbox(tmp_path / "outbox"),
            sender,
            now=NOW,
            settings=get_settings(),
        )
    written = [p.read_bytes() for p in sorted((tmp_path / "outbox").glob("*.eml"))]
    found = kinds(written)
    assert set(found) == {"invite", "digest"}
    for data in found.values():
        assert data.startswith(b"DKIM-Signature:")
        assert b"d=wfscp.example.org" in data and f"s={SELECTOR}".encode() in data
        assert verified(data, key)
    tampered = found["digest"].replace(b"Subject: ", b"Subject: Re: ", 1)
    assert not verified(tampered, key)  # the check can fail


def test_a_digest_and_an_invite_received_over_smtp_carry_a_valid_signature(
    sample, wfscp, key, smtp
):
    transport = SmtpTransport(SmtpSettings("127.0.0.1", smtp.port, security="none", timeout=5))
    with session_scope(sample) as s:
        notify(
            s, [wfscp], DAY, transport, configured_sender(wfscp), now=NOW, settings=get_settings()
        )
    found = kinds([r.data for r in smtp.recorder.received])
    assert set(found) == {"invite", "digest"}
    for data in found.values():
        assert verified(data, key)


def test_without_a_key_messages_go_unsigned(tmp_path, sample, wfscp):
    with session_scope(sample) as s:
        notify(
            s,
            [wfscp],
            DAY,
            FileOutbox(tmp_path / "outbox"),
            SENDER,
            now=NOW,
            settings=get_settings(),
        )
    written = [p.read_bytes() for p in (tmp_path / "outbox").glob("*.eml")]
    assert written and not any(b"DKIM-Signature" in data for data in written)


def test_a_key_without_a_selector_is_refused_with_one_line(tmp_path, monkeypatch):
    from govcal.models.settings import SettingsError, load_settings

    (tmp_path / "k.pem").write_text("x")
    monkeypatch.setenv("GOVCAL_DKIM_KEY_FILE", str(tmp_path / "k.pem"))
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert refused.value.lines == [
        "GOVCAL_DKIM_KEY_FILE and GOVCAL_DKIM_SELECTOR go together: set both to sign "
        "outgoing mail with DKIM, or neither"
    ]
