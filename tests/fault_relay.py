"""A real SMTP relay on 127.0.0.1 (aiosmtpd) that injects one fault where it is told.

STARTTLS with a certificate made for the test (the client trusts it as a private CA)
and AUTH are required, like a production relay, so every stage of a session exists:
connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, after DATA. A Fault names a stage, an
answer (4xx, 5xx, drop the connection, or answer too late for the client) and the
position of the message in the batch it hits. It fires once. For the session stages a
position p > 0 means: the relay closes the link after acknowledging message p-1 (as
relays that limit messages per connection do), and the fault hits the next session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.parser
import ssl
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from tests.smtp_server import free_port

STAGES = ("connect", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "after DATA")
SESSION_STAGES = STAGES[:4]
ANSWERS = ("4xx", "5xx", "drop", "slow")
USER, PASSWORD = "govcal", "relay-Pa55"


@dataclass(frozen=True)
class Fault:
    stage: str
    answer: str
    position: int = 0

    def __str__(self) -> str:
        return f"{self.stage}-{self.answer}-at-{self.position}"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Stored:
    rcpt_tos: list[str]
    data: bytes

    @property
    def message_id(self) -> str:
        """The Message-ID from the headers alone (parsing each whole message with the
        modern policy cost a fifth of this file's tests)."""
        headers = email.parser.BytesHeaderParser(policy=policy.compat32).parsebytes(self.data)
        return "".join(str(headers["Message-ID"]).split())  # unfolded


@dataclass
class Relay:
    """The relay's state: what it stored, and the one fault still to inject."""

    fault: Fault | None = None
    slow: float = 1.5  # seconds: beyond the client's timeout in the tests
    smtputf8: bool = True
    stored: list[Stored] = field(default_factory=list)
    messages_seen: int = 0  # MAIL commands, over every session
    fired: bool = False
    logins_without_tls: int = 0

    def due(self, stage: str, index: int | None = None) -> bool:
        f = self.fault
        if f is None or self.fired or f.stage != stage:
            return False
        if stage in SESSION_STAGES:
            return f.position == 0 or self.messages_seen >= f.position
        return index == f.position

    def copies(self) -> Counter[tuple[str, str]]:
        """How many copies of each (recipient, Message-ID) the relay holds."""
        return Counter((r.lower(), s.message_id) for s in self.stored for r in s.rcpt_tos)

    # --- the handler (aiosmtpd hooks) ---

    async def handle_DATA(self, server, session, envelope):
        index = server.message_index
        stored = Stored(list(envelope.rcpt_tos), bytes(envelope.original_content))
        if self.due("after DATA", index):
            self.fired = True
            answer = self.fault.answer  # type: ignore[union-attr]
            if answer == "4xx":
                return "451 4.3.0 injected: try again later"
            if answer == "5xx":
                return "554 5.6.0 injected: message refused"
            self.stored.append(stored)  # drop and slow: the relay does hold the message
            if answer == "drop":
                server.transport.close()
                return "250 2.0.0 queued (never heard)"
            await asyncio.sleep(self.slow)
            return "250 2.0.0 queued (too late)"
        self.stored.append(stored)
        f = self.fault
        close_after = (
            f is not None
            and not self.fired
            and f.stage in SESSION_STAGES
            and f.position > 0
            and index == f.position - 1
        )
        if close_after:  # the next message needs a new session, where the fault waits
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the 250
        return "250 2.0.0 queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if not session.ssl:
            self.logins_without_tls += 1
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok)


class FaultySMTP(SMTP):
    """aiosmtpd's server, with the relay's fault injected at the stage it names."""

    relay: Relay
    message_index: int = -1

    async def _inject(self, stage: str, index: int | None = None) -> bool:
        relay = self.relay
        if not relay.due(stage, index):
            return False
        relay.fired = True
        answer = relay.fault.answer  # type: ignore[union-attr]
        if answer == "4xx":
            early = stage in ("connect", "EHLO")
            await self.push(
                "421 4.3.2 injected: not available"
                if early
                else "451 4.3.0 injected: try again later"
            )
        elif answer == "5xx":
            await self.push(
                "554 5.3.2 injected: refused"
                if stage == "connect"
                else "550 5.7.1 injected: refused"
            )
        elif answer == "drop":
            assert self.transport is not None
            self.transport.close()
        else:
            await asyncio.sleep(relay.slow)
            return False  # then answer as usual, too late for the client
        return True

    async def _handle_client(self) -> None:
        if await self._inject("connect"):
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def smtp_EHLO(self, hostname: str):
        if not await self._inject("EHLO"):
            await super().smtp_EHLO(hostname)

    async def smtp_STARTTLS(self, arg: str):
        if not await self._inject("STARTTLS"):
            await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if not await self._inject("AUTH"):
            await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg):
        self.message_index = self.relay.messages_seen
        self.relay.messages_seen += 1
        if not await self._inject("MAIL", self.message_index):
            await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        first = self.envelope is not None and not self.envelope.rcpt_tos
        if not (first and await self._inject("RCPT", self.message_index)):
            await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if not await self._inject("DATA", self.message_index):
            await super().smtp_DATA(arg)


class FaultRelayServer(Controller):
    """Start with `start()`, stop with `stop()`; `relay` holds what it stored."""

    def __init__(self, certificate: tuple[Path, Path], relay: Relay | None = None):
        self.relay = relay or Relay()
        self.cert, key = certificate
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert, key)
        self.port = free_port()
        super().__init__(
            self.relay,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls,
            require_starttls=True,
            auth_require_tls=True,
            auth_required=True,
            authenticator=self.relay.authenticate,
            enable_SMTPUTF8=self.relay.smtputf8,
        )

    def factory(self):
        server = FaultySMTP(self.handler, **self.SMTP_kwargs)
        server.relay = self.relay
        return server
