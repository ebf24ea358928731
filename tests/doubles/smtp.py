"""A local SMTP server (aiosmtpd, real SMTP on a socket) for Django's SMTP email backend in tests.

It stores every accepted message, and can be told to answer a recipient with an SMTP reply code instead
(``550 5.1.1`` a mailbox that does not exist: a bounce; ``451 4.3.0`` try later: a deferral), optionally only for
the next ``times`` attempts, the way real mail servers defer and refuse.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class _Rule:
    reply: str
    times: int | None  # None: always


@dataclass
class SmtpState:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rules: dict[str, _Rule] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, state: SmtpState) -> None:
        self.state = state

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        with self.state.lock:
            rule = self.state.rules.get(address.lower())
            if rule is not None and (rule.times is None or rule.times > 0):
                if rule.times is not None:
                    rule.times -= 1
                return rule.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.state.lock:
            self.state.messages.append(message)
            self.state.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted for delivery"


class SmtpDouble:
    def __init__(self) -> None:
        self.state = SmtpState()
        with socket.socket() as probe:  # a free port
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(_Handler(self.state), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpDouble:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.state.lock:
            return list(self.state.messages)

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user here", *, times: int | None = None) -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (always, or for the next ``times`` attempts)."""
        with self.state.lock:
            self.state.rules[address.lower()] = _Rule(reply=reply, times=times)

    def defer(self, address: str, *, times: int = 1) -> None:
        self.refuse(address, "451 4.3.0 Mailbox temporarily unavailable, try again later", times=times)
