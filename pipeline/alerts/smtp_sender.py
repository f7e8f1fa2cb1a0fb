"""``SmtpAlertSender``: alert e-mails over SMTP (smtplib), with STARTTLS or implicit TLS and AUTH.

Blocking: the worker calls it from an executor thread, never on the event loop.

Errors (``pipeline.errors``):

- cannot connect, TLS or login fails, the connection drops, or a 4xx reply -> ``TransientDeliveryError``
  (the deliverer retries later with backoff);
- a 5xx reply to MAIL FROM, RCPT TO or the message itself -> ``PermanentDeliveryError`` (recorded as failed).

A session-level 5xx (a refused login, 530 "must issue STARTTLS first") is a configuration problem, not a
property of the message, so it is transient: the messages wait, the log says why, and they go out once the
setting is fixed (or fail after ``give_up_after_hours``).

Example::

    sender = SmtpAlertSender.from_settings(settings.alerts)
    with sender.session() as smtp:
        reply = smtp.send(message)      # "250 2.0.0 OK ..."
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from pipeline.errors import PermanentDeliveryError, TransientDeliveryError
from pipeline.settings import AlertSettings


class AlertSession(Protocol):
    def send(self, message: EmailMessage) -> str: ...


class AlertSender(Protocol):
    """Something that opens a delivery session; :class:`SmtpAlertSender` is the real one."""

    def session(self) -> AbstractContextManager[AlertSession]: ...


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)


# 5xx replies about the session, not the message: STARTTLS or AUTH required (530), mechanism too weak (534),
# credentials refused (535), encryption required (538). Fixing the settings makes the same message go through.
SESSION_POLICY_CODES = frozenset({530, 534, 535, 538})


def _refusal(step: str, code: int, reply: bytes | str) -> TransientDeliveryError | PermanentDeliveryError:
    text = _reply_text(reply)
    message = f"{step} refused: {code} {text}"
    if code in SESSION_POLICY_CODES:
        return TransientDeliveryError(f"{message} (check alerts.smtp_starttls / smtp_username / smtp_password)",
                                      code=code, reply=text)
    if 500 <= code <= 599:
        return PermanentDeliveryError(message, code=code, reply=text)
    return TransientDeliveryError(message, code=code, reply=text)


class SmtpSession:
    """One SMTP connection; :meth:`send` delivers one message to the recipients in its ``To``."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp

    def send(self, message: EmailMessage) -> str:
        sender = parseaddr(str(message["From"]))[1]
        recipients = [addr for _, addr in getaddresses([str(v) for v in message.get_all("To", [])]) if addr]
        data = message.as_bytes(policy=policy.SMTP)
        try:
            code, reply = self.smtp.mail(sender)
            if code != 250:
                self._reset()
                raise _refusal("MAIL FROM", code, reply)
            for recipient in recipients:
                code, reply = self.smtp.rcpt(recipient)
                if code not in (250, 251):
                    self._reset()
                    raise _refusal(f"RCPT TO <{recipient}>", code, reply)
            code, reply = self.smtp.data(data)
        except smtplib.SMTPDataError as exc:  # the reply to DATA itself was not 354
            self._reset()
            raise _refusal("DATA", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            raise _refusal("SMTP", exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"connection lost while sending: {exc!r}") from None
        if code != 250:
            self._reset()
            raise _refusal("message", code, reply)
        return f"{code} {_reply_text(reply)}"

    def _reset(self) -> None:
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            pass


class SmtpAlertSender:
    def __init__(self, *, host: str, port: int, starttls: bool = False, use_ssl: bool = False,
                 username: str | None = None, password: SecretStr | None = None, ca_certs: Path | None = None,
                 timeout_s: float = 30.0, local_hostname: str | None = None) -> None:
        self.host = host
        self.port = port
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.username = username
        self.password = password
        self.ca_certs = ca_certs
        self.timeout_s = timeout_s
        self.local_hostname = local_hostname

    @classmethod
    def from_settings(cls, rules: AlertSettings) -> SmtpAlertSender:
        return cls(host=rules.smtp_host, port=rules.smtp_port, starttls=rules.smtp_starttls,
                   use_ssl=rules.smtp_ssl, username=rules.smtp_username, password=rules.smtp_password,
                   ca_certs=rules.smtp_ca_certs, timeout_s=rules.smtp_timeout_s)

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_certs) if self.ca_certs else None)

    def _connect(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                        timeout=self.timeout_s, context=self._tls_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                    timeout=self.timeout_s)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if self.username:
                password = self.password.get_secret_value() if self.password else ""
                smtp.login(self.username, password)
        except smtplib.SMTPResponseException as exc:
            _quit(smtp)
            raise TransientDeliveryError(f"SMTP session with {where} refused: {exc.smtp_code} "
                                         f"{_reply_text(exc.smtp_error)}", code=exc.smtp_code,
                                         reply=_reply_text(exc.smtp_error)) from None
        except (smtplib.SMTPException, OSError) as exc:
            _quit(smtp)
            raise TransientDeliveryError(f"cannot open an SMTP session with {where}: {exc!r}") from None
        return smtp

    @contextmanager
    def session(self) -> Iterator[SmtpSession]:
        """An open, authenticated connection (raises ``TransientDeliveryError`` when none can be had)."""
        smtp = self._connect()
        try:
            yield SmtpSession(smtp)
        finally:
            _quit(smtp)


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
