"""One real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts, and who logged in."""

from __future__ import annotations

import ssl
from contextlib import AbstractContextManager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as email_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.ports import free_port


class Inbox(AbstractContextManager["Inbox"]):
    """Accepts every recipient (`refuse`: refuses them all with a 550) and any login.

    Without `tls` it speaks only in clear and takes AUTH in clear too (a relay that would let a
    careless client leak a password). With `tls` (a server context) it offers STARTTLS and
    takes neither mail nor AUTH before it; `implicit_tls`: TLS from the first byte instead.
    Starts listening at once, on `port` or a free one; a context manager, or `close()` it.
    """

    def __init__(
        self,
        refuse: bool = False,
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.messages: list[Envelope] = []
        self.logins: list[LoginPassword] = []
        self.refuse = refuse
        self.port = port or free_port()
        secure: dict[str, Any] = {"auth_require_tls": False}
        if tls is not None and implicit_tls:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; this channel is TLS throughout.
            secure = {"ssl_context": tls, "auth_require_tls": False}
        elif tls is not None:
            secure = {"tls_context": tls, "require_starttls": True, "auth_require_tls": True}
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.authenticate,
            **secure,
        )
        self._controller.start()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins.append(data)
        return AuthResult(success=True)

    def close(self) -> None:
        self._controller.stop()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parsed(envelope: Envelope) -> EmailMessage:
    """The accepted mail as a message."""
    assert isinstance(envelope.content, bytes)
    message = message_from_bytes(envelope.content, policy=email_policy)
    assert isinstance(message, EmailMessage)
    return message
