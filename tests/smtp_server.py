"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts.

It can refuse chosen addresses (550), be stopped and started again on the same port
(an outage), drop the connection after N messages (a flaky link), answer each message
slowly (or hold it, then answer late), and SIGKILL the sending process while a message
is in flight (a crash).
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    session_id: int

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)  # answered "try again later" (450)
    drop_after: int | None = None  # close the connection after this many messages
    sessions: set[int] = field(default_factory=set)
    delay: float = 0.0  # seconds before answering each message (a slow relay)
    late: float = 0.0  # seconds between holding each message and answering it
    kill_at: int | None = None  # SIGKILL `victim` when this many messages are in
    victim: int | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if address.lower() in self.defer:
            return "450 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.kill_at is not None and self.victim and len(self.received) >= self.kill_at:
            self.kill_at = None
            os.kill(self.victim, signal.SIGKILL)  # the sender dies before hearing "250"
            return "451 4.3.0 sender gone"
        if self.drop_after is not None and len(self.received) >= self.drop_after:
            self.drop_after = None
            server.transport.close()  # the link drops before the message is accepted
            return "421 closing"
        self.sessions.add(id(session))
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, id(session))
        )
        if self.late:  # held already: a sender that stops waiting has it sent all the same
            await asyncio.sleep(self.late)
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    def digest_to(self, address: str) -> str:
        """The plain-text body of the one digest sent to an address."""
        [digest] = [r for r in self.to(address) if "digest" in r.message["Message-ID"]]
        return digest.message.get_body(("plain",)).get_content()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
