"""A small IMAP4rev1 server (RFC 3501) on 127.0.0.1 for the IMAP collector's tests.

It speaks the real protocol for what a read-only poller uses: the greeting, CAPABILITY, LOGIN, SELECT /
EXAMINE (with EXISTS, UIDVALIDITY, UIDNEXT), UID SEARCH with a UID range, UID FETCH BODY.PEEK[] (a literal),
NOOP and LOGOUT. Messages are held in memory with their UIDs; ``uidvalidity`` can be changed to simulate a
rebuilt mailbox.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field


@dataclass
class Mailbox:
    uidvalidity: int = 7
    messages: list[tuple[int, bytes]] = field(default_factory=list)
    next_uid: int = 1

    def append(self, raw: bytes) -> int:
        uid = self.next_uid
        self.messages.append((uid, raw))
        self.next_uid += 1
        return uid


def _parse_args(text: str) -> list[str]:
    return [a[1:-1].replace('\\"', '"') if a.startswith('"') else a
            for a in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', text)]


class ImapServer:
    def __init__(self, *, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.mailboxes = {"INBOX": Mailbox()}
        self.commands: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(line: str | bytes) -> None:
            writer.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] test server ready")
        authed, selected = False, None
        while True:
            line = await reader.readline()
            if not line:
                break
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            self.commands.append(f"{command} {args}".strip() if command != "LOGIN" else "LOGIN")
            if command == "CAPABILITY":
                send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                send(f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                send(f"{tag} OK NOOP completed")
            elif command == "LOGIN":
                user, password = _parse_args(args)
                authed = (user, password) == (self.username, self.password)
                send(f"{tag} OK LOGIN completed" if authed else f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            elif command in {"SELECT", "EXAMINE"} and authed:
                name = _parse_args(args)[0]
                box = self.mailboxes.get(name)
                if box is None:
                    send(f"{tag} NO [NONEXISTENT] no such mailbox")
                    continue
                selected = box
                send(f"* {len(box.messages)} EXISTS")
                send("* 0 RECENT")
                send(r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
                send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
                send(f"* OK [UIDNEXT {box.next_uid}] Predicted next UID")
                send(f"{tag} OK [{'READ-ONLY' if command == 'EXAMINE' else 'READ-WRITE'}] {command} completed")
            elif command == "UID" and selected is not None:
                sub, _, sub_args = args.partition(" ")
                sub = sub.upper()
                if sub == "SEARCH":
                    match = re.fullmatch(r"UID (\d+):(\*|\d+)", sub_args.strip(), re.IGNORECASE)
                    assert match, sub_args
                    low = int(match.group(1))
                    uids = [u for u, _ in selected.messages]
                    high = max(uids) if match.group(2) == "*" and uids else int(match.group(2) if match.group(2) != "*" else 0)
                    # RFC 3501: n:* includes the highest UID even when n is larger than it.
                    found = [u for u in uids if min(low, high) <= u <= max(low, high)]
                    send("* SEARCH" + "".join(f" {u}" for u in found))
                    send(f"{tag} OK UID SEARCH completed")
                elif sub == "FETCH":
                    uid_text, _, items = sub_args.partition(" ")
                    assert "BODY.PEEK[]" in items.upper(), items
                    for seq, (uid, raw) in enumerate(selected.messages, start=1):
                        if str(uid) == uid_text:
                            writer.write(f"* {seq} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
                    send(f"{tag} OK UID FETCH completed")
                else:
                    send(f"{tag} BAD unsupported UID command")
            elif command == "LOGOUT":
                send("* BYE logging out")
                send(f"{tag} OK LOGOUT completed")
                await writer.drain()
                break
            else:
                send(f"{tag} BAD command unknown or not allowed in this state")
            await writer.drain()
        writer.close()

    def __enter__(self) -> ImapServer:
        self._thread.start()

        async def start() -> asyncio.AbstractServer:
            return await asyncio.start_server(self._session, "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
