"""The IMAP collector against a local IMAP4rev1 server: read-only polling by UID, restart, UIDVALIDITY."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from pipeline.collectors.employees import EmployeeRegistry
from pipeline.collectors.imap import ImapMailboxCollector
from tests.collectors.helpers import FAST, ids, make_source, run_once, sqlite_store
from tests.collectors.imap_server import ImapServer


def _message(n: int, *, sender: str = "Jane Doe <Jane.Doe@ims.example>", html: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "social-compliance@ims.example"
    message["Subject"] = f"Fwd: post about IMS #{n}"
    message["Date"] = f"Fri, 20 Nov 2026 1{n % 10}:00:00 +0100"
    message["Message-ID"] = f"<msg-{n}@mail.ims.example>"
    if html:
        message.set_content("plain fallback")
        message.add_alternative(f"<p>Forwarded <b>IMS</b> post {n}</p>", subtype="html")
    else:
        message.set_content(f"Forwarded IMS post {n}\n")
    return message.as_bytes()


def _source(port: int) -> ImapMailboxCollector:
    source = make_source(ImapMailboxCollector, base_url=None, name="mailbox", secrets={"password": "p@ss word"},
                         host="127.0.0.1", port=port, ssl=False, username="compliance", batch_size=2)
    assert isinstance(source, ImapMailboxCollector)
    return source


def test_messages_become_mentions_in_uid_order_across_restarts(tmp_path: Path) -> None:
    with ImapServer(username="compliance", password="p@ss word") as server:
        inbox = server.mailboxes["INBOX"]
        for n in range(1, 4):
            inbox.append(_message(n, html=n == 2))
        registry = EmployeeRegistry.from_csv_text("employee_id,network,handle\nE5,email,jane.doe@ims.example\n")
        first, _ = run_once(_source(server.port), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1),
                            employees=registry)
        rest, health = run_once(_source(server.port), store=sqlite_store(tmp_path))
        inbox.append(_message(4, sender="someone@example.org"))
        newer, _ = run_once(_source(server.port), store=sqlite_store(tmp_path))
        nothing, _ = run_once(_source(server.port), store=sqlite_store(tmp_path))
        inbox.uidvalidity = 8  # the mailbox was rebuilt: UIDs start again, Message-IDs do not change
        after_rebuild, _ = run_once(_source(server.port), store=sqlite_store(tmp_path))
        commands = list(server.commands)
    assert ids(first) == ["msg-1@mail.ims.example", "msg-2@mail.ims.example"]
    assert ids(rest) == ["msg-3@mail.ims.example"] and ids(newer) == ["msg-4@mail.ims.example"]
    assert nothing == [] and health["status"] == "ok"
    assert len(after_rebuild) == 0  # all four re-read, none re-emitted
    mail = first[0]
    assert mail["source"] == "email" and mail["mention_id"] == "email:msg-1@mail.ims.example"
    assert mail["text"] == "Fwd: post about IMS #1\n\nForwarded IMS post 1"
    assert mail["author"] == {"handle": "jane.doe@ims.example", "display_name": "Jane Doe", "is_employee": True,
                              "employee_id": "E5"}
    assert mail["created_at"] == "2026-11-20T10:00:00.000000Z"
    assert first[1]["text"] == "Fwd: post about IMS #2\n\nplain fallback"
    assert "EXAMINE INBOX" in commands and "UID SEARCH UID 3:*" in commands and "UID SEARCH UID 5:*" in commands
    assert not any(c.startswith("SELECT") or "STORE" in c for c in commands)  # read-only


def test_wrong_password_is_reported() -> None:
    with ImapServer(username="compliance", password="other") as server:
        mentions, health = run_once(_source(server.port))
    assert mentions == [] and health["status"] == "failing" and "login refused" in health["last_error"]
