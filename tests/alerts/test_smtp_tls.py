"""SMTP with STARTTLS and AUTH against a real aiosmtpd server that requires both (self-signed cert, own CA)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.alerts.emails import AlertRenderer, build_message, new_message_id
from pipeline.alerts.mail_catcher import MailCatcher, password_authenticator
from pipeline.alerts.rules import summarise
from pipeline.alerts.smtp_sender import SmtpAlertSender
from pipeline.errors import TransientDeliveryError
from pipeline.settings import AlertSettings
from tests.alerts.factories import classified


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


def _message(to: str):
    rules = AlertSettings()
    item = classified("IMS manager shouting at staff again", labels=["harassment"], risk=80)
    rendered = AlertRenderer(rules).immediate(summarise(item, rules), recipient=to)
    return build_message(rendered, from_address=rules.from_address, to=to,
                         message_id=new_message_id(rules.from_address), date=datetime.now(UTC),
                         alert_id=f"immediate:{item.mention.mention_id}", kind="immediate")


def test_starttls_and_login_then_delivery(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with MailCatcher(tmp_path, tls_context=server_tls, require_starttls=True,
                     authenticator=password_authenticator("alerts", "s3cret")) as catcher:
        plain = SmtpAlertSender(host="127.0.0.1", port=catcher.port, timeout_s=5)
        with pytest.raises(TransientDeliveryError):  # the server insists on STARTTLS first
            with plain.session() as session:
                session.send(_message("hr@ims.example"))

        wrong = SmtpAlertSender(host="127.0.0.1", port=catcher.port, starttls=True, username="alerts",
                                password=SecretStr("guess"), ca_certs=cert, timeout_s=5)
        with pytest.raises(TransientDeliveryError, match="535"):  # a refused login is not the message's fault
            with wrong.session():
                pass

        sender = SmtpAlertSender(host="127.0.0.1", port=catcher.port, starttls=True, username="alerts",
                                 password=SecretStr("s3cret"), ca_certs=cert, timeout_s=5)
        with sender.session() as session:
            reply = session.send(_message("hr@ims.example"))
        assert reply.startswith("250 ")
        received = catcher.wait_for(1)
        assert [str(m["To"]) for m in received] == ["hr@ims.example"]


def test_untrusted_certificate_is_refused(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with MailCatcher(tmp_path, tls_context=server_tls, require_starttls=True) as catcher:
        sender = SmtpAlertSender(host="127.0.0.1", port=catcher.port, starttls=True, timeout_s=5)
        with pytest.raises(TransientDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            with sender.session():
                pass
    assert catcher.files() == []
