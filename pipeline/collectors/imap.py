"""``ImapMailboxCollector``: email forwarded or journaled to a compliance mailbox, over IMAP4rev1.

Each poll logs in, ``EXAMINE``s the mailbox (read-only: nothing is marked seen or moved), runs
``UID SEARCH UID <last+1>:*`` and ``UID FETCH <uid> (BODY.PEEK[])`` for up to ``batch_size`` messages,
then logs out. The cursor is ``{"uidvalidity", "last_uid"}``; if the server's UIDVALIDITY changes (the
mailbox was rebuilt) the mailbox is read again from the start and the Message-ID based mention ids plus the
runner's seen-ids keep re-delivered messages out. Runs ``imaplib`` in a thread, off the event loop.

A message becomes a mention with ``source: email``, ``source_id`` = its Message-ID, the From address as the
author handle (so employees' declared addresses link), Date as ``created_at``, Subject + the text body.

YAML::

    - name: compliance-mailbox
      type: imap
      host: imap.example.co.uk
      port: 993
      ssl: true
      username: social-compliance@ims.example.co.uk
      secrets: {password: IMS_COMPLIANCE_IMAP_PASSWORD}
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import imaplib
import re
import ssl as ssl_module
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from pydantic import Field

from pipeline.collectors.base import Cursor, Page, PollSource, SourceOptions, build_mention, html_to_text
from pipeline.collectors.errors import SourceRequestError


class ImapOptions(SourceOptions):
    host: str
    port: int = 993
    ssl: bool = True
    starttls: bool = False
    username: str
    mailbox: str = "INBOX"
    batch_size: int = Field(default=50, ge=1, le=1000)
    max_body_chars: int = Field(default=20_000, ge=100)


class ImapMailboxCollector(PollSource):
    network = "email"
    Options = ImapOptions
    options: ImapOptions
    required_secrets = ("password",)

    def channels(self) -> list[str]:
        return [self.options.mailbox]

    def initial_cursor(self, channel: str) -> Cursor:
        return {"uidvalidity": None, "last_uid": 0}

    async def fetch(self, channel: str, cursor: Cursor, *, timeout_s: float) -> Page:
        return await asyncio.get_running_loop().run_in_executor(None, self._fetch, channel, cursor, timeout_s)

    def _connect(self, timeout_s: float) -> imaplib.IMAP4:
        if self.options.ssl:
            return imaplib.IMAP4_SSL(self.options.host, self.options.port, timeout=timeout_s,
                                     ssl_context=ssl_module.create_default_context())
        conn = imaplib.IMAP4(self.options.host, self.options.port, timeout=timeout_s)
        if self.options.starttls:
            conn.starttls(ssl_module.create_default_context())
        return conn

    def _fetch(self, mailbox: str, cursor: Cursor, timeout_s: float) -> Page:
        conn = self._connect(timeout_s)
        try:
            try:
                conn.login(self.options.username, self.secret("password") or "")
            except imaplib.IMAP4.error as exc:
                raise SourceRequestError(f"IMAP login refused: {exc}") from exc
            status, _ = conn.select(_quote(mailbox), readonly=True)
            if status != "OK":
                raise SourceRequestError(f"IMAP mailbox {mailbox!r} cannot be opened")
            uidvalidity = int((conn.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
            last_uid = int(cursor.get("last_uid") or 0) if cursor.get("uidvalidity") == uidvalidity else 0
            status, data = conn.uid("SEARCH", f"UID {last_uid + 1}:*")
            if status != "OK":
                raise SourceRequestError(f"IMAP UID SEARCH failed: {data!r}")
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last_uid)
            batch = uids[:self.options.batch_size]
            mentions = []
            for uid in batch:
                status, parts = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple)), None) if status == "OK" else None
                if raw is None:
                    raise SourceRequestError(f"IMAP UID FETCH {uid} returned no message")
                mentions.append(self._mention(raw, uidvalidity=uidvalidity, uid=uid))
            next_cursor = {"uidvalidity": uidvalidity, "last_uid": batch[-1] if batch else last_uid}
            return Page(mentions=mentions, cursor=next_cursor, more=len(uids) > len(batch))
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def _mention(self, raw: bytes, *, uidvalidity: int, uid: int) -> dict[str, Any]:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message_id = (message.get("Message-ID") or "").strip().strip("<>")
        source_id = message_id or f"{self.options.username}/{uidvalidity}/{uid}/" + hashlib.sha256(raw).hexdigest()[:16]
        name, address = parseaddr(str(message.get("From") or ""))
        try:
            created = parsedate_to_datetime(str(message.get("Date"))) if message.get("Date") else None
        except (TypeError, ValueError):
            created = None
        subject = str(message.get("Subject") or "")
        body = _body_text(message)[:self.options.max_body_chars]
        return build_mention(
            source=self.network, source_id=source_id, text=f"{subject}\n\n{body}".strip(), created_at=created,
            author_handle=address.lower() or name, author_name=name or None,
            lang=str(message.get("Content-Language") or "") or None,
        )


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return html_to_text(text) if part.get_content_subtype() == "html" else re.sub(r"\r\n?", "\n", text).strip()


def _quote(mailbox: str) -> str:
    return mailbox if re.fullmatch(r"[A-Za-z0-9_./-]+", mailbox) else '"' + mailbox.replace('"', '\\"') + '"'
