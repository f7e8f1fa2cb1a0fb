"""``MailCatcher``: a local SMTP server (aiosmtpd) that keeps every message it receives as an ``.eml`` file.

The demo points the alert sender at it so a new user can read exactly what HR would get; the tests use it as
the real SMTP server on loopback. It can also behave like a picky server: refuse some recipients with a 5xx,
answer the first messages with a 451, require STARTTLS and AUTH.

Run it on its own with ``ims-monitor alerts mailcatcher --port 1025 --dir ./mail``.

Example::

    with MailCatcher(Path("mail")) as catcher:           # 127.0.0.1, a free port
        print(catcher.port)
        ...
        catcher.messages()                               # [EmailMessage, ...] in arrival order
"""

from __future__ import annotations

import email
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MailCatcherHandler:
    """aiosmtpd handler: writes each message to ``folder`` as ``<time>-<n>.eml`` (atomically)."""

    def __init__(self, folder: Path, *, reject_recipients: Iterable[str] = (), temporary_failures: int = 0) -> None:
        self.folder = folder
        self.reject_recipients = {r.lower() for r in reject_recipients}
        self.temporary_failures = temporary_failures
        self._count = 0
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.reject_recipients:
            return f"550 5.1.1 <{address}>: recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                return "451 4.3.0 mail catcher: temporary failure, try again later"
            self._count += 1
            n = self._count
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        name = f"{stamp}-{n:05d}.eml"
        head = (f"X-Envelope-From: <{envelope.mail_from}>\r\n"
                f"X-Envelope-To: {', '.join(f'<{r}>' for r in envelope.rcpt_tos)}\r\n").encode()
        content = envelope.original_content or b""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(head + content)
        tmp.replace(self.folder / name)
        return f"250 2.0.0 OK: queued as {name}"


def password_authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator accepting exactly one username and password (LOGIN/PLAIN)."""

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == username.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)

    return authenticate


class MailCatcher:
    def __init__(self, folder: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 reject_recipients: Iterable[str] = (), temporary_failures: int = 0,
                 tls_context: ssl.SSLContext | None = None, require_starttls: bool = False,
                 authenticator: Callable[..., AuthResult] | None = None) -> None:
        self.folder = folder
        self.host = host
        self.port = port or free_port(host)
        self.handler = MailCatcherHandler(folder, reject_recipients=reject_recipients,
                                          temporary_failures=temporary_failures)
        smtp_options: dict[str, Any] = {"require_starttls": require_starttls, "auth_require_tls": True}
        if tls_context is not None:
            smtp_options["tls_context"] = tls_context
        if authenticator is not None:
            smtp_options.update(authenticator=authenticator, auth_required=True)
        self._smtp_options = smtp_options
        self._controller: Controller | None = None

    def start(self) -> MailCatcher:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        self.folder.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(self.handler, hostname=self.host, port=self.port, **self._smtp_options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        return [read_eml(path) for path in self.files()]

    def wait_for(self, count: int, *, timeout_s: float = 30.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout_s
        while len(self.files()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages()


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message
